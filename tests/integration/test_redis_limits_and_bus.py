"""``RedisRateLimiter`` and ``RedisBus`` against a real Redis (``GRIDLINKS_TEST_REDIS_URL``).

Each test uses its own key names and its own channel (a uuid), so runs in parallel do not meet.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gridlinks.bus.base import Event, EventHandler
from gridlinks.bus.redis import RedisBus
from gridlinks.errors import ServiceUnavailableError
from gridlinks.kit.clock import FixedClock
from gridlinks.limits.redis import PREFIX, RedisRateLimiter

REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
MINUTE_START_MS = 1_700_000_040_000  # a multiple of 60 000: a minute window starts here
POLL_SECONDS = 0.01
POLLS = 500  # 5 s


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis tests: set {REDIS_ENV} (CI uses redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def redis(redis_url: str, unique: str) -> AsyncIterator[Redis]:
    """A client of the test's own, to look at Redis; it deletes the test's keys afterwards."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        names = [name async for name in client.scan_iter(match=f"*{unique}*")]
        if names:
            await client.delete(*names)
        await client.aclose()


# --- rate limiter ----------------------------------------------------------------------------
LimiterFactory = Callable[[], RedisRateLimiter]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MINUTE_START_MS)


@pytest.fixture
async def create_limiter(
    redis_url: str, redis: Redis, clock: FixedClock
) -> AsyncIterator[LimiterFactory]:
    """Limiters as on separate nodes: each with its own client, all on one clock."""
    made: list[RedisRateLimiter] = []

    def create() -> RedisRateLimiter:
        made.append(RedisRateLimiter(Redis.from_url(redis_url), clock))
        return made[-1]

    yield create
    for limiter in made:
        await limiter.close()


async def hits(
    limiter: RedisRateLimiter, key: str, count: int, limit: int, window: int
) -> list[int]:
    return [await limiter.hit(key, limit, window) for _ in range(count)]


@pytest.mark.redis
async def test_redis_allows_hits_up_to_the_limit(
    create_limiter: LimiterFactory, unique: str
) -> None:
    assert await hits(create_limiter(), f"user-{unique}", 3, limit=3, window=60) == [0, 0, 0]


@pytest.mark.redis
async def test_redis_hit_over_the_limit_waits_until_the_oldest_hit_leaves_the_window(
    create_limiter: LimiterFactory, clock: FixedClock, unique: str
) -> None:
    limiter = create_limiter()
    await hits(limiter, f"user-{unique}", 2, limit=2, window=60)
    clock.advance(15_500)
    assert await limiter.hit(f"user-{unique}", 2, 60) == 45


@pytest.mark.redis
async def test_redis_hits_free_up_as_they_leave_the_window(
    create_limiter: LimiterFactory, clock: FixedClock, unique: str
) -> None:
    limiter = create_limiter()
    await hits(limiter, f"user-{unique}", 3, limit=2, window=60)
    clock.advance(59_999)
    assert await limiter.hit(f"user-{unique}", 2, 60) == 1
    clock.advance(1)
    assert await hits(limiter, f"user-{unique}", 3, limit=2, window=60) == [0, 0, 60]


@pytest.mark.redis
async def test_redis_zero_limit_refuses_the_first_hit(
    create_limiter: LimiterFactory, unique: str
) -> None:
    assert await create_limiter().hit(f"user-{unique}", 0, 60) == 60


@pytest.mark.redis
async def test_redis_keys_are_counted_apart(create_limiter: LimiterFactory, unique: str) -> None:
    limiter = create_limiter()
    await hits(limiter, f"user-1-{unique}", 5, limit=2, window=60)
    assert await hits(limiter, f"user-2-{unique}", 2, limit=2, window=60) == [0, 0]


@pytest.mark.redis
async def test_redis_one_key_in_different_window_sizes_is_counted_apart(
    create_limiter: LimiterFactory, unique: str
) -> None:
    limiter = create_limiter()
    await hits(limiter, f"device-{unique}", 5, limit=2, window=60)
    assert await hits(limiter, f"device-{unique}", 2, limit=2, window=3600) == [0, 0]


@pytest.mark.redis
async def test_two_nodes_share_one_count(create_limiter: LimiterFactory, unique: str) -> None:
    node_a, node_b = create_limiter(), create_limiter()
    assert await hits(node_a, f"user-{unique}", 2, limit=3, window=60) == [0, 0]
    assert await hits(node_b, f"user-{unique}", 2, limit=3, window=60) == [0, 60]
    assert await node_a.hit(f"user-{unique}", 3, 60) == 60


@pytest.mark.redis
async def test_concurrent_hits_from_two_nodes_are_all_counted(
    create_limiter: LimiterFactory, unique: str
) -> None:
    node_a, node_b = create_limiter(), create_limiter()
    results = await asyncio.gather(
        *(node.hit(f"user-{unique}", 10, 60) for node in [node_a, node_b] * 10)
    )
    assert sorted(results) == [0] * 10 + [60] * 10


