"""Two GridLinks nodes on one database and one Redis: limits, lock-outs and events are shared."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from gridlinks.bootstrap import Platform
from gridlinks.bus.base import Event
from gridlinks.kit.clock import FixedClock
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    unique,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def node_clock(clock: FixedClock) -> FixedClock:
    return clock


@pytest.fixture
def clock() -> FixedClock:
    minute = 60_000
    return FixedClock((time.time_ns() // 1_000_000 // minute + 1) * minute)


async def _shop(api: Api) -> tuple[Account, Account, dict[str, Any], str]:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    token = unique("tok")
    name = unique("Device")
    await api.ok("POST", f"/api/device?accessToken={token}", tenant, json={"name": name})
    return tenant, buyer, customer, token


async def _claim(client: httpx.AsyncClient, buyer: Account, name: str, key: str) -> httpx.Response:
    return await client.post(
        f"/api/customer/device/{name}/claim", headers=buyer.headers, json={"secretKey": key}
    )


async def test_the_per_user_limit_counts_attempts_on_every_node(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    _tenant, buyer, _customer, _token = await _shop(api)
    for attempt in range(30):
        response = await _claim(clients[attempt % 2], buyer, "no-such-device", "k")
        assert response.status_code == 404, response.text
    refused = await _claim(clients[1], buyer, "no-such-device", "k")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_a_device_locked_on_one_node_is_locked_on_the_other(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    tenant, buyer, _customer, token = await _shop(api)
    device = (await api.ok("GET", "/api/tenant/devices?pageSize=1&page=0", tenant))["data"][0]
    await clients[0].post(f"/api/v1/{token}/claim", json={"secretKey": "right"})
    for attempt in range(5):
        wrong = await _claim(clients[attempt % 2], buyer, device["name"], "wrong")
        assert (wrong.status_code, wrong.json()) == (400, "FAILURE")
    locked = await _claim(clients[1], buyer, device["name"], "right")
    assert locked.status_code == 429
    assert locked.json()["errorCode"] == 33


async def test_a_claim_on_one_node_is_announced_to_subscribers_on_the_other(
    nodes: list[Platform], clients: list[httpx.AsyncClient]
) -> None:
    api = await Api.start(clients[0], nodes[0])
    tenant, buyer, customer, token = await _shop(api)
    device = (await api.ok("GET", "/api/tenant/devices?pageSize=1&page=0", tenant))["data"][0]
    heard: asyncio.Queue[Event] = asyncio.Queue()

    async def on_claimed(event: Event) -> None:
        if event.data["deviceId"] == device["id"]["id"]:
            await heard.put(event)

    nodes[1].bus.subscribe("DeviceClaimed", on_claimed)
    await clients[0].post(f"/api/v1/{token}/claim", json={"secretKey": "k"})
    claimed = await _claim(clients[0], buyer, device["name"], "k")
    assert claimed.status_code == 200, claimed.text
    event = await asyncio.wait_for(heard.get(), timeout=5)
    assert event.data["customerId"] == customer["id"]["id"]
    assert event.data["deviceName"] == device["name"]
    await asyncio.sleep(0.2)
    assert heard.empty()  # exactly once
