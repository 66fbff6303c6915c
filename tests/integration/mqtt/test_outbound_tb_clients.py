"""The unmodified ThingsBoard SDKs (``TBDeviceMqttClient``, ``TBGatewayMqttClient``) against the
in-process MQTT transport: a shared attribute written over REST reaches the SDK's attribute
callback, and a server-side RPC reaches its RPC handler, whose reply comes back. The SDKs run
their own threads, so their blocking calls run in worker threads here."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from tb_device_mqtt import TBDeviceMqttClient
from tb_gateway_mqtt import TBGatewayMqttClient

from gridlinks.bootstrap import Platform
from gridlinks.delivery.messages import RpcCall
from tests.e2e.mqtt_helpers import stop_tb_client
from tests.integration.devicelink.recording import RecordingRpcEvents, record_rpc_events
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RunningMqtt


@pytest.fixture
def recorder(platform: Platform) -> RecordingRpcEvents:
    return record_rpc_events(platform)


async def test_the_device_sdk_gets_shared_attributes_and_answers_an_rpc(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    device, token = await maker.device()
    device_id = uuid.UUID(device["id"]["id"])
    client = TBDeviceMqttClient(mqtt.host, mqtt.port, username=token)
    updates: list[Any] = []
    client.subscribe_to_attribute("targetTemp", lambda result, _error: updates.append(result))

    def answer(request_id: str, body: dict[str, Any]) -> None:
        client.send_rpc_reply(request_id, {"echo": body["params"]})

    client.set_server_side_rpc_request_handler(answer)
    await asyncio.to_thread(client.connect)
    try:
        await recorder.until(lambda: device_id in recorder.connected, "the SDK subscribed")
        path = f"/api/plugins/telemetry/DEVICE/{device_id}/SHARED_SCOPE"
        await maker.api.ok("POST", path, maker.tenant, json={"targetTemp": 22})
        assert await recorder.until(lambda: updates, "the attribute callback") == [
            {"targetTemp": 22}
        ]
        assert await platform.delivery.send(RpcCall(device_id, 5, "echo", {"x": 1}))
        await recorder.until(lambda: recorder.replied, "the SDK's reply")
        assert recorder.replied == [(device_id, 5, {"echo": {"x": 1}})]
        assert (device_id, 5) in recorder.delivered  # the SDK's PUBACK (QoS 1)
    finally:
        assert await asyncio.to_thread(stop_tb_client, client) == []


async def test_the_gateway_sdk_answers_an_rpc_for_its_sub_device(
    mqtt: RunningMqtt, maker: Maker, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    _, token = await maker.gateway()
    client = TBGatewayMqttClient(mqtt.host, mqtt.port, username=token)
    updates: list[Any] = []

    def answer(gateway: TBGatewayMqttClient, content: dict[str, Any]) -> None:
        data = content["data"]
        gateway.gw_send_rpc_reply(content["device"], data["id"], {"done": data["method"]})

    client.gw_set_server_side_rpc_request_handler(answer)
    await asyncio.to_thread(client.connect)
    try:
        await recorder.until(client.is_connected, "the SDK connected")
        await asyncio.to_thread(lambda: client.gw_connect_device("Valve", "valve").get())
        client.gw_subscribe_to_attribute("Valve", "mode", updates.append)
        found = await maker.get("/api/tenant/devices?deviceName=Valve")
        valve = uuid.UUID(found["id"]["id"])
        await recorder.until(lambda: valve in recorder.connected, "the sub-device reachable")
        path = f"/api/plugins/telemetry/DEVICE/{valve}/SHARED_SCOPE"
        await maker.api.ok("POST", path, maker.tenant, json={"mode": "open"})
        await recorder.until(lambda: updates, "the attribute callback")
        assert updates == [{"device": "Valve", "data": {"mode": "open"}}]
        assert await platform.delivery.send(RpcCall(valve, 8, "close"))
        await recorder.until(lambda: recorder.replied, "the SDK's reply")
        assert recorder.replied == [(valve, 8, {"done": "close"})]
    finally:
        assert await asyncio.to_thread(stop_tb_client, client) == []
