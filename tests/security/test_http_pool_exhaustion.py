"""When every database connection (or SQLite's write lock) is taken, requests are refused with
503 and ``Retry-After`` within the configured wait, and MQTT messages with "server busy": never
a 500, never an endless queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.mqtt.protocol.packets import Disconnect, Publish, ReasonCode
from tests.integration.factories import Api
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import RunningMqtt

WAIT_SECONDS = 0.3
POOL_WITH_OVERFLOW = 2  # pool size 1, as many again in overflow


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """This module's platform: one pooled connection (two with the overflow), a short wait."""
    narrow = settings.model_copy(
        update={"database_pool_size": 1, "database_pool_timeout_seconds": WAIT_SECONDS}
    )
    built = build_platform(narrow)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    body = response.json()
    assert body["status"] == 503
    assert body["errorCode"] == 2
    assert "retry" in body["message"]


async def test_requests_get_503_with_retry_after_while_every_connection_is_taken(
    platform: Platform, api: Api
) -> None:
    held = [platform.unit_of_work(write=False) for _ in range(POOL_WITH_OVERFLOW)]
    for unit in held:
        await unit.__aenter__()
    try:
        _assert_busy(await api.client.get("/api/auth/user", headers=api.sysadmin.headers))
    finally:
        for unit in held:
            await unit.__aexit__(None, None, None)
    # Once the connections are back, the same request is served.
    response = await api.client.get("/api/auth/user", headers=api.sysadmin.headers)
    assert response.status_code == 200


async def test_writes_get_503_while_another_write_holds_the_database_too_long(
    platform: Platform, api: Api
) -> None:
    if not platform.database.is_sqlite:
        pytest.skip("PostgreSQL has no single-writer lock: concurrent writes proceed")
    async with platform.unit_of_work():
        response = await api.client.post(
            "/api/customer", headers=api.sysadmin.headers, json={"title": "never stored"}
        )
        _assert_busy(response)


async def test_an_mqtt_message_that_finds_no_connection_free_is_refused_with_server_busy(
    platform: Platform, maker: Maker, mqtt: RunningMqtt
) -> None:
    _, token = await maker.device()
    device = await mqtt.client()
    await device.connect(token)
    held = [platform.unit_of_work(write=False) for _ in range(POOL_WITH_OVERFLOW)]
    for unit in held:
        await unit.__aenter__()
    try:
        await device.send(Publish("v1/devices/me/attributes", b'{"a": 1}', qos=1, packet_id=1))
        sent = await device.closed_by_server()
    finally:
        for unit in held:
            await unit.__aexit__(None, None, None)
    # Not acknowledged (the device sends it again after reconnecting), and told why.
    assert sent == [Disconnect(ReasonCode.SERVER_BUSY)]
