"""Messages to a gateway's sub-devices: RPC requests on ``v1/gateway/rpc``, replies in the
gateway form, shared attributes on ``v1/gateway/attributes``; a sub-device is reachable from
when the gateway names it until it disconnects it or the connection ends."""

from __future__ import annotations

import json
import uuid

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.delivery.messages import RpcCall
from gridlinks.mqtt.protocol.packets import (
    Disconnect,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Subscription,
)
from tests.integration.devicelink.recording import RecordingRpcEvents, record_rpc_events
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RawClient, RunningMqtt


@pytest.fixture
def recorder(platform: Platform) -> RecordingRpcEvents:
    return record_rpc_events(platform)


async def gateway_subscribed(mqtt: RunningMqtt, token: str, *filters: str) -> RawClient:
    client = await mqtt.client(5)
    assert (await client.connect(token)).reason_code == 0
    for packet_id, topic_filter in enumerate(filters, start=1):
        await client.send(Subscribe(packet_id, (Subscription(topic_filter, qos=1),)))
        assert await client.receive() == Suback(packet_id, (1,))
    return client


async def sub_device_id(maker: Maker, name: str) -> uuid.UUID:
    found = await maker.get(f"/api/tenant/devices?deviceName={name}")
    return uuid.UUID(found["id"]["id"])


async def test_an_rpc_for_a_sub_device_goes_out_on_the_gateway_rpc_topic(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/rpc")
    await client.publish_ok("v1/gateway/connect", b'{"device":"Valve 1"}')
    valve = await sub_device_id(maker, "Valve 1")
    await recorder.until(lambda: recorder.connected, "the sub-device reported connected")
    assert recorder.connected == [valve]
    assert await platform.delivery.send(RpcCall(valve, 11, "open", {"percent": 50})) is True
    request = await client.receive()
    assert isinstance(request, Publish) and request.topic == "v1/gateway/rpc"
    assert json.loads(request.payload) == {
        "device": "Valve 1",
        "data": {"id": 11, "method": "open", "params": {"percent": 50}},
    }
    assert request.packet_id is not None
    await client.send(Puback(request.packet_id))
    await recorder.until(lambda: recorder.delivered, "the delivery report")
    assert recorder.delivered == [(valve, 11)]


async def test_the_gateway_reply_form_reaches_rpc_replied_for_the_sub_device(
    mqtt: RunningMqtt, maker: Maker, recorder: RecordingRpcEvents
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/rpc")
    await client.publish_ok("v1/gateway/rpc", b'{"device":"Valve 2","id":11,"data":{"ok":1}}')
    assert recorder.replied == [(await sub_device_id(maker, "Valve 2"), 11, {"ok": 1})]
    ack = await client.publish("v1/gateway/rpc", b'{"device":"Valve 2","id":"x","data":1}')
    assert isinstance(ack, Puback) and ack.reason_code == 0x99


async def test_a_gateway_subscribing_after_naming_reports_its_sub_devices_connected(
    mqtt: RunningMqtt, maker: Maker, recorder: RecordingRpcEvents
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token)
    await client.publish_ok("v1/gateway/connect", b'{"device":"Pump"}')
    assert recorder.connected == []
    await client.send(Subscribe(1, (Subscription("v1/gateway/+", qos=1),)))
    assert await client.receive() == Suback(1, (1,))
    await recorder.until(lambda: recorder.connected, "the sub-device reported connected")
    assert recorder.connected == [await sub_device_id(maker, "Pump")]


async def test_a_gateway_without_the_rpc_subscription_takes_no_rpc(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/attributes")
    await client.publish_ok("v1/gateway/connect", b'{"device":"Valve 3"}')
    valve = await sub_device_id(maker, "Valve 3")
    assert await platform.delivery.send(RpcCall(valve, 1, "open")) is False


async def test_shared_attributes_of_a_sub_device_reach_the_gateway(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/attributes")
    await client.publish_ok("v1/gateway/telemetry", b'{"Meter":[{"kwh":1}]}')
    meter = await sub_device_id(maker, "Meter")
    base = f"/api/plugins/telemetry/DEVICE/{meter}/SHARED_SCOPE"
    await maker.api.ok("POST", base, maker.tenant, json={"tariff": "night"})
    push = await client.receive()
    assert isinstance(push, Publish) and push.topic == "v1/gateway/attributes"
    assert json.loads(push.payload) == {"device": "Meter", "data": {"tariff": "night"}}
    await maker.api.ok("DELETE", f"{base}?keys=tariff", maker.tenant)
    deleted = await client.receive()
    assert isinstance(deleted, Publish)
    assert json.loads(deleted.payload) == {"device": "Meter", "data": {"deleted": ["tariff"]}}


async def test_a_disconnected_sub_device_is_not_reachable_any_more(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/rpc")
    await client.publish_ok("v1/gateway/connect", b'{"device":"Valve 4"}')
    valve = await sub_device_id(maker, "Valve 4")
    assert platform.delivery.links.has(valve)
    await client.publish_ok("v1/gateway/disconnect", b'{"device":"Valve 4"}')
    assert not platform.delivery.links.has(valve)
    assert await platform.delivery.send(RpcCall(valve, 1, "open")) is False


async def test_the_gateways_connection_ending_removes_its_sub_devices_links(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    gateway, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/rpc")
    await client.publish_ok("v1/gateway/connect", b'{"device":"Valve 5"}')
    valve = await sub_device_id(maker, "Valve 5")
    await client.send(Disconnect())
    await client.closed_by_server()
    gateway_id = uuid.UUID(gateway["id"]["id"])
    await RecordingRpcEvents.until(
        lambda: (
            not platform.delivery.links.has(valve) and not platform.delivery.links.has(gateway_id)
        ),
        "the links removed",
    )


async def test_deleting_a_sub_device_forgets_it_and_keeps_the_gateway_connected(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.gateway()
    client = await gateway_subscribed(mqtt, token, "v1/gateway/rpc")
    await client.publish_ok("v1/gateway/connect", b'{"device":"Valve 6"}')
    valve = await sub_device_id(maker, "Valve 6")
    await maker.api.ok("DELETE", f"/api/device/{valve}", maker.tenant)
    assert not platform.delivery.links.has(valve)
    await client.publish_ok("v1/gateway/telemetry", b'{"Other":[{"t":1}]}')  # still connected
