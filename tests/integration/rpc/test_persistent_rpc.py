"""Persistent RPC: stored with its state, delivered when the device connects, retried,
expired, listed, deleted; it survives a restart of the server."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.kit.clock import FixedClock
from tests.integration.factories import Api, expect_error
from tests.integration.rpc.conftest import Simulate
from tests.integration.rpc.devices import echo, open_shop

BODY = {"method": "reboot", "params": {"delay": 3}, "persistent": True, "timeout": 60_000}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time_ns() // 1_000_000)


@pytest.fixture
async def platform(settings: Settings, clock: FixedClock) -> AsyncIterator[Platform]:
    built = build_platform(settings, clock=clock)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


async def _send(api: Api, shop_device: uuid.UUID, headers: dict[str, str], **body: Any) -> str:
    response = await api.client.post(
        f"/api/rpc/twoway/{shop_device}", headers=headers, json={**BODY, **body}
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"rpcId"}
    return str(response.json()["rpcId"])


async def _rpc(api: Api, rpc_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.client.get(f"/api/rpc/persistent/{rpc_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_call_to_an_offline_device_is_queued_in_thingsboards_shape(
    api: Api, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers, additionalInfo={"note": 1})
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert rpc["id"] == {"entityType": "RPC", "id": rpc_id}
    assert rpc["deviceId"] == {"entityType": "DEVICE", "id": str(shop.device_id)}
    assert rpc["status"] == "QUEUED" and rpc["response"] is None
    assert rpc["createdTime"] == clock.now_ms()
    assert rpc["expirationTime"] == clock.now_ms() + 60_000
    assert rpc["additionalInfo"] == {"note": 1}
    request = rpc["request"]
    assert request["body"] == {"method": "reboot", "params": '{"delay":3}'}
    assert request["oneway"] is False and request["persisted"] is True
    assert request["retries"] == 5


async def test_a_queued_call_is_delivered_when_the_device_connects_and_succeeds(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    device = simulate(shop.device_id, answer=echo)
    await platform.rpc.device_connected(shop.device_id)
    await device.settle()
    assert device.calls[0].rpc_id == uuid.UUID(rpc_id)
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert rpc["status"] == "SUCCESSFUL"
    assert rpc["response"] == {"method": "reboot", "echo": {"delay": 3}}


async def test_a_call_to_a_connected_device_is_sent_at_once(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id, acknowledge=False)
    rpc_id = await _send(api, shop.device_id, shop.tenant.headers)
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "SENT"
    await platform.rpc.rpc_delivered(shop.device_id, device.calls[0].request_id)
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "DELIVERED"
    await platform.rpc.rpc_replied(shop.device_id, device.calls[0].request_id, "done")
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert (rpc["status"], rpc["response"]) == ("SUCCESSFUL", "done")


async def test_a_one_way_call_is_done_once_delivered_as_in_thingsboard(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id)
    response = await api.client.post(
        f"/api/plugins/rpc/oneway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    rpc_id = response.json()["rpcId"]
    await device.settle()
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert (rpc["status"], rpc["request"]["oneway"]) == ("DELIVERED", True)


async def test_a_late_delivery_report_does_not_undo_success(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id, acknowledge=False)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    request_id = device.calls[0].request_id
    await platform.rpc.rpc_replied(shop.device_id, request_id, {"ok": 1})
    await platform.rpc.rpc_delivered(shop.device_id, request_id)
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "SUCCESSFUL"


async def test_an_unacknowledged_call_is_resent_on_reconnect_until_its_retries_are_used(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id, acknowledge=False)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers, retries=1)
    await platform.rpc.device_connected(shop.device_id)  # the one retry
    assert len(device.calls) == 2
    assert device.calls[0].request_id == device.calls[1].request_id
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "SENT"
    await platform.rpc.device_connected(shop.device_id)
    assert len(device.calls) == 2
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert rpc["status"] == "FAILED" and "retries" in rpc["response"]["error"]


async def test_calls_past_their_expiration_time_expire_or_time_out(
    simulate: Simulate, api: Api, platform: Platform, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    queued = await _send(api, shop.device_id, shop.owner.headers)
    device = simulate(shop.device_id)
    delivered = await _send(api, shop.device_id, shop.owner.headers)
    await device.settle()
    clock.advance(60_000)
    async with platform.unit_of_work() as uow:
        assert await platform.rpc.expire_due(uow) == 2
        await uow.commit()
    assert (await _rpc(api, queued, shop.owner.headers))["status"] == "EXPIRED"
    assert (await _rpc(api, delivered, shop.owner.headers))["status"] == "TIMEOUT"


async def test_an_expired_call_is_not_sent_when_the_device_connects(
    simulate: Simulate, api: Api, platform: Platform, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    await _send(api, shop.device_id, shop.owner.headers)
    clock.advance(60_001)
    device = simulate(shop.device_id)
    await platform.rpc.device_connected(shop.device_id)
    assert device.calls == []


async def test_a_deleted_call_is_gone_and_never_sent(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    await api.ok("DELETE", f"/api/rpc/persistent/{rpc_id}", shop.tenant)
    response = await api.client.get(f"/api/rpc/persistent/{rpc_id}", headers=shop.owner.headers)
    expect_error(response, 404, 32)
    device = simulate(shop.device_id)
    await platform.rpc.device_connected(shop.device_id)
    assert device.calls == []


async def test_the_devices_calls_are_paged_and_filtered_by_status(
    simulate: Simulate, api: Api, platform: Platform, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    first = await _send(api, shop.device_id, shop.owner.headers)
    clock.advance(1)
    second = await _send(api, shop.device_id, shop.owner.headers, method="second")
    clock.advance(1)
    device = simulate(shop.device_id, answer=echo)
    third = await _send(api, shop.device_id, shop.owner.headers, method="third")
    await device.settle()
    base = f"/api/rpc/persistent/device/{shop.device_id}"
    page = await api.ok("GET", f"{base}?pageSize=2&page=0&sortOrder=DESC", shop.owner)
    assert [r["id"]["id"] for r in page["data"]] == [third, second]
    assert (page["totalElements"], page["totalPages"], page["hasNext"]) == (3, 2, True)
    done = await api.ok("GET", f"{base}?pageSize=10&page=0&rpcStatus=SUCCESSFUL", shop.owner)
    assert [r["id"]["id"] for r in done["data"]] == [third]
    queued = await api.ok("GET", f"{base}?pageSize=10&page=0&rpcStatus=QUEUED", shop.tenant)
    assert {r["id"]["id"] for r in queued["data"]} == {first, second}
    bad = await api.client.get(
        f"{base}?pageSize=10&page=0&rpcStatus=LOST", headers=shop.owner.headers
    )
    expect_error(bad, 400, 30)


async def test_stored_calls_survive_a_restart_and_are_delivered_after_it(
    simulate: Simulate, api: Api, settings: Settings, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    restarted = build_platform(settings, clock=clock)
    await restarted.start()
    try:
        device = simulate(shop.device_id, on=restarted, answer=echo)
        await restarted.rpc.device_connected(shop.device_id)
        await device.settle()
        transport = httpx.ASGITransport(app=create_app(restarted))
        async with httpx.AsyncClient(transport=transport, base_url="http://n2") as client:
            response = await client.get(f"/api/rpc/persistent/{rpc_id}", headers=shop.owner.headers)
        assert response.json()["status"] == "SUCCESSFUL"
    finally:
        await restarted.close()


async def test_a_delivered_one_way_call_is_done_and_never_times_out(
    simulate: Simulate, api: Api, platform: Platform, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id)
    rpc_id = (await api.ok("POST", f"/api/rpc/oneway/{shop.device_id}", shop.owner, json=BODY))[
        "rpcId"
    ]
    await device.settle()
    clock.advance(60_000)
    async with platform.unit_of_work() as uow:
        assert await platform.rpc.expire_due(uow) == 0
        await uow.commit()
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "DELIVERED"


async def test_a_reply_the_database_cannot_keep_is_recorded_as_an_error(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id, answer=lambda call: {"text": "nul\u0000here"})
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    await device.settle()
    rpc = await _rpc(api, rpc_id, shop.owner.headers)
    assert rpc["status"] == "SUCCESSFUL"
    assert "could not be stored" in rpc["response"]["error"]


async def test_a_device_with_too_many_pending_stored_calls_refuses_more_with_429(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gridlinks.rpc.service.MAX_OPEN_PERSISTENT_PER_DEVICE", 2)
    shop = await open_shop(api)
    await _send(api, shop.device_id, shop.owner.headers)
    await _send(api, shop.device_id, shop.tenant.headers)
    response = await api.client.post(
        f"/api/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    expect_error(response, 429, 33)
    assert response.headers["Retry-After"] == "60"


async def test_a_housekeeping_round_expires_stored_calls(
    api: Api, platform: Platform, clock: FixedClock
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers)
    clock.advance(60_000)
    await platform.housekeeping_round()
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "EXPIRED"


async def test_a_stored_call_the_connection_does_not_take_stays_queued_without_a_retry(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    rpc_id = await _send(api, shop.device_id, shop.owner.headers, retries=0)
    device = simulate(shop.device_id, answer=echo, takes_rpc=False)
    await platform.rpc.device_connected(shop.device_id)
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "QUEUED"
    device.takes_rpc = True  # subscribed now
    await platform.rpc.device_connected(shop.device_id)
    await device.settle()
    assert (await _rpc(api, rpc_id, shop.owner.headers))["status"] == "SUCCESSFUL"
