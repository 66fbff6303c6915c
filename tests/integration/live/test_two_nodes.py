"""Two nodes on one database and one Redis: a subscriber on node B follows what node A stores,
and loses a device that node A unassigns."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from gridlinks.kit.clock import FixedClock
from tests.integration.claiming.conftest import create_device_with_token
from tests.integration.factories import (
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
)
from tests.integration.live.test_live_service import next_frame, open_session, subscribe

pytestmark = pytest.mark.redis


@pytest.fixture
def node_clock(clock: FixedClock) -> FixedClock:
    return clock


@pytest.fixture
async def node_a(nodes: list[Platform]) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=create_app(nodes[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://node-a") as client:
        yield await Api.start(client, nodes[0])


async def test_subscriber_on_one_node_follows_telemetry_stored_and_access_lost_on_another(
    nodes: list[Platform], node_a: Api
) -> None:
    tenant = await create_tenant_admin_quickly(node_a)
    customer = await node_a.create_customer(tenant)
    buyer = await create_customer_user_quickly(node_a, tenant, customer)
    device, token = await create_device_with_token(node_a, tenant)
    device_id = device["id"]["id"]
    await node_a.ok("POST", f"/api/customer/{customer['id']['id']}/device/{device_id}", tenant)
    node_b = nodes[1]
    session = await open_session(node_b, buyer)
    await subscribe(node_b, session, device_id)
    assert (await next_frame(session))["errorCode"] == 0

    response = await node_a.client.post(f"/api/v1/{token}/telemetry", json={"volts": 230})
    assert response.status_code == 200, response.text
    assert (await next_frame(session))["data"]["volts"][0][1] == "230"

    await node_a.ok("DELETE", f"/api/customer/device/{device_id}", tenant)
    assert (await next_frame(session))["errorCode"] == 3
    assert node_b.live.subscriber_count(uuid.UUID(device_id)) == 0
