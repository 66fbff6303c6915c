"""Two nodes on one Redis: a message sent on one node reaches the device's link on the
other, and each node sees which devices the other holds (``RedisPresence``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from gridlinks.bootstrap import Platform
from gridlinks.delivery.links import LocalLinks
from gridlinks.delivery.messages import AttributePush, CloseConnection, RpcCall
from gridlinks.delivery.presence import PREFIX, RedisPresence
from tests.integration.delivery.links import RecordingLink

pytestmark = pytest.mark.redis
POLL_SECONDS = 0.02


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the test's own, to look at Redis."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    """Until ``check()`` is true (presence is written by a background task)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {seconds:g} s")
        await asyncio.sleep(POLL_SECONDS)


def online(node: Platform, device: uuid.UUID, expected: bool) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await node.delivery.online(device) is expected

    return check


async def test_a_message_sent_on_node_b_reaches_the_link_on_node_a(
    nodes: list[Platform],
) -> None:
    node_a, node_b = nodes
    device, link = uuid.uuid4(), RecordingLink()
    node_a.delivery.links.register(device, link)
    call = RpcCall(device, 4, "setMode", {"mode": "eco"}, rpc_id=uuid.uuid4(), expires_at=10**13)
    assert await node_b.delivery.send(call) is False  # not taken on B: handed to the bus
    assert await link.next() == call
    await asyncio.sleep(0.2)
    assert link.offered.empty()  # exactly once


async def test_a_push_and_a_close_from_node_b_reach_node_a_in_order(
    nodes: list[Platform],
) -> None:
    node_a, node_b = nodes
    device, link = uuid.uuid4(), RecordingLink()
    node_a.delivery.links.register(device, link)
    push, close = AttributePush(device, {"fw": "2.1"}), CloseConnection(device, "credentials")
    await node_b.delivery.send(push)
    await node_b.delivery.send(close)
    assert [await link.next(), await link.next()] == [push, close]


async def test_a_close_is_also_sent_to_other_nodes_holding_the_device(
    nodes: list[Platform],
) -> None:
    node_a, node_b = nodes
    device, on_a, on_b = uuid.uuid4(), RecordingLink(), RecordingLink()
    node_a.delivery.links.register(device, on_a)
    node_b.delivery.links.register(device, on_b)
    close = CloseConnection(device, "deleted")
    assert await node_b.delivery.send(close) is True
    assert await on_a.next() == close
    await asyncio.sleep(0.2)
    assert on_b.offered.qsize() == 1  # B's own message is not handed to B twice


async def test_a_message_for_a_device_nobody_holds_is_lost_quietly(
    nodes: list[Platform],
) -> None:
    node_a, node_b = nodes
    bystander = RecordingLink()
    node_a.delivery.links.register(uuid.uuid4(), bystander)
    assert await node_b.delivery.send(RpcCall(uuid.uuid4(), 1, "reboot")) is False
    await asyncio.sleep(0.2)
    assert bystander.offered.empty()


async def test_a_device_connected_to_node_a_is_online_from_node_b(
    nodes: list[Platform],
) -> None:
    node_a, node_b = nodes
    device = uuid.uuid4()
    assert await node_b.delivery.online(device) is False
    remove = node_a.delivery.links.register(device, RecordingLink())
    await eventually(online(node_b, device, True))
    remove()
    await eventually(online(node_b, device, False))


async def test_closing_node_a_takes_its_devices_offline_for_node_b(
    nodes: list[Platform], redis: Redis
) -> None:
    node_a, node_b = nodes
    devices = [uuid.uuid4() for _ in range(3)]
    for device in devices:
        node_a.delivery.links.register(device, RecordingLink())
    await eventually(online(node_b, devices[-1], True))
    assert await redis.get(PREFIX + str(devices[0])) == node_a.delivery.node_id
    await node_a.close()
    for device in devices:
        assert await node_b.delivery.online(device) is False


# --- expiry: RedisPresence on its own, with a short time to live -----------------------------


@pytest.fixture
async def short_lived(redis_url: str) -> AsyncIterator[tuple[LocalLinks, RedisPresence]]:
    links, client = LocalLinks(), Redis.from_url(redis_url)
    presence = RedisPresence(client, links, uuid.uuid4().hex, ttl_seconds=1)
    await presence.start()
    try:
        yield links, presence
    finally:
        await presence.close()
        await client.aclose()  # the presence uses a client it does not own


@pytest.fixture
async def onlooker(redis_url: str) -> AsyncIterator[RedisPresence]:
    """Another node's presence (holding no devices), never started: it only asks."""
    client = Redis.from_url(redis_url)
    presence = RedisPresence(client, LocalLinks(), "onlooker", ttl_seconds=1)
    try:
        yield presence
    finally:
        await presence.close()
        await client.aclose()


def the_presence_writer() -> asyncio.Task[None]:
    """The running presence writer task (each test starts its own, on its own loop)."""
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "gridlinks-presence"]
    assert len(tasks) == 1, "one presence writer per test"
    return tasks[0]


async def test_presence_keys_carry_the_time_to_live(
    short_lived: tuple[LocalLinks, RedisPresence], redis: Redis
) -> None:
    links, _presence = short_lived
    device = uuid.uuid4()
    links.register(device, RecordingLink())

    async def written() -> bool:
        return bool(await redis.exists(PREFIX + str(device)))

    await eventually(written)
    assert 0 < await redis.pttl(PREFIX + str(device)) <= 1000


@pytest.mark.slow
async def test_a_live_node_keeps_its_devices_online_past_the_time_to_live(
    short_lived: tuple[LocalLinks, RedisPresence], onlooker: RedisPresence
) -> None:
    links, _presence = short_lived
    device = uuid.uuid4()
    links.register(device, RecordingLink())
    await eventually(lambda: onlooker.online(device))
    await asyncio.sleep(2.5)
    assert await onlooker.online(device) is True


@pytest.mark.slow
async def test_the_devices_of_a_node_that_stopped_refreshing_expire(
    short_lived: tuple[LocalLinks, RedisPresence], onlooker: RedisPresence
) -> None:
    links, _presence = short_lived
    device = uuid.uuid4()
    links.register(device, RecordingLink())
    await eventually(lambda: onlooker.online(device))
    the_presence_writer().cancel()  # the node hangs or dies: no refresh, no clean-up

    async def gone() -> bool:
        return not await onlooker.online(device)

    await eventually(gone, seconds=3.0)


async def test_a_device_that_moved_to_node_b_stays_online_when_node_a_drops_it(
    nodes: list[Platform], redis: Redis
) -> None:
    node_a, node_b = nodes
    device = uuid.uuid4()

    def held_by(node: Platform) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await redis.get(PREFIX + str(device)) == node.delivery.node_id

        return check

    stale = node_a.delivery.links.register(device, RecordingLink())
    await eventually(held_by(node_a))
    node_b.delivery.links.register(device, RecordingLink())  # the device reconnected to B
    await eventually(held_by(node_b))
    stale()  # A notices only now that its old connection is gone
    await asyncio.sleep(0.3)  # A's presence writer has run
    assert await node_a.delivery.online(device) is True
