"""Two nodes on one database and one Redis: the device holds an MQTT connection to node A while
the REST calls (shared attribute writes, deletes) and RPC sends go through node B."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.delivery.messages import RpcCall
from gridlinks.mqtt.protocol.packets import Disconnect, Publish, Suback, Subscribe, Subscription
from tests.integration.devicelink.recording import RecordingRpcEvents, record_rpc_events
from tests.integration.factories import Account, Api
from tests.integration.mqtt.harness import RawClient, RunningMqtt, start_mqtt

pytestmark = pytest.mark.redis
REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
CLOSE_SECONDS = 20


@dataclass
class TwoNodes:
    nodes: list[Platform]
    mqtt_on_a: RunningMqtt
    api_on_b: Api


@pytest.fixture
async def two(settings: Settings) -> AsyncIterator[TwoNodes]:
    """Node A holds the device's MQTT connection, node B answers REST; torn down in one place,
    in order (MQTT, HTTP client, then the nodes)."""
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        pytest.skip(f"Redis variant: set {REDIS_ENV}")
    shared = settings.model_copy(update={"redis_url": redis_url})
    nodes = [build_platform(shared) for _ in range(2)]
    await nodes[0].migrate()
    for node in nodes:
        await node.start()
    mqtt = await start_mqtt(nodes[0])
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(nodes[1])), base_url="http://b"
    )
    try:
        yield TwoNodes(nodes, mqtt, await Api.start(client, nodes[1]))
    finally:
        # Each step in a task of its own (wait_for): closed straight from the fixture's
        # teardown, node A's close hung now and then (seen in Platform.close; not understood).
        for step in (mqtt.close(), client.aclose(), *(node.close() for node in nodes)):
            await asyncio.wait_for(step, CLOSE_SECONDS)


async def device_on_a(mqtt: RunningMqtt, api: Api) -> tuple[uuid.UUID, RawClient, Account]:
    tenant = await api.create_tenant_admin()
    device = await api.create_device(tenant)
    credentials = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    client = await mqtt.client(5)
    assert (await client.connect(credentials["credentialsId"])).reason_code == 0
    filters = (
        Subscription("v1/devices/me/attributes", 1),
        Subscription("v1/devices/me/rpc/request/+", 0),
    )
    await client.send(Subscribe(1, filters))
    assert await client.receive() == Suback(1, (1, 0))
    return uuid.UUID(device["id"]["id"]), client, tenant


async def test_a_shared_attribute_written_on_b_reaches_the_device_on_a(
    two: TwoNodes,
) -> None:
    mqtt_on_a, api_on_b = two.mqtt_on_a, two.api_on_b
    device_id, client, tenant = await device_on_a(mqtt_on_a, api_on_b)
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/SHARED_SCOPE"
    await api_on_b.ok("POST", path, tenant, json={"targetTemp": 19})
    push = await client.receive()
    assert isinstance(push, Publish) and json.loads(push.payload) == {"targetTemp": 19}


async def test_an_rpc_sent_on_b_reaches_the_device_on_a_and_its_reply_is_reported_on_a(
    two: TwoNodes,
) -> None:
    nodes, mqtt_on_a, api_on_b = two.nodes, two.mqtt_on_a, two.api_on_b
    recorder = record_rpc_events(nodes[0])
    device_id, client, _ = await device_on_a(mqtt_on_a, api_on_b)
    assert await nodes[1].delivery.send(RpcCall(device_id, 21, "ping")) is False  # not local
    request = await client.receive()
    assert isinstance(request, Publish) and request.topic == "v1/devices/me/rpc/request/21"
    await client.publish_ok("v1/devices/me/rpc/response/21", b'"pong"')
    assert recorder.replied == [(device_id, 21, "pong")]
    await RecordingRpcEvents.until(lambda: recorder.delivered, "the delivery report")


async def test_deleting_the_device_on_b_closes_its_connection_on_a(
    two: TwoNodes,
) -> None:
    mqtt_on_a, api_on_b = two.mqtt_on_a, two.api_on_b
    device_id, client, tenant = await device_on_a(mqtt_on_a, api_on_b)
    await api_on_b.ok("DELETE", f"/api/device/{device_id}", tenant)
    assert await client.closed_by_server() == [Disconnect(0x87)]
