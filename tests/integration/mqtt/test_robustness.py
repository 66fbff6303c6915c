"""Broken clients lose their own connection only; ordering under pipelining; shutdown."""

from __future__ import annotations

import asyncio

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.mqtt.protocol.packets import Connect, Disconnect, Puback, Publish
from gridlinks.mqtt.protocol.properties import PropertyId
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RawClient, RunningMqtt, start_mqtt

TELEMETRY = "v1/devices/me/telemetry"


async def connected(mqtt: RunningMqtt, token: str, level: int = 5) -> RawClient:
    client = await mqtt.client(level)
    assert (await client.connect(token)).reason_code == 0
    return client


@pytest.mark.parametrize(
    ("garbage", "expected"),
    [
        (b"\x30\xff\xff\xff\xff\x7f", [Disconnect(0x81)]),  # remaining length over 4 bytes
        (b"\x32\x05\x00\x01\xff\x00\x01", [Disconnect(0x81)]),  # topic is not UTF-8
        (b"\x00\x00", [Disconnect(0x81)]),  # reserved packet type 0
        (b"\x62\x02\x00\x00", [Disconnect(0x81)]),  # PUBREL with packet id 0
    ],
)
async def test_a_malformed_packet_closes_only_its_connection(
    mqtt: RunningMqtt, maker: Maker, garbage: bytes, expected: list[object]
) -> None:
    _, bystander_token = await maker.device()
    _, token = await maker.device()
    bystander = await connected(mqtt, bystander_token)
    broken = await connected(mqtt, token)
    await broken.send_raw(garbage)
    assert await broken.closed_by_server() == expected
    await bystander.publish_ok(TELEMETRY, b'{"still":"here"}')


async def test_garbage_before_connect_is_dropped_silently(mqtt: RunningMqtt) -> None:
    client = await mqtt.client(4)
    await client.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await client.closed_by_server() == []


async def test_an_oversized_packet_is_refused_before_it_is_buffered(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.device()
    client = await connected(mqtt, token)
    size = platform.settings.mqtt_max_packet_bytes + 1
    # Only the header is sent: the server must not wait for the body.
    await client.send_raw(b"\x30" + _variable_int(size))
    assert await client.closed_by_server() == [Disconnect(0x95)]


async def test_second_connect_is_a_protocol_error(mqtt: RunningMqtt, maker: Maker) -> None:
    _, token = await maker.device()
    client = await connected(mqtt, token)
    await client.send(Connect("", protocol_level=5, username=token))
    assert await client.closed_by_server() == [Disconnect(0x82)]


async def test_first_packet_must_be_connect(mqtt: RunningMqtt) -> None:
    client = await mqtt.client(4)
    await client.send(Publish(TELEMETRY, b"{}"))
    assert await client.closed_by_server() == []


async def test_topic_alias_is_refused_because_none_are_announced(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.device()
    client = await connected(mqtt, token)
    aliased = Publish(TELEMETRY, b"{}", 1, packet_id=1, properties=((PropertyId.TOPIC_ALIAS, 1),))
    await client.send(aliased)
    assert await client.closed_by_server() == [Disconnect(0x94)]


async def test_pipelined_messages_are_all_acknowledged_in_order(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    """More messages than the receive maximum at once: reading pauses, nothing is lost."""
    device, token = await maker.device()
    client = await connected(mqtt, token, 4)
    count = 500
    data = b"".join(_publish_bytes(client, i) for i in range(1, count + 1))
    await client.send_raw(data)
    acks = [await client.receive() for _ in range(count)]
    assert acks == [Puback(i) for i in range(1, count + 1)]
    path = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"
    stored = await maker.get(f"{path}?keys=n&startTs=0&endTs=9999999999999&limit=1000")
    assert len(stored["n"]) == count


def _publish_bytes(client: RawClient, i: int) -> bytes:
    from gridlinks.mqtt.protocol.codec import encode

    payload = b'{"ts":%d,"values":{"n":%d}}' % (1700000000000 + i, i)
    return encode(Publish(TELEMETRY, payload, 1, packet_id=i), client.level)


async def test_shutdown_tells_v5_clients_and_acknowledges_what_it_received(
    platform: Platform, maker: Maker
) -> None:
    await platform.start()
    running = await start_mqtt(platform)
    _, token = await maker.device()
    client = await running.client(5)
    assert (await client.connect(token)).reason_code == 0
    await client.send_raw(_publish_bytes(client, 1))
    await asyncio.sleep(0.05)
    await running.server.close()
    packets = await client.closed_by_server()
    assert packets == [Puback(1), Disconnect(0x8B)]


def _variable_int(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


async def test_a_refused_message_in_a_pipelined_run_keeps_its_place(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    """Telemetry queued together is processed together; acknowledgements stay in order and
    each carries its own reason."""
    from gridlinks.mqtt.protocol.codec import encode

    device, token = await maker.device()
    client = await connected(mqtt, token, 5)
    payloads = [
        b'{"ts":1700000000001,"values":{"r":1}}',
        b"{broken",
        b'[{"ts":1700000000003,"values":{"r":3}}]',
    ]
    data = b"".join(
        encode(Publish(TELEMETRY, payload, 1, packet_id=i), 5)
        for i, payload in enumerate(payloads, start=1)
    )
    await client.send_raw(data)
    acks = [await client.receive() for _ in payloads]
    assert acks == [Puback(1), Puback(2, 0x99), Puback(3)]
    path = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"
    stored = await maker.get(f"{path}?keys=r&startTs=0&endTs=9999999999999&useStrictDataTypes=true")
    assert [point["value"] for point in stored["r"]] == [3, 1]