@pytest.mark.redis
async def test_log_expires_a_window_after_its_newest_hit(
    create_limiter: LimiterFactory, redis: Redis, unique: str
) -> None:
    await create_limiter().hit(f"user-{unique}", 5, 60)
    names = [name async for name in redis.scan_iter(match=f"{PREFIX}*{unique}*")]
    assert len(names) == 1
    assert 0 < await redis.pttl(names[0]) <= 60_000


@pytest.mark.redis
async def test_log_keeps_at_most_the_limit_of_hits(
    create_limiter: LimiterFactory, redis: Redis, unique: str
) -> None:
    await hits(create_limiter(), f"user-{unique}", 12, limit=5, window=60)
    [name] = [name async for name in redis.scan_iter(match=f"{PREFIX}*{unique}*")]
    assert await redis.zcard(name) == 5


@pytest.mark.redis
async def test_every_window_size_gets_its_own_expiring_log(
    create_limiter: LimiterFactory, redis: Redis, unique: str
) -> None:
    limiter = create_limiter()
    await limiter.hit(f"user-{unique}", 5, 60)
    await limiter.hit(f"user-{unique}", 5, 3600)
    names = [name async for name in redis.scan_iter(match=f"{PREFIX}*{unique}*")]
    ttls = sorted([await redis.ttl(name) for name in names])
    assert len(ttls) == 2
    assert 0 < ttls[0] <= 60
    assert 60 < ttls[1] <= 3600


async def test_unreachable_redis_makes_the_limiter_unavailable() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    limiter = RedisRateLimiter(dead, FixedClock(MINUTE_START_MS))
    try:
        with pytest.raises(ServiceUnavailableError):
            await limiter.hit("user-1", 5, 60)
    finally:
        await limiter.close()


async def test_bus_start_without_redis_is_a_clear_error() -> None:
    bus = RedisBus(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1))
    try:
        with pytest.raises(ServiceUnavailableError, match="GRIDLINKS_REDIS_URL"):
            await bus.start()
    finally:
        await bus.close()


