"""Two nodes on one database and one Redis: the device is connected to node A, the REST call
goes to node B, and B answers with the device's reply."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from gridlinks.bootstrap import Platform
from tests.integration.factories import Api
from tests.integration.rpc.devices import SimulatedDevice, echo, open_shop

pytestmark = pytest.mark.redis
BODY = {"method": "setValve", "params": {"open": True}}


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
