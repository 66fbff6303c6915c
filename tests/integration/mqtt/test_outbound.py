"""Messages to connected devices over MQTT: server-side RPC requests at QoS 0 and 1 (PUBACK ->
delivered), the devices' replies, shared-attribute pushes from REST writes, and connections
closed when a device is deleted or its credentials change."""

from __future__ import annotations

import json
import uuid
from typing import Any

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
from gridlinks.mqtt.protocol.properties import PropertyId
from tests.integration.devicelink.recording import RecordingRpcEvents, record_rpc_events
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RawClient, RunningMqtt

RPC_FILTER = "v1/devices/me/rpc/request/+"


@pytest.fixture
def recorder(platform: Platform) -> RecordingRpcEvents:
    return record_rpc_events(platform)


def id_of(device: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(device["id"]["id"])


async def subscribed(
    mqtt: RunningMqtt, token: str, topic_filter: str, qos: int, level: int = 5
) -> RawClient:
    client = await mqtt.client(level)
    assert (await client.connect(token)).reason_code == 0
    await client.send(Subscribe(1, (Subscription(topic_filter, qos=qos),)))
    assert await client.receive() == Suback(1, (qos,))
    return client


async def test_an_rpc_reaches_a_device_subscribed_at_qos_0_and_counts_delivered_once_sent(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 0)
    call = RpcCall(id_of(device), 7, "setGpio", {"pin": 23, "value": 1})
    assert await platform.delivery.send(call) is True
    request = await client.receive()
    assert isinstance(request, Publish)
    assert (request.topic, request.qos) == ("v1/devices/me/rpc/request/7", 0)
    assert json.loads(request.payload) == {"method": "setGpio", "params": {"pin": 23, "value": 1}}
    await recorder.until(lambda: recorder.delivered, "the delivery report")
    assert recorder.delivered == [(id_of(device), 7)]


async def test_an_rpc_at_qos_1_counts_delivered_only_when_the_puback_arrives(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1)
    assert await platform.delivery.send(RpcCall(id_of(device), 3, "reboot")) is True
    request = await client.receive()
    assert isinstance(request, Publish)
    assert request.qos == 1 and request.packet_id is not None
    await client.publish_ok("v1/devices/me/telemetry", b'{"t":1}')  # a round trip, no PUBACK
    assert recorder.delivered == []
    await client.send(Puback(request.packet_id))
    await recorder.until(lambda: recorder.delivered, "the delivery report")
    assert recorder.delivered == [(id_of(device), 3)]


async def test_the_devices_reply_reaches_rpc_replied(
    mqtt: RunningMqtt, maker: Maker, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1)
    await client.publish_ok("v1/devices/me/rpc/response/3", b'{"ok":true}')
    await client.publish_ok("v1/devices/me/rpc/response/4", b"42")
    assert recorder.replied == [(id_of(device), 3, {"ok": True}), (id_of(device), 4, 42)]


async def test_a_reply_with_a_bad_request_id_is_refused(
    mqtt: RunningMqtt, maker: Maker, recorder: RecordingRpcEvents
) -> None:
    _, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1)
    for topic in ("v1/devices/me/rpc/response/x", "v1/devices/me/rpc/response/99999999999"):
        ack = await client.publish(topic, b"{}")
        assert ack == Puback(ack.packet_id, 0x90)  # type: ignore[union-attr]
    assert recorder.replied == []


async def test_a_device_not_subscribed_to_rpc_requests_does_not_take_one(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, "v1/devices/me/attributes", 1)
    assert await platform.delivery.send(RpcCall(id_of(device), 1, "reboot")) is False
    await client.publish_ok("v1/devices/me/telemetry", b'{"t":1}')  # nothing came before


async def test_a_disconnected_device_does_not_take_an_rpc(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1)
    await client.send(Disconnect())
    await client.closed_by_server()
    await RecordingRpcEvents.until(
        lambda: not platform.delivery.links.has(id_of(device)), "the link removed"
    )
    assert await platform.delivery.send(RpcCall(id_of(device), 1, "reboot")) is False


