"""Two nodes on one database and one Redis: the device is connected to node A, the REST call
goes to node B, and B answers with the device's reply."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from tests.integration.factories import Api
from tests.integration.rpc.devices import SimulatedDevice, echo, open_shop

pytestmark = pytest.mark.redis
REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
BODY = {"method": "setValve", "params": {"open": True}}


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis variant: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
async def nodes(settings: Settings, redis_url: str) -> AsyncIterator[list[Platform]]:
    shared = settings.model_copy(update={"redis_url": redis_url})
    built = [build_platform(shared) for _ in range(2)]
    await built[0].migrate()
    for node in built:
        await node.start()
    try:
        yield built
    finally:
        for node in built:
            await node.close()


@pytest.fixture
async def clients(nodes: list[Platform]) -> AsyncIterator[list[httpx.AsyncClient]]:
    opened = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(n)), base_url="http://n")
        for n in nodes
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()


async def _until_presence(node: Platform, device_id: uuid.UUID, online: bool) -> None:
    for _ in range(100):
        if await node.delivery.online(device_id) is online:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"node never saw the device {'online' if online else 'offline'}")


async def test_a_two_way_call_through_node_b_returns_the_reply_of_a_device_on_node_a(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    shop = await open_shop(api)
    device = SimulatedDevice(nodes[0], shop.device_id, answer=echo).connect()
    await _until_presence(nodes[1], shop.device_id, True)
    response = await clients[1].post(
        f"/api/plugins/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"method": "setValve", "echo": {"open": True}}
    await device.settle()
    assert len(nodes[1].rpc.waiters) == 0


async def test_node_b_answers_504_when_the_device_is_connected_nowhere(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    shop = await open_shop(api)
    device = SimulatedDevice(nodes[0], shop.device_id, answer=echo).connect()
    await _until_presence(nodes[1], shop.device_id, True)
    device.disconnect()
    await _until_presence(nodes[1], shop.device_id, False)
    response = await clients[1].post(
        f"/api/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    assert response.status_code == 504


async def test_a_persistent_call_through_node_b_succeeds_on_the_device_at_node_a(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    shop = await open_shop(api)
    queued = await clients[1].post(
        f"/api/rpc/twoway/{shop.device_id}",
        headers=shop.owner.headers,
        json={**BODY, "persistent": True, "timeout": 60_000},
    )
    rpc_id = queued.json()["rpcId"]
    device = SimulatedDevice(nodes[0], shop.device_id, answer=echo).connect()
    await nodes[0].rpc.device_connected(shop.device_id)
    await device.settle()
    rpc = await api.ok("GET", f"/api/rpc/persistent/{rpc_id}", shop.owner)
    assert rpc["status"] == "SUCCESSFUL"
    await _until_presence(nodes[1], shop.device_id, True)
    sent = await clients[1].post(
        f"/api/rpc/oneway/{shop.device_id}",
        headers=shop.owner.headers,
        json={**BODY, "persistent": True},
    )
    for _ in range(100):
        await device.settle()
        rpc = await api.ok("GET", f"/api/rpc/persistent/{sent.json()['rpcId']}", shop.owner)
        if rpc["status"] == "DELIVERED":
            break
        await asyncio.sleep(0.05)
    assert rpc["status"] == "DELIVERED"
