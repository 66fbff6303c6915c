"""Live (non-persistent) server-side RPC over REST, answered by a simulated device link."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from gridlinks.bootstrap import Platform
from tests.integration.factories import Api, expect_error
from tests.integration.rpc.conftest import Simulate
from tests.integration.rpc.devices import echo, open_shop

BODY = {"method": "setGpio", "params": {"pin": 7, "value": 1}}


async def test_a_two_way_call_returns_the_devices_reply(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id, answer=echo)
    response = await api.client.post(
        f"/api/plugins/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"method": "setGpio", "echo": {"pin": 7, "value": 1}}
    assert [call.body() for call in device.calls] == [BODY]


async def test_the_v2_path_returns_the_reply_too(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=lambda call: 42)
    response = await api.client.post(
        f"/api/rpc/twoway/{shop.device_id}", headers=shop.tenant.headers, json=BODY
    )
    assert (response.status_code, response.json()) == (200, 42)


async def test_a_one_way_call_answers_an_empty_200_once_delivered(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id)
    response = await api.client.post(
        f"/api/plugins/rpc/oneway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    assert (response.status_code, response.content) == (200, b"")
    assert device.calls[0].oneway and device.calls[0].method == "setGpio"


async def test_a_call_to_a_device_not_connected_is_409_on_the_plugin_path(api: Api) -> None:
    shop = await open_shop(api)
    for kind in ("oneway", "twoway"):
        response = await api.client.post(
            f"/api/plugins/rpc/{kind}/{shop.device_id}", headers=shop.owner.headers, json=BODY
        )
        expect_error(response, 409, 2)


async def test_a_call_to_a_device_not_connected_is_504_on_the_v2_path(api: Api) -> None:
    shop = await open_shop(api)
    response = await api.client.post(
        f"/api/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    expect_error(response, 504, 2)


@pytest.mark.slow
async def test_a_device_that_does_not_answer_times_out_with_408(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id)
    body = {**BODY, "timeout": 1000}  # raised to ThingsBoard's minimum of 5 s
    started = asyncio.get_running_loop().time()
    response = await api.client.post(
        f"/api/plugins/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=body
    )
    elapsed = asyncio.get_running_loop().time() - started
    expect_error(response, 408, 2)
    assert 4.5 <= elapsed < 8, elapsed
    assert len(platform.rpc.waiters) == 0


async def test_waiting_for_a_reply_holds_no_database_connection(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    device = simulate(shop.device_id)
    call = asyncio.create_task(
        api.client.post(
            f"/api/plugins/rpc/twoway/{shop.device_id}", headers=shop.owner.headers, json=BODY
        )
    )
    request_id = (await device.first_call()).request_id
    assert platform.database.pool_checked_out() == 0
    await platform.rpc.rpc_replied(shop.device_id, request_id, {"ok": True})
    response = await call
    assert response.json() == {"ok": True}


async def test_a_device_cannot_answer_another_devices_request(
    simulate: Simulate, api: Api, platform: Platform, client: httpx.AsyncClient
) -> None:
    shop = await open_shop(api)
    other = await api.create_device(shop.tenant)
    device = simulate(shop.device_id)
    call = asyncio.create_task(
        client.post(
            f"/api/plugins/rpc/twoway/{shop.device_id}",
            headers=shop.owner.headers,
            json={**BODY, "timeout": 5000},
        )
    )
    request_id = (await device.first_call()).request_id
    await platform.rpc.rpc_replied(uuid.UUID(other["id"]["id"]), request_id, "forged")
    await platform.rpc.rpc_replied(shop.device_id, request_id + 1, "wrong id")
    await platform.rpc.rpc_replied(shop.device_id, request_id, "genuine")
    assert (await call).json() == "genuine"


async def test_a_reply_nobody_waits_for_is_ignored(api: Api, platform: Platform) -> None:
    shop = await open_shop(api)
    await platform.rpc.rpc_replied(shop.device_id, 12345, {"late": True})
    await platform.rpc.rpc_delivered(shop.device_id, 12345)
    assert len(platform.rpc.waiters) == 0


async def test_the_call_is_in_the_audit_log(
    simulate: Simulate, api: Api, platform: Platform
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=echo)
    await api.ok("POST", f"/api/rpc/twoway/{shop.device_id}", shop.owner, json=BODY)
    await api.client.post(
        f"/api/rpc/oneway/{shop.device_id}", headers=shop.owner.headers, json=BODY
    )
    logs = await api.ok(
        "GET", "/api/audit/logs?pageSize=10&page=0&actionTypes=RPC_CALL", shop.tenant
    )
    entries = logs["data"]
    assert [e["actionStatus"] for e in entries] == ["SUCCESS", "SUCCESS"]
    assert entries[0]["actionData"]["method"] == "setGpio"
    assert {e["actionData"]["oneWay"] for e in entries} == {True, False}


async def test_too_many_calls_waiting_for_one_device_are_refused_with_429(
    simulate: Simulate, api: Api, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gridlinks.rpc.service.MAX_WAITING_CALLS_PER_DEVICE", 1)
    shop = await open_shop(api)
    device = simulate(shop.device_id)
    path = f"/api/rpc/twoway/{shop.device_id}"
    waiting = asyncio.create_task(api.client.post(path, headers=shop.owner.headers, json=BODY))
    request_id = (await device.first_call()).request_id
    refused = await api.client.post(path, headers=shop.owner.headers, json=BODY)
    expect_error(refused, 429, 33)
    await platform.rpc.rpc_replied(shop.device_id, request_id, "first")
    assert (await waiting).json() == "first"


async def test_concurrent_calls_to_one_device_each_get_their_own_reply(
    simulate: Simulate, api: Api
) -> None:
    shop = await open_shop(api)
    simulate(shop.device_id, answer=echo)
    path = f"/api/plugins/rpc/twoway/{shop.device_id}"
    responses = await asyncio.gather(
        *(
            api.client.post(path, headers=shop.owner.headers, json={"method": "m", "params": n})
            for n in range(20)
        )
    )
    assert [r.json()["echo"] for r in responses] == list(range(20))