async def test_an_expired_rpc_is_not_sent(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    device, token = await maker.device()
    await subscribed(mqtt, token, RPC_FILTER, 1)
    call = RpcCall(id_of(device), 1, "reboot", expires_at=platform.clock.now_ms() - 1)
    assert await platform.delivery.send(call) is False


async def test_subscribing_to_rpc_requests_reports_the_device_connected(
    mqtt: RunningMqtt, maker: Maker, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    await subscribed(mqtt, token, "v1/devices/me/attributes", 1)
    assert recorder.connected == []
    await subscribed(mqtt, token, "v1/devices/me/#", 1)
    await recorder.until(lambda: recorder.connected, "the connection report")
    assert recorder.connected == [id_of(device)]


@pytest.mark.parametrize("level", [4, 5])
async def test_a_shared_attribute_written_over_rest_is_pushed_and_a_delete_too(
    mqtt: RunningMqtt, maker: Maker, level: int
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, "v1/devices/me/attributes", 1, level)
    base = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}"
    await maker.api.ok("POST", f"{base}/SHARED_SCOPE", maker.tenant, json={"targetTemp": 22})
    push = await client.receive()
    assert isinstance(push, Publish)
    assert push.topic == "v1/devices/me/attributes"
    assert json.loads(push.payload) == {"targetTemp": 22}
    await maker.api.ok("DELETE", f"{base}/SHARED_SCOPE?keys=targetTemp", maker.tenant)
    deleted = await client.receive()
    assert isinstance(deleted, Publish)
    assert json.loads(deleted.payload) == {"deleted": ["targetTemp"]}


async def test_server_and_client_attributes_are_not_pushed(mqtt: RunningMqtt, maker: Maker) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, "v1/devices/me/attributes", 1)
    base = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}"
    await maker.api.ok("POST", f"{base}/SERVER_SCOPE", maker.tenant, json={"secret": 1})
    await client.publish_ok("v1/devices/me/attributes", b'{"fw":"1.0"}')  # nothing came before
    await maker.api.ok("POST", f"{base}/SHARED_SCOPE", maker.tenant, json={"mode": "eco"})
    push = await client.receive()
    assert isinstance(push, Publish) and json.loads(push.payload) == {"mode": "eco"}


async def test_deleting_the_device_closes_its_connection_as_not_authorized(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1)
    await maker.api.ok("DELETE", f"/api/device/{device['id']['id']}", maker.tenant)
    assert await client.closed_by_server() == [Disconnect(0x87)]


async def test_new_credentials_close_the_connection_made_with_the_old_ones(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    device, token = await maker.device()
    client = await subscribed(mqtt, token, RPC_FILTER, 1, level=4)
    credentials = await maker.get(f"/api/device/{device['id']['id']}/credentials")
    credentials["credentialsId"] = f"new-{uuid.uuid4().hex}"
    await maker.api.ok("POST", "/api/device/credentials", maker.tenant, json=credentials)
    assert await client.closed_by_server() == []  # level 4: no DISCONNECT from a server
    fresh = await mqtt.client(4)
    assert (await fresh.connect(token)).reason_code != 0


async def test_get_current_time_is_answered_with_the_servers_clock(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.device()
    client = await subscribed(mqtt, token, "v1/devices/me/rpc/response/+", 1)
    before = platform.clock.now_ms()
    await client.send(
        Publish(
            "v1/devices/me/rpc/request/5",
            b'{"method":"getCurrentTime","params":{}}',
            qos=1,
            packet_id=client.packet_id(),
        )
    )
    answer = await client.receive()
    assert isinstance(answer, Publish) and answer.topic == "v1/devices/me/rpc/response/5"
    assert before <= json.loads(answer.payload)["currentTime"] <= platform.clock.now_ms()


async def test_no_more_qos_1_requests_than_the_clients_receive_maximum_are_in_flight(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    client = await mqtt.client(5)
    receive_maximum = ((PropertyId.RECEIVE_MAXIMUM, 1),)
    assert (await client.connect(token, properties=receive_maximum)).reason_code == 0
    await client.send(Subscribe(1, (Subscription(RPC_FILTER, qos=1),)))
    assert await client.receive() == Suback(1, (1,))
    assert await platform.delivery.send(RpcCall(id_of(device), 1, "first")) is True
    first = await client.receive()
    assert await platform.delivery.send(RpcCall(id_of(device), 2, "second")) is False
    assert isinstance(first, Publish) and first.packet_id is not None
    await client.send(Puback(first.packet_id))
    await recorder.until(lambda: recorder.delivered, "the first acknowledged")
    assert await platform.delivery.send(RpcCall(id_of(device), 3, "third")) is True
    third = await client.receive()
    assert isinstance(third, Publish) and third.packet_id != first.packet_id
    await client.send(Puback(4242))  # an id never sent: ignored
    await client.publish_ok("v1/devices/me/telemetry", b'{"t":1}')
    assert recorder.delivered == [(id_of(device), 1)]
