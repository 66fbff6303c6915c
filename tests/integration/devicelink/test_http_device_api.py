"""The HTTP device API's RPC and attribute endpoints: long-polls for RPC requests and shared
attribute updates, RPC replies, client-side RPC and attribute reads - over ASGI, and over a
real uvicorn server for clients that go away mid-poll."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from gridlinks.delivery.messages import RpcCall
from tests.integration.devicelink.recording import RecordingRpcEvents, record_rpc_events
from tests.integration.factories import Account, Api
from tests.integration.mqtt.harness import listening_socket


@pytest.fixture
def recorder(platform: Platform) -> RecordingRpcEvents:
    return record_rpc_events(platform)


@pytest.fixture
async def tenant(api: Api) -> Account:
    return await api.create_tenant_admin()


async def device_with_token(api: Api, tenant: Account) -> tuple[uuid.UUID, str]:
    device = await api.create_device(tenant)
    credentials = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    return uuid.UUID(device["id"]["id"]), credentials["credentialsId"]


async def polling(platform: Platform, device_id: uuid.UUID, poll: asyncio.Task[Any]) -> None:
    """Wait until ``poll`` is waiting: its link to the device is registered."""
    await RecordingRpcEvents.until(
        lambda: platform.delivery.links.has(device_id) or poll.done(), "the poll waiting"
    )
    assert not poll.done(), poll.result()


async def test_an_rpc_long_poll_answers_the_request_and_reports_it_delivered(
    api: Api, tenant: Account, platform: Platform, recorder: RecordingRpcEvents
) -> None:
    device_id, token = await device_with_token(api, tenant)
    poll = asyncio.create_task(api.client.get(f"/api/v1/{token}/rpc", params={"timeout": 5000}))
    await polling(platform, device_id, poll)
    assert recorder.connected == [device_id]
    assert platform.database.pool_checked_out() == 0  # no database connection while waiting
    assert await platform.delivery.send(RpcCall(device_id, 9, "setGpio", {"pin": 4})) is True
    response = await poll
    assert response.status_code == 200
    assert response.json() == {"id": 9, "method": "setGpio", "params": {"pin": 4}}
    assert recorder.delivered == [(device_id, 9)]
    assert not platform.delivery.links.has(device_id)


async def test_an_rpc_long_poll_does_not_take_attribute_pushes(
    api: Api, tenant: Account, platform: Platform
) -> None:
    device_id, token = await device_with_token(api, tenant)
    poll = asyncio.create_task(api.client.get(f"/api/v1/{token}/rpc", params={"timeout": 300}))
    await polling(platform, device_id, poll)
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/SHARED_SCOPE"
    await api.ok("POST", path, tenant, json={"mode": "eco"})
    assert (await poll).status_code == 408


async def test_a_long_poll_with_nothing_to_take_ends_with_408(api: Api, tenant: Account) -> None:
    _, token = await device_with_token(api, tenant)
    for path in ("rpc", "attributes/updates"):
        response = await api.client.get(f"/api/v1/{token}/{path}", params={"timeout": 50})
        assert response.status_code == 408
        assert response.json()["status"] == 408


@pytest.mark.parametrize("bad", ["-1", "abc", "1.5", "300001", "9" * 15, "0x10"])
async def test_a_bad_timeout_is_a_400(api: Api, tenant: Account, bad: str) -> None:
    _, token = await device_with_token(api, tenant)
    for path in ("rpc", "attributes/updates"):
        response = await api.client.get(f"/api/v1/{token}/{path}", params={"timeout": bad})
        assert response.status_code == 400, (path, bad)
        assert "300000" in response.json()["message"]


async def test_an_unknown_token_is_a_401_for_every_endpoint(client: httpx.AsyncClient) -> None:
    token = "unknown-token-5e1d"
    calls = [
        ("GET", "rpc?timeout=1000", None),
        ("GET", "attributes/updates?timeout=1000", None),
        ("GET", "attributes", None),
        ("POST", "rpc", {"method": "getCurrentTime", "params": {}}),
        ("POST", "rpc/1", {"ok": True}),
    ]
    for method, path, body in calls:
        response = await client.request(method, f"/api/v1/{token}/{path}", json=body)
        assert response.status_code == 401, (method, path)
        assert token not in response.text


async def test_an_attribute_update_long_poll_gets_the_shared_change_and_the_deletion(
    api: Api, tenant: Account, platform: Platform
) -> None:
    device_id, token = await device_with_token(api, tenant)
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/SHARED_SCOPE"
    url = f"/api/v1/{token}/attributes/updates"
    poll = asyncio.create_task(api.client.get(url, params={"timeout": 5000}))
    await polling(platform, device_id, poll)
    await api.ok("POST", path, tenant, json={"targetTemp": 21})
    response = await poll
    assert (response.status_code, response.json()) == (200, {"targetTemp": 21})
    poll = asyncio.create_task(api.client.get(url, params={"timeout": 5000}))
    await polling(platform, device_id, poll)
    await api.ok("DELETE", f"{path}?keys=targetTemp", tenant)
    assert (await poll).json() == {"deleted": ["targetTemp"]}


async def test_deleting_the_device_ends_its_long_polls_with_401(
    api: Api, tenant: Account, platform: Platform
) -> None:
    device_id, token = await device_with_token(api, tenant)
    polls = [
        asyncio.create_task(api.client.get(f"/api/v1/{token}/{path}?timeout=5000"))
        for path in ("rpc", "attributes/updates")
    ]
    await RecordingRpcEvents.until(
        lambda: len(platform.delivery.links._links.get(device_id, [])) == 2, "both polls"
    )
    await api.ok("DELETE", f"/api/device/{device_id}", tenant)
    for poll in polls:
        response = await asyncio.wait_for(poll, 2)
        assert response.status_code == 401


async def test_new_credentials_end_the_long_polls_made_with_the_old_token(
    api: Api, tenant: Account, platform: Platform
) -> None:
    device_id, token = await device_with_token(api, tenant)
    poll = asyncio.create_task(api.client.get(f"/api/v1/{token}/rpc?timeout=5000"))
    await polling(platform, device_id, poll)
    credentials = await api.ok("GET", f"/api/device/{device_id}/credentials", tenant)
    credentials["credentialsId"] = f"new-{uuid.uuid4().hex}"
    await api.ok("POST", "/api/device/credentials", tenant, json=credentials)
    assert (await asyncio.wait_for(poll, 2)).status_code == 401


async def test_an_rpc_reply_reaches_rpc_replied(
    api: Api, tenant: Account, recorder: RecordingRpcEvents
) -> None:
    device_id, token = await device_with_token(api, tenant)
    response = await api.client.post(f"/api/v1/{token}/rpc/9", json={"result": "ok"})
    assert (response.status_code, response.content) == (200, b"")
    assert recorder.replied == [(device_id, 9, {"result": "ok"})]


@pytest.mark.parametrize("request_id", ["x", "-1", "99999999999", "1.5", "\u0661"])
async def test_an_rpc_reply_with_a_bad_id_is_a_400(
    api: Api, tenant: Account, recorder: RecordingRpcEvents, request_id: str
) -> None:
    _, token = await device_with_token(api, tenant)
    response = await api.client.post(f"/api/v1/{token}/rpc/{request_id}", json={"ok": 1})
    assert response.status_code == 400
    assert recorder.replied == []


async def test_an_rpc_reply_without_a_body_is_a_400(api: Api, tenant: Account) -> None:
    _, token = await device_with_token(api, tenant)
    response = await api.client.post(f"/api/v1/{token}/rpc/1", content=b"")
    assert response.status_code == 400


async def test_client_side_rpc_answers_get_current_time_and_session_limits(
    api: Api, tenant: Account, platform: Platform
) -> None:
    _, token = await device_with_token(api, tenant)
    before = platform.clock.now_ms()
    response = await api.client.post(
        f"/api/v1/{token}/rpc", json={"method": "getCurrentTime", "params": {}}
    )
    assert response.status_code == 200
    assert before <= response.json()["currentTime"] <= platform.clock.now_ms()
    limits = await api.client.post(f"/api/v1/{token}/rpc", json={"method": "getSessionLimits"})
    assert limits.json()["maxPayloadSize"] > 1000


async def test_client_side_rpc_of_another_method_answers_that_it_is_unsupported(
    api: Api, tenant: Account
) -> None:
    _, token = await device_with_token(api, tenant)
    response = await api.client.post(f"/api/v1/{token}/rpc", json={"method": "getWeather"})
    assert response.status_code == 200
    assert "Unsupported client-side RPC method 'getWeather'" in response.json()["error"]


@pytest.mark.parametrize(
    "body", [[1], {"params": {}}, {"method": 5}, {"method": ""}, {"method": "m" * 300}, "x"]
)
async def test_client_side_rpc_of_another_shape_is_a_400(
    api: Api, tenant: Account, body: Any
) -> None:
    _, token = await device_with_token(api, tenant)
    response = await api.client.post(f"/api/v1/{token}/rpc", json=body)
    assert response.status_code == 400
    assert "method" in response.json()["message"]


async def test_attributes_are_read_by_group_and_key(api: Api, tenant: Account) -> None:
    device_id, token = await device_with_token(api, tenant)
    await api.client.post(f"/api/v1/{token}/attributes", json={"fw": "1.0", "model": "X"})
    path = f"/api/plugins/telemetry/DEVICE/{device_id}/SHARED_SCOPE"
    await api.ok("POST", path, tenant, json={"targetTemp": 22, "mode": "eco"})
    url = f"/api/v1/{token}/attributes"
    every = (await api.client.get(url)).json()
    assert every == {
        "client": {"fw": "1.0", "model": "X"},
        "shared": {"targetTemp": 22, "mode": "eco"},
    }
    some = await api.client.get(url, params={"clientKeys": "fw", "sharedKeys": "mode,missing"})
    assert some.json() == {"client": {"fw": "1.0"}, "shared": {"mode": "eco"}}
    repeated = await api.client.get(f"{url}?sharedKeys=mode&sharedKeys=targetTemp")
    assert repeated.json() == {"shared": {"targetTemp": 22, "mode": "eco"}}


# --- a real HTTP server: clients that go away ------------------------------------------------


@pytest.fixture
async def http_server(platform: Platform) -> AsyncIterator[tuple[str, int]]:
    sock = listening_socket()
    config = uvicorn.Config(create_app(platform), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await RecordingRpcEvents.until(lambda: server.started, "uvicorn started")
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        await serving


async def test_a_client_going_away_mid_poll_leaves_no_link_behind(
    api: Api, tenant: Account, platform: Platform, http_server: tuple[str, int]
) -> None:
    device_id, token = await device_with_token(api, tenant)
    _reader, writer = await asyncio.open_connection(*http_server)
    writer.write(f"GET /api/v1/{token}/rpc?timeout=60000 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    await RecordingRpcEvents.until(lambda: platform.delivery.links.has(device_id), "the poll")
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    await RecordingRpcEvents.until(
        lambda: not platform.delivery.links.has(device_id), "the link removed"
    )
    assert await platform.delivery.send(RpcCall(device_id, 1, "reboot")) is False


async def test_two_polls_of_one_device_each_take_one_request(
    api: Api, tenant: Account, platform: Platform
) -> None:
    device_id, token = await device_with_token(api, tenant)
    url = f"/api/v1/{token}/rpc?timeout=5000"
    polls = [asyncio.create_task(api.client.get(url)) for _ in range(2)]
    await RecordingRpcEvents.until(
        lambda: len(platform.delivery.links._links.get(device_id, [])) == 2, "both polls"
    )
    assert await platform.delivery.send(RpcCall(device_id, 1, "a")) is True
    assert await platform.delivery.send(RpcCall(device_id, 2, "b")) is True
    assert await platform.delivery.send(RpcCall(device_id, 3, "c")) is False  # nobody waits
    answers = sorted([(await poll).json()["id"] for poll in polls])
    assert answers == [1, 2]
