"""Gateway topics: sub-devices found or created by name, their data, claims and requests."""

from __future__ import annotations

import json
from typing import Any

from gridlinks.mqtt.protocol.packets import Puback, Publish
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RawClient, RunningMqtt


async def gateway_client(mqtt: RunningMqtt, token: str, level: int = 5) -> RawClient:
    client = await mqtt.client(level)
    assert (await client.connect(token)).reason_code == 0
    return client


async def device_named(maker: Maker, name: str) -> dict[str, Any]:
    found: dict[str, Any] = await maker.get(f"/api/tenant/devices?deviceName={name}")
    return found


async def test_connect_creates_the_sub_device_with_the_gateways_customer(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    gateway, token = await maker.gateway()
    customer = await maker.api.create_customer(maker.tenant)
    await maker.api.ok(
        "POST",
        f"/api/customer/{customer['id']['id']}/device/{gateway['id']['id']}",
        maker.tenant,
    )
    client = await gateway_client(mqtt, token)
    await client.publish_ok("v1/gateway/connect", b'{"device":"Dev A","type":"thermo"}')
    sub = await device_named(maker, "Dev A")
    assert sub["type"] == "thermo"
    assert sub["customerId"]["id"] == customer["id"]["id"]
    assert sub["additionalInfo"]["lastConnectedGateway"] == gateway["id"]["id"]
    # Connecting again finds the same device.
    await client.publish_ok("v1/gateway/connect", b'{"device":"Dev A"}')
    await client.publish_ok("v1/gateway/disconnect", b'{"device":"Dev A"}')
    assert (await device_named(maker, "Dev A"))["id"] == sub["id"]


async def test_telemetry_and_attributes_for_several_sub_devices(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.gateway()
    client = await gateway_client(mqtt, token, 4)
    await client.publish_ok(
        "v1/gateway/telemetry",
        b'{"Dev A":[{"temperature":1}],"Dev B":[{"ts":1700000000000,"values":{"t":2}}]}',
    )
    await client.publish_ok("v1/gateway/attributes", b'{"Dev A":{"model":"X"}}')
    dev_a = await device_named(maker, "Dev A")
    dev_b = await device_named(maker, "Dev B")
    series = "/values/timeseries?useStrictDataTypes=true&keys="
    a = await maker.get(f"/api/plugins/telemetry/DEVICE/{dev_a['id']['id']}{series}temperature")
    b = await maker.get(f"/api/plugins/telemetry/DEVICE/{dev_b['id']['id']}{series}t")
    assert a["temperature"][0]["value"] == 1
    assert b["t"] == [{"ts": 1700000000000, "value": 2}]
    attributes = await maker.get(
        f"/api/plugins/telemetry/DEVICE/{dev_a['id']['id']}/values/attributes/CLIENT_SCOPE"
    )
    assert [(item["key"], item["value"]) for item in attributes] == [("model", "X")]


async def test_gateway_claim_then_the_customer_claims_the_sub_device(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.gateway()
    customer = await maker.api.create_customer(maker.tenant)
    buyer = await maker.api.create_customer_user(maker.tenant, customer)
    client = await gateway_client(mqtt, token)
    await client.publish_ok("v1/gateway/claim", b'{"Dev C":{"secretKey":"sek","durationMs":60000}}')
    response = await maker.api.client.post(
        "/api/customer/device/Dev C/claim", json={"secretKey": "sek"}, headers=buyer.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["device"]["customerId"]["id"] == customer["id"]["id"]


async def test_shared_attribute_request_for_a_sub_device(mqtt: RunningMqtt, maker: Maker) -> None:
    _, token = await maker.gateway()
    client = await gateway_client(mqtt, token)
    await client.publish_ok("v1/gateway/connect", b'{"device":"Dev D"}')
    dev = await device_named(maker, "Dev D")
    await maker.api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{dev['id']['id']}/attributes/SHARED_SCOPE",
        maker.tenant,
        json={"targetTemp": 19},
    )
    request = b'{"keys":["targetTemp"],"device":"Dev D","client":false,"id":3}'
    await client.send(Publish("v1/gateway/attributes/request", request, 1, packet_id=77))
    response = await client.receive()
    assert isinstance(response, Publish)
    assert response.topic == "v1/gateway/attributes/response"
    assert json.loads(response.payload) == {"id": 3, "device": "Dev D", "value": 19}
    assert await client.receive() == Puback(77)


async def test_malformed_gateway_messages_are_refused(mqtt: RunningMqtt, maker: Maker) -> None:
    _, token = await maker.gateway()
    client = await gateway_client(mqtt, token)
    for topic, payload in [
        ("v1/gateway/connect", b'{"type":"x"}'),
        ("v1/gateway/telemetry", b"[]"),
        ("v1/gateway/telemetry", b'{"Dev":"not telemetry"}'),
        ("v1/gateway/attributes/request", b'{"device":"Dev","keys":["a"]}'),
        ("v1/gateway/claim", b'{"Dev":5}'),
    ]:
        ack = await client.publish(topic, payload)
        assert isinstance(ack, Puback)
        assert ack.reason_code == 0x99, (topic, payload)
    ack = await client.publish("v1/gateway/unknown", b"{}")
    assert isinstance(ack, Puback)
    assert ack.reason_code == 0x90


async def test_a_gateway_cannot_speak_for_devices_that_are_not_its_own(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    """Unlike ThingsBoard, naming an existing device is not enough: it could open a claim
    window on any unclaimed device of the tenant."""
    gateway, token = await maker.gateway()
    other, _ = await maker.device(name="Pre-made")
    client = await gateway_client(mqtt, token)
    for topic, payload in [
        ("v1/gateway/claim", b'{"Pre-made":{"secretKey":"mine"}}'),
        ("v1/gateway/telemetry", b'{"Pre-made":[{"t":1}]}'),
        ("v1/gateway/connect", b'{"device":"Pre-made"}'),
        ("v1/gateway/connect", f'{{"device":"{gateway["name"]}"}}'.encode()),
    ]:
        ack = await client.publish(topic, payload)
        assert isinstance(ack, Puback)
        assert ack.reason_code == 0x87, topic
    # The tenant binds the device to the gateway: now the gateway may speak for it.
    other["additionalInfo"] = {"lastConnectedGateway": gateway["id"]["id"]}
    await maker.api.ok("POST", "/api/device", maker.tenant, json=other)
    await client.publish_ok("v1/gateway/telemetry", b'{"Pre-made":[{"t":1}]}')
