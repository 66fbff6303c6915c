"""CONNECT: token and MQTT basic authentication, refusals per protocol level, takeover,
keep-alive and connect timeouts, connection limit."""

from __future__ import annotations

import asyncio
import json

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.mqtt.protocol.packets import Connack, Disconnect, Pingreq, Pingresp
from gridlinks.mqtt.protocol.properties import PropertyId
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RunningMqtt

LEVELS = [3, 4, 5]
BAD_CREDENTIALS = {3: 4, 4: 4, 5: 0x86}
NOT_AUTHORIZED = {3: 5, 4: 5, 5: 0x87}


@pytest.mark.parametrize("level", LEVELS)
async def test_access_token_connects_at_every_level(
    mqtt: RunningMqtt, maker: Maker, level: int
) -> None:
    _, token = await maker.device()
    client = await mqtt.client(level)
    connack = await client.connect(token, client_id="" if level != 3 else "dev-1")
    assert connack.reason_code == 0
    assert connack.session_present is False
    await client.send(Pingreq())
    assert isinstance(await client.receive(), Pingresp)
    await client.close()


async def test_v5_connack_announces_limits_and_assigns_a_client_id(
    mqtt: RunningMqtt, maker: Maker, platform: Platform
) -> None:
    _, token = await maker.device()
    client = await mqtt.client(5)
    connack = await client.connect(token)
    properties = dict(connack.properties)
    assert properties[PropertyId.RECEIVE_MAXIMUM] == platform.settings.mqtt_receive_maximum
    assert properties[PropertyId.MAXIMUM_PACKET_SIZE] == platform.settings.mqtt_max_packet_bytes
    assert properties[PropertyId.ASSIGNED_CLIENT_IDENTIFIER]
    await client.close()


async def test_clean_start_0_with_an_empty_client_id_is_accepted_at_level_5(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    """tb-mqtt-client reconnects with clean start 0 and an empty client id (contract §1.1)."""
    _, token = await maker.device()
    client = await mqtt.client(5)
    assert (await client.connect(token, clean_start=False)).reason_code == 0
    await client.close()


@pytest.mark.parametrize("level", LEVELS)
async def test_wrong_token_is_refused_with_the_code_of_the_level(
    mqtt: RunningMqtt, maker: Maker, level: int
) -> None:
    await maker.device()
    client = await mqtt.client(level)
    connack = await client.connect("not-a-token", client_id="c1")
    assert connack.reason_code == BAD_CREDENTIALS[level]
    assert await client.closed_by_server() == []


@pytest.mark.parametrize("level", [4, 5])
async def test_no_credentials_at_all_is_not_authorized(mqtt: RunningMqtt, level: int) -> None:
    client = await mqtt.client(level)
    connack = await client.connect(None)
    assert connack.reason_code == NOT_AUTHORIZED[level]
    await client.closed_by_server()


async def test_an_unknown_client_id_alone_is_bad_credentials(mqtt: RunningMqtt) -> None:
    client = await mqtt.client(4)
    assert (await client.connect(None, client_id="nobody")).reason_code == 4


async def test_empty_client_id_needs_clean_session_at_311_and_is_refused_at_31(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.device()
    v311 = await mqtt.client(4)
    assert (await v311.connect(token, clean_start=False)).reason_code == 2
    v31 = await mqtt.client(3)
    assert (await v31.connect(token)).reason_code == 2


async def test_unsupported_protocol_level_gets_return_code_1(mqtt: RunningMqtt) -> None:
    client = await mqtt.client(4)
    # CONNECT "MQTT" level 6
    await client.send_raw(bytes.fromhex("100d00044d5154540602003c0001") + b"x")
    packets = await client.closed_by_server()
    assert packets == [Connack(False, 1)]


async def test_mqtt_basic_credentials(mqtt: RunningMqtt, maker: Maker) -> None:
    device, _ = await maker.device()
    credentials = await maker.get(f"/api/device/{device['id']['id']}/credentials")
    credentials.update(
        credentialsType="MQTT_BASIC",
        credentialsValue=json.dumps({"clientId": "cid-7", "userName": "u7", "password": "pw7"}),
    )
    await maker.api.ok("POST", "/api/device/credentials", maker.tenant, json=credentials)

    good = await mqtt.client(4)
    assert (await good.connect("u7", client_id="cid-7", password=b"pw7")).reason_code == 0
    await good.close()
    wrong = await mqtt.client(4)
    assert (await wrong.connect("u7", client_id="cid-7", password=b"nope")).reason_code == 4
    missing = await mqtt.client(5)
    assert (await missing.connect("u7", client_id="cid-7")).reason_code == 0x86


async def test_a_second_connection_of_the_device_replaces_the_first(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.device()
    first = await mqtt.client(5)
    await first.connect(token)
    second = await mqtt.client(5)
    assert (await second.connect(token)).reason_code == 0
    assert await first.closed_by_server() == [Disconnect(0x8E)]
    await second.send(Pingreq())
    assert isinstance(await second.receive(), Pingresp)
    await second.close()


async def test_silent_client_is_dropped_after_one_and_a_half_keep_alives(
    mqtt: RunningMqtt, maker: Maker
) -> None:
    _, token = await maker.device()
    client = await mqtt.client(5)
    await client.connect(token, keep_alive_seconds=1)
    started = asyncio.get_running_loop().time()
    assert await client.closed_by_server(wait_seconds=5) == [Disconnect(0x8D)]
    elapsed = asyncio.get_running_loop().time() - started
    assert 1.4 <= elapsed < 3.0


async def test_a_client_that_never_sends_connect_is_dropped(
    platform: Platform, maker: Maker
) -> None:
    platform.settings.mqtt_connect_timeout_seconds = 0.3
    from tests.integration.mqtt.harness import start_mqtt

    running = await start_mqtt(platform)
    try:
        client = await running.client(5)
        assert await client.closed_by_server(wait_seconds=3) == []
    finally:
        await running.close()


async def test_connections_beyond_the_limit_get_server_busy(
    platform: Platform, maker: Maker
) -> None:
    platform.settings.mqtt_max_connections = 1
    from tests.integration.mqtt.harness import start_mqtt

    _, token = await maker.device()
    running = await start_mqtt(platform)
    try:
        first = await running.client(5)
        assert (await first.connect(token)).reason_code == 0
        second = await running.client(5)
        assert (await second.connect(token)).reason_code == 0x89
        third = await running.client(4)
        assert (await third.connect(token)).reason_code == 3
    finally:
        await running.close()


async def test_credentials_never_reach_the_log(
    mqtt: RunningMqtt, maker: Maker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="gridlinks")  # the CLI keeps driver loggers quiet
    _, token = await maker.device()
    good = await mqtt.client(5)
    await good.connect(token)
    await good.publish("v1/devices/me/claim", b'{"secretKey":"hunter2-secret"}')
    await good.publish("v1/devices/me/telemetry", b"{broken hunter2-secret")
    wrong = await mqtt.client(4)
    await wrong.connect("wrong-token-value", client_id="c", password=b"p4ssw0rd-value")
    await good.close()
    text = caplog.text
    assert "refused" in text  # the refusal is logged ...
    for secret in (token, "wrong-token-value", "p4ssw0rd-value", "hunter2-secret"):
        assert secret not in text  # ... without any credential or payload
