"""Device topics over a real MQTT connection: telemetry, attributes, claim, requests answered
on response topics, subscriptions, and QoS 0/1/2 acknowledgement rules."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gridlinks.mqtt.protocol.packets import (
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RawClient, RunningMqtt

TELEMETRY = "v1/devices/me/telemetry"


async def connected(mqtt: RunningMqtt, token: str, level: int = 5) -> RawClient:
    client = await mqtt.client(level)
    assert (await client.connect(token, client_id="" if level != 3 else "c")).reason_code == 0
    return client


async def latest(maker: Maker, device: dict[str, Any], keys: str) -> dict[str, Any]:
    path = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"
    result: dict[str, Any] = await maker.get(f"{path}?keys={keys}&useStrictDataTypes=true")
    return result


@pytest.mark.parametrize("level", [3, 4, 5])
async def test_every_telemetry_form_is_stored_before_the_puback(
    mqtt: RunningMqtt, maker: Maker, level: int
) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token, level)
    await client.publish_ok(TELEMETRY, b'{"temperature":21.5,"on":true}')
    await client.publish_ok(TELEMETRY, b'[{"humidity":40}]')
    await client.publish_ok(TELEMETRY, b'{"ts":1700000000000,"values":{"pressure":1013}}')
    await client.publish_ok(TELEMETRY, b'[{"ts":1700000000001,"values":{"mode":"eco"}}]')
    # No polling: PUBACK means committed.
    values = await latest(maker, device, "temperature,on,humidity,pressure,mode")
    assert values["temperature"][0]["value"] == 21.5
    assert values["on"][0]["value"] is True
    assert values["humidity"][0]["value"] == 40
    assert values["pressure"] == [{"ts": 1700000000000, "value": 1013}]
    assert values["mode"] == [{"ts": 1700000000001, "value": "eco"}]


async def test_qos0_telemetry_is_stored(mqtt: RunningMqtt, maker: Maker) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token, 4)
    await client.publish(TELEMETRY, b'{"q0":1}', qos=0)
    for _ in range(100):
        if await latest(maker, device, "q0"):
            break
        await asyncio.sleep(0.05)
    assert (await latest(maker, device, "q0"))["q0"][0]["value"] == 1


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TELEMETRY, b"{not json", 0x99),
        (TELEMETRY, b'"a string"', 0x99),
        (TELEMETRY, b'{"ts":"yesterday","values":{"a":1}}', 0x99),
        ("v1/devices/me/attributes", b"[1,2]", 0x99),
        ("v1/devices/me/attributes", b'{"claimingData":"x"}', 0x99),
        ("v1/devices/me/nothing-here", b"{}", 0x90),
        ("v1/gateway/telemetry", b'{"Dev":[{"a":1}]}', 0x90),
    ],
)
async def test_refused_messages_get_a_v5_reason_and_the_connection_stays(
    mqtt: RunningMqtt, maker: Maker, topic: str, payload: bytes, reason: int
) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token, 5)
    ack = await client.publish(topic, payload)
    assert isinstance(ack, Puback)
    assert ack.reason_code == reason
    await client.publish_ok(TELEMETRY, b'{"after":1}')
    assert (await latest(maker, device, "after"))["after"][0]["value"] == 1


async def test_below_level_5_a_refused_message_is_acknowledged_and_dropped(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token, 4)
    assert await client.publish(TELEMETRY, b"{broken") == Puback(1)
    await client.publish_ok(TELEMETRY, b'{"fine":2}')
    assert await latest(maker, device, "broken,fine") == {
        "fine": [{"ts": pytest.approx(0, abs=10**14), "value": 2}]
    }


async def test_client_attributes_are_saved(mqtt: RunningMqtt, maker: Maker) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token)
    await client.publish_ok("v1/devices/me/attributes", b'{"fw":"1.0","flag":true,"n":3}')
    path = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/attributes/CLIENT_SCOPE"
    saved = {item["key"]: item["value"] for item in await maker.get(path)}
    assert saved == {"fw": "1.0", "flag": True, "n": 3}


async def test_attribute_request_is_answered_on_its_response_topic(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    device, token = await maker.device()
    device_id = device["id"]["id"]
    await maker.api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{device_id}/attributes/SHARED_SCOPE",
        maker.tenant,
        json={"targetTemp": 22, "mode": "eco"},
    )
    client = await connected(mqtt, token)
    await client.publish_ok("v1/devices/me/attributes", b'{"fw":"1.0"}')
    await client.send(
        Publish(
            "v1/devices/me/attributes/request/7",
            b'{"clientKeys":"fw","sharedKeys":"targetTemp,missing"}',
            qos=1,
            packet_id=client.packet_id(),
        )
    )
    response = await client.receive()
    assert isinstance(response, Publish)
    assert response.topic == "v1/devices/me/attributes/response/7"
    assert json.loads(response.payload) == {"client": {"fw": "1.0"}, "shared": {"targetTemp": 22}}
    assert isinstance(await client.receive(), Puback)


async def test_get_session_limits_is_answered_with_an_object(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.device()
    client = await connected(mqtt, token)
    await client.send(
        Publish(
            "v1/devices/me/rpc/request/1",
            b'{"method":"getSessionLimits","params":{"timeout":5000}}',
            qos=1,
            packet_id=client.packet_id(),
        )
    )
    response = await client.receive()
    assert isinstance(response, Publish)
    assert response.topic == "v1/devices/me/rpc/response/1"
    limits = json.loads(response.payload)
    assert limits["maxPayloadSize"] > 1000
    assert limits["maxInflightMessages"] >= 1
    assert set(limits["rateLimits"]) == {"messages", "telemetryMessages", "telemetryDataPoints"}
    assert isinstance(await client.receive(), Puback)


@pytest.mark.parametrize("level", [4, 5])
async def test_the_sdk_subscriptions_are_granted_and_others_refused(
    mqtt: RunningMqtt, maker: Maker, level: int
) -> None:
    _, token = await maker.device()
    client = await connected(mqtt, token, level)
    topics = [
        "v1/devices/me/attributes",
        "v1/devices/me/attributes/response/+",
        "v1/devices/me/rpc/request/+",
        "v1/devices/me/rpc/response/+",
    ]
    for packet_id, topic in enumerate(topics, start=1):
        await client.send(Subscribe(packet_id, (Subscription(topic, qos=1),)))
        assert await client.receive() == Suback(packet_id, (1,))
    await client.send(Subscribe(9, (Subscription("#", qos=2), Subscription("v2/fw/response/+"))))
    refused = 0x87 if level == 5 else 0x80
    assert await client.receive() == Suback(9, (refused, 0))
    await client.send(Unsubscribe(10, ("v1/devices/me/attributes", "never/subscribed")))
    unsuback = await client.receive()
    assert isinstance(unsuback, Unsuback)
    assert unsuback.reason_codes == ((0, 0x11) if level == 5 else ())


async def test_qos2_is_processed_once_even_when_resent(mqtt: RunningMqtt, maker: Maker) -> None:
    device, token = await maker.device()
    client = await connected(mqtt, token)
    message = Publish(TELEMETRY, b'{"ts":1700000000000,"values":{"q2":1}}', qos=2, packet_id=5)
    await client.send(message)
    assert await client.receive() == Pubrec(5)
    resent = Publish(
        TELEMETRY, b'{"ts":1700000000000,"values":{"q2":99}}', 2, dup=True, packet_id=5
    )
    await client.send(resent)
    assert await client.receive() == Pubrec(5)
    await client.send(Pubrel(5))
    assert await client.receive() == Pubcomp(5)
    await client.send(Pubrel(6))
    assert await client.receive() == Pubcomp(6, 0x92)
    assert (await latest(maker, device, "q2"))["q2"] == [{"ts": 1700000000000, "value": 1}]


async def test_claim_over_mqtt_then_the_customer_claims_over_rest(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    device, token = await maker.device()
    customer = await maker.api.create_customer(maker.tenant)
    buyer = await maker.api.create_customer_user(maker.tenant, customer)
    client = await connected(mqtt, token, 4)
    await client.publish_ok("v1/devices/me/claim", b'{"secretKey":"s3cret","durationMs":60000}')
    # PUBACK came after the commit: the REST claim cannot race it.
    response = await maker.api.client.post(
        f"/api/customer/device/{device['name']}/claim",
        json={"secretKey": "s3cret"},
        headers=buyer.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["device"]["customerId"]["id"] == customer["id"]["id"]
    # Once claimed, a new announcement is acknowledged but opens nothing.
    await client.publish_ok("v1/devices/me/claim", b"{}")


async def test_other_client_side_rpc_is_answered_as_unsupported_and_acknowledged(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    """Not refused (tb-mqtt-client backs its sending off on a PUBACK with reason 0x83), but
    answered, so the device's callback learns the method is not there."""
    _, token = await maker.device()
    client = await connected(mqtt, token)
    await client.send(
        Publish(
            "v1/devices/me/rpc/request/2",
            b'{"method":"getTime","params":{}}',
            qos=1,
            packet_id=client.packet_id(),
        )
    )
    response = await client.receive()
    assert isinstance(response, Publish)
    assert response.topic == "v1/devices/me/rpc/response/2"
    assert "Unsupported client-side RPC method 'getTime'" in json.loads(response.payload)["error"]
    assert await client.receive() == Puback(1)