# --- bus -------------------------------------------------------------------------------------
async def eventually(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` (a delivery over Redis takes a moment)."""
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"not delivered within {POLLS * POLL_SECONDS:.0f} s")


async def subscriber_count(redis: Redis, channel: str) -> int:
    counts: list[tuple[Any, int]] = await redis.pubsub_numsub(channel)
    return counts[0][1]


async def wait_for_subscribers(redis: Redis, channel: str, expected: int) -> None:
    """``start()`` sends SUBSCRIBE; wait until Redis has registered it before publishing."""
    for _ in range(POLLS):
        if await subscriber_count(redis, channel) == expected:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"{channel} never had {expected} subscribers")


def recorder(into: list[Event]) -> EventHandler:
    async def record(event: Event) -> None:
        into.append(event)

    return record


async def failing(event: Event) -> None:
    raise RuntimeError(f"handler broke on {event.name}")


@pytest.fixture
def channel(unique: str) -> str:
    return f"gridlinks:test-events:{unique}"


@pytest.fixture
async def nodes(
    redis_url: str, redis: Redis, channel: str
) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two started buses on one channel, as on two nodes."""
    node_a = RedisBus(Redis.from_url(redis_url), channel=channel)
    node_b = RedisBus(Redis.from_url(redis_url), channel=channel)
    try:
        await node_a.start()
        await node_b.start()
        await wait_for_subscribers(redis, channel, 2)
        yield node_a, node_b
    finally:
        await node_a.close()
        await node_b.close()


async def flush(bus: RedisBus) -> None:
    """Publish a marker and wait until ``bus`` hears it: everything published before has been
    delivered by then (one connection, one reader, in order)."""
    marker = Event("FlushMarker", {"id": uuid.uuid4().hex})
    got: list[Event] = []
    unsubscribe = bus.subscribe("FlushMarker", recorder(got))
    try:
        await bus.publish(marker)
        await eventually(lambda: marker in got)
    finally:
        unsubscribe()


@pytest.mark.redis
async def test_event_reaches_subscribers_on_both_nodes_exactly_once(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    node_a, node_b = nodes
    on_a: list[Event] = []
    on_b: list[Event] = []
    node_a.subscribe("DeviceClaimed", recorder(on_a))
    node_b.subscribe("DeviceClaimed", recorder(on_b))
    event = Event("DeviceClaimed", {"deviceId": "d1", "customerId": "c1"})
    await node_a.publish(event)
    await eventually(lambda: bool(on_a and on_b))
    await flush(node_a)
    await flush(node_b)
    assert (on_a, on_b) == ([event], [event])


@pytest.mark.redis
async def test_events_arrive_in_publish_order(nodes: tuple[RedisBus, RedisBus]) -> None:
    node_a, node_b = nodes
    got: list[Event] = []
    node_b.subscribe("DeviceClaimed", recorder(got))
    published = [Event("DeviceClaimed", {"n": n}) for n in range(20)]
    for event in published:
        await node_a.publish(event)
    await eventually(lambda: len(got) == len(published))
    assert got == published


@pytest.mark.redis
async def test_star_subscriber_hears_every_event_and_named_only_its_own(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    node_a, node_b = nodes
    everything: list[Event] = []
    claimed: list[Event] = []
    node_b.subscribe("*", recorder(everything))
    node_b.subscribe("DeviceClaimed", recorder(claimed))
    events = [Event("DeviceClaimed", {"n": 1}), Event("DeviceReleased", {"n": 2})]
    for event in events:
        await node_a.publish(event)
    await eventually(lambda: len(everything) == 2)
    assert (everything, claimed) == (events, events[:1])


@pytest.mark.redis
async def test_unsubscribed_handler_hears_nothing_more(nodes: tuple[RedisBus, RedisBus]) -> None:
    node_a, node_b = nodes
    gone: list[Event] = []
    kept: list[Event] = []
    unsubscribe = node_b.subscribe("DeviceClaimed", recorder(gone))
    node_b.subscribe("DeviceClaimed", recorder(kept))
    unsubscribe()
    await node_a.publish(Event("DeviceClaimed"))
    await eventually(lambda: bool(kept))
    await flush(node_b)
    assert (gone, kept) == ([], [Event("DeviceClaimed")])


@pytest.mark.redis
@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        b"\xff\xfe not utf-8",
        "[]",
        "null",
        "42",
        '{"name": "DeviceClaimed"}',
        '{"data": {}}',
        '{"name": "DeviceClaimed", "data": null}',
        '{"name": "DeviceClaimed", "data": "text"}',
    ],
)
async def test_malformed_message_is_ignored_and_later_events_still_arrive(
    nodes: tuple[RedisBus, RedisBus], redis: Redis, channel: str, raw: str | bytes
) -> None:
    node_a, _ = nodes
    got: list[Event] = []
    node_a.subscribe("*", recorder(got))
    await redis.publish(channel, raw)
    await node_a.publish(Event("DeviceClaimed", {"n": 1}))
    await eventually(lambda: bool(got))
    await flush(node_a)
    assert got[0] == Event("DeviceClaimed", {"n": 1})
    assert [e.name for e in got] == ["DeviceClaimed", "FlushMarker"]


@pytest.mark.redis
async def test_message_whose_data_is_not_an_object_is_ignored(
    nodes: tuple[RedisBus, RedisBus], redis: Redis, channel: str
) -> None:
    node_a, _ = nodes
    got: list[Event] = []
    node_a.subscribe("DeviceClaimed", recorder(got))
    await redis.publish(channel, '{"name": "DeviceClaimed", "data": [["deviceId", "d1"]]}')
    await flush(node_a)
    assert got == []


@pytest.mark.redis
async def test_failing_handler_does_not_stop_the_others(
    nodes: tuple[RedisBus, RedisBus],
) -> None:
    node_a, node_b = nodes
    got: list[Event] = []
    node_b.subscribe("DeviceClaimed", failing)
    node_b.subscribe("DeviceClaimed", recorder(got))
    node_b.subscribe("*", failing)
    await node_a.publish(Event("DeviceClaimed", {"n": 1}))
    await node_a.publish(Event("DeviceClaimed", {"n": 2}))
    await eventually(lambda: len(got) == 2)
    assert [event.data["n"] for event in got] == [1, 2]


@pytest.mark.redis
async def test_close_leaves_no_subscription_and_no_reader(
    redis_url: str, redis: Redis, channel: str
) -> None:
    bus = RedisBus(Redis.from_url(redis_url), channel=channel)
    await bus.start()
    await wait_for_subscribers(redis, channel, 1)
    await bus.close()
    await wait_for_subscribers(redis, channel, 0)
    readers = [t for t in asyncio.all_tasks() if t.get_name() == "gridlinks-bus" and not t.done()]
    assert readers == []


@pytest.mark.redis
async def test_closed_node_no_longer_hears_events(nodes: tuple[RedisBus, RedisBus]) -> None:
    node_a, node_b = nodes
    on_a: list[Event] = []
    node_a.subscribe("*", recorder(on_a))
    await node_a.close()
    await node_b.publish(Event("DeviceClaimed"))
    await flush(node_b)
    assert on_a == []


@pytest.mark.redis
async def test_closing_a_bus_that_never_started_is_clean(redis_url: str) -> None:
    bus = RedisBus(Redis.from_url(redis_url), channel=f"gridlinks:test-events:{uuid.uuid4()}")
    await bus.close()
