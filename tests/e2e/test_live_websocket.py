"""ThingsBoard's telemetry WebSocket against ``gridlinks serve``, with the ``websockets`` client.

A customer user claims a device, subscribes to its telemetry over the WebSocket, the device
publishes over MQTT (tb-mqtt-client), the update arrives within 1 s; releasing the device (or
the tenant unassigning it) ends the subscription with an error frame.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from tb_device_mqtt import TBDeviceMqttClient
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e import running_server
from tests.e2e.claiming_helpers import (
    VALID_WINDOW_MS,
    ClaimingTenancy,
    announce,
    claim,
    create_device,
    ok,
    release,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import acknowledged, connected_tb_client, server_log_has
from tests.e2e.running_server import Server, StartServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FRAME_TIMEOUT_SECONDS = 5.0


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def token_of(client: Any) -> str:
    return str(client.headers["X-Authorization"].removeprefix("Bearer "))


@contextmanager
def live(base_url: str, token: str) -> Iterator[ClientConnection]:
    url = base_url.replace("http://", "ws://") + f"/api/ws/plugins/telemetry?token={token}"
    with connect(url, open_timeout=FRAME_TIMEOUT_SECONDS) as websocket:
        yield websocket


def frame(websocket: ClientConnection, timeout: float = FRAME_TIMEOUT_SECONDS) -> dict[str, Any]:
    received: dict[str, Any] = json.loads(websocket.recv(timeout=timeout))
    return received


def send(websocket: ClientConnection, message: dict[str, Any]) -> None:
    websocket.send(json.dumps(message))


def subscribe_telemetry(websocket: ClientConnection, device_id: str, cmd_id: int = 1) -> None:
    command = {"entityType": "DEVICE", "entityId": device_id, "scope": "LATEST_TELEMETRY"}
    send(websocket, {"tsSubCmds": [{**command, "cmdId": cmd_id}]})


def claimed_device(tenancy: ClaimingTenancy) -> tuple[dict[str, Any], str]:
    """A device of the tenant, claimed by ``tenancy.buyer`` (device-side HTTP announcement)."""
    token, name = unique_token(), unique("Meter")
    device = create_device(tenancy.admin, name, token)
    body = {"secretKey": "s3cret", "durationMs": VALID_WINDOW_MS}
    assert announce(tenancy.base_url, token, body).status_code == 200
    assert claim(tenancy.buyer.client, name, {"secretKey": "s3cret"}).status_code == 200
    return device, token


def test_subscriber_gets_latest_values_first_then_mqtt_telemetry_within_one_second(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, token = claimed_device(tenancy)
    device_id = device["id"]["id"]
    with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as sdk:
        stored = sdk.send_telemetry({"ts": 1000, "values": {"temperature": 21.5}})
        assert stored.get() == 0 and acknowledged(stored)
        with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
            subscribe_telemetry(websocket, device_id)
            first = frame(websocket)
            assert first["subscriptionId"] == 1
            assert (first["errorCode"], first["errorMsg"]) == (0, None)
            assert first["data"] == {"temperature": [[1000, "21.5"]]}
            assert first["latestValues"] == {"temperature": 1000}

            sent_at = time.monotonic()
            sdk.send_telemetry({"temperature": 22.5, "on": True})
            update = frame(websocket, timeout=1.0)
            elapsed = time.monotonic() - sent_at

    assert elapsed < 1.0
    assert update["subscriptionId"] == 1
    assert update["data"]["temperature"][0][1] == "22.5"
    assert update["data"]["on"][0][1] == "true"


def test_release_ends_the_customer_subscription_with_an_error_frame(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, _ = claimed_device(tenancy)
    with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
        subscribe_telemetry(websocket, device["id"]["id"], cmd_id=7)
        assert frame(websocket)["errorCode"] == 0

        ok(release(tenancy.buyer.client, device["name"]))
        ended = frame(websocket)

    assert ended["subscriptionId"] == 7
    assert ended["errorCode"] == 3
    assert ended["data"] is None


def test_tenant_unassign_ends_the_customer_subscription_but_not_the_admins(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, token = claimed_device(tenancy)
    device_id = device["id"]["id"]
    with (
        live(server.base_url, token_of(tenancy.buyer.client)) as customer,
        live(server.base_url, token_of(tenancy.admin)) as admin,
    ):
        subscribe_telemetry(customer, device_id)
        subscribe_telemetry(admin, device_id)
        assert frame(customer)["errorCode"] == 0
        assert frame(admin)["errorCode"] == 0

        ok(tenancy.admin.delete(f"/api/customer/device/{device_id}"))
        assert frame(customer)["errorCode"] == 3
        response = tenancy.admin.post(f"/api/v1/{token}/telemetry", json={"t": 1})
        assert response.status_code == 200
        assert frame(admin)["data"]["t"][0][1] == "1"


def test_history_command_answers_stored_points_as_strings(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, token = claimed_device(tenancy)
    points = [{"ts": ts, "values": {"power": ts / 10}} for ts in (1000, 2000, 3000)]
    assert tenancy.admin.post(f"/api/v1/{token}/telemetry", json=points).status_code == 200
    command = {
        "entityType": "DEVICE",
        "entityId": device["id"]["id"],
        "keys": "power",
        "startTs": 1500,
        "endTs": 3000,
        "cmdId": 4,
        "agg": "NONE",
    }
    with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
        send(websocket, {"historyCmds": [command]})
        answer = frame(websocket)

    assert answer["subscriptionId"] == 4
    assert answer["data"] == {"power": [[3000, "300.0"], [2000, "200.0"]]}


def test_attribute_subscription_sees_a_shared_attribute_write(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, _ = claimed_device(tenancy)
    device_id = device["id"]["id"]
    command = {"entityType": "DEVICE", "entityId": device_id, "scope": "SHARED_SCOPE", "cmdId": 2}
    with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
        send(websocket, {"attrSubCmds": [command]})
        assert frame(websocket)["data"] == {}

        path = f"/api/plugins/telemetry/DEVICE/{device_id}/attributes/SHARED_SCOPE"
        ok(tenancy.admin.post(path, json={"targetTemperature": 19}))
        update = frame(websocket)

    assert update["subscriptionId"] == 2
    assert update["data"]["targetTemperature"][0][1] == "19"


def test_newer_endpoint_takes_auth_command_and_typed_commands(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, token = claimed_device(tenancy)
    assert tenancy.admin.post(f"/api/v1/{token}/telemetry", json={"rpm": 900}).status_code == 200
    url = server.base_url.replace("http://", "ws://") + "/api/ws"
    with connect(url, open_timeout=FRAME_TIMEOUT_SECONDS) as websocket:
        command = {"type": "TIMESERIES", "entityType": "DEVICE", "cmdId": 10}
        message = {
            "authCmd": {"cmdId": 0, "token": token_of(tenancy.buyer.client)},
            "cmds": [{**command, "entityId": device["id"]["id"]}],
        }
        send(websocket, message)
        first = frame(websocket)

    assert first["subscriptionId"] == 10
    assert first["data"]["rpm"][0][1] == "900"


def test_authorization_follows_tenants_and_customers(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, _ = claimed_device(tenancy)
    device_id = device["id"]["id"]
    other_tenant = set_up_claiming_tenancy(server)
    try:
        answers = {}
        for who, client in (
            ("tenant admin", tenancy.admin),
            ("owning customer", tenancy.buyer.client),
            ("other customer", tenancy.other.client),
            ("other tenant", other_tenant.admin),
        ):
            with live(server.base_url, token_of(client)) as websocket:
                subscribe_telemetry(websocket, device_id)
                answer = frame(websocket)
                answers[who] = (answer["errorCode"], answer["data"])
    finally:
        other_tenant.close()

    assert answers["tenant admin"] == (0, {})
    assert answers["owning customer"] == (0, {})
    assert answers["other customer"][0] == 3
    assert answers["other tenant"][0] == 2
    assert answers["other customer"][1] is None and answers["other tenant"][1] is None


def test_invalid_token_closes_with_policy_violation_without_echoing_it(server: Server) -> None:
    with (
        live(server.base_url, "not-a-jwt-secret-value") as websocket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        websocket.recv(timeout=FRAME_TIMEOUT_SECONDS)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "not-a-jwt" not in closed.value.rcvd.reason
    assert "not-a-jwt-secret-value" not in server.log_text()


def test_malformed_commands_get_error_frames_and_garbage_closes_only_that_client(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, _ = claimed_device(tenancy)
    token = token_of(tenancy.admin)
    with live(server.base_url, token) as bystander, live(server.base_url, token) as attacker:
        subscribe_telemetry(bystander, device["id"]["id"])
        assert frame(bystander)["errorCode"] == 0

        send(attacker, {"tsSubCmds": [{"entityType": "ASSET", "entityId": "x", "cmdId": 1}]})
        send(attacker, {"tsSubCmds": [{"entityType": "DEVICE", "entityId": 5, "cmdId": 2}]})
        send(attacker, {"historyCmds": "nope"})
        errors = [frame(attacker) for _ in range(3)]
        assert [(e["subscriptionId"], e["errorCode"]) for e in errors] == [(1, 2), (2, 2), (0, 2)]

        attacker.send("{not json")
        with pytest.raises(ConnectionClosed) as closed:
            attacker.recv(timeout=FRAME_TIMEOUT_SECONDS)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

        send(bystander, {"tsSubCmds": [{"cmdId": 1, "unsubscribe": True}]})
        subscribe_telemetry(bystander, device["id"]["id"], cmd_id=3)
        assert frame(bystander)["subscriptionId"] == 3


def test_oversized_message_closes_the_connection_with_1009(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    with live(server.base_url, token_of(tenancy.admin)) as websocket:
        websocket.send("[" + " " * 70_000 + "]")
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=FRAME_TIMEOUT_SECONDS)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_open_connection_outlives_the_http_header_timeout(start_server: StartServer) -> None:
    """The slow-client guard times out request heads, not upgraded WebSocket connections."""
    server = start_server(http_header_timeout_seconds="1")
    tenancy = set_up_claiming_tenancy(server)
    try:
        device, token = claimed_device(tenancy)
        with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
            subscribe_telemetry(websocket, device["id"]["id"])
            assert frame(websocket)["errorCode"] == 0
            time.sleep(1.5)
            response = tenancy.admin.post(f"/api/v1/{token}/telemetry", json={"late": 1})
            assert response.status_code == 200
            assert frame(websocket)["data"]["late"][0][1] == "1"
    finally:
        tenancy.close()


def test_server_stops_cleanly_while_a_subscriber_is_connected(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, _ = claimed_device(tenancy)
    with live(server.base_url, token_of(tenancy.buyer.client)) as websocket:
        subscribe_telemetry(websocket, device["id"]["id"])
        assert frame(websocket)["errorCode"] == 0

        running_server.stop(server)  # SIGTERM; exit code 0 within the timeout
        with pytest.raises(ConnectionClosed):
            websocket.recv(timeout=FRAME_TIMEOUT_SECONDS)


def test_newer_endpoint_closes_when_the_first_message_is_not_an_auth_command(
    server: Server,
) -> None:
    url = server.base_url.replace("http://", "ws://") + "/api/ws"
    with connect(url, open_timeout=FRAME_TIMEOUT_SECONDS) as websocket:
        send(websocket, {"cmds": [{"type": "TIMESERIES", "cmdId": 1}]})
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=FRAME_TIMEOUT_SECONDS)
    with connect(url, open_timeout=FRAME_TIMEOUT_SECONDS) as websocket:
        send(websocket, {"authCmd": {"cmdId": 0, "token": "forged.jwt.value"}})
        with pytest.raises(ConnectionClosed) as forged:
            websocket.recv(timeout=FRAME_TIMEOUT_SECONDS)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "Send authCmd with a JWT token first"
    assert forged.value.rcvd is not None and forged.value.rcvd.code == 1008
    assert forged.value.rcvd.reason == "Invalid JWT token"


def test_a_client_that_stops_reading_is_dropped_while_others_keep_getting_updates(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    """The slow client reads nothing (its library stops reading the socket once one message
    waits): 100 subscriptions of 8 KB updates fill the socket buffers, then its send queue."""
    device, token = claimed_device(tenancy)
    device_id = device["id"]["id"]
    jwt = token_of(tenancy.admin)
    url = server.base_url.replace("http://", "ws://") + f"/api/ws/plugins/telemetry?token={jwt}"
    with (
        connect(url, open_timeout=5, max_queue=1, compression=None) as slow,
        live(server.base_url, jwt) as bystander,
    ):
        command = {"entityType": "DEVICE", "entityId": device_id}
        send(slow, {"tsSubCmds": [{**command, "cmdId": n} for n in range(100)]})
        subscribe_telemetry(bystander, device_id)
        assert frame(bystander)["errorCode"] == 0

        for n in range(40):
            posted = tenancy.admin.post(
                f"/api/v1/{token}/telemetry", json={"blob": f"{n:08}" * 1024}
            )
            assert posted.status_code == 200
            assert frame(bystander)["data"]["blob"][0][1].startswith(f"{n:08}")
            if server_log_has(server, "live session dropped: client too slow"):
                break

        assert server_log_has(server, "live session dropped: client too slow")
        with pytest.raises(ConnectionClosed):
            while True:
                slow.recv(timeout=FRAME_TIMEOUT_SECONDS)


SUBSCRIBERS = 1000
# The aim is 1 s (the in-process fan-out is held to it in tests/integration/live); here the
# 1,000 clients share the CPU with the server and with parallel test workers: 0.2-0.3 s on an
# idle 2-core machine, over 1 s when it is loaded three times over. 3 s still fails a fan-out
# that waits on slow subscribers or sends one by one.
FAN_OUT_DEADLINE_SECONDS = 3.0


async def _subscriber(url: str, device_id: str, subscribed: asyncio.Semaphore) -> float:
    """Subscribe, note it, and return when (monotonic) the first update arrived."""
    async with async_connect(url, max_queue=None) as websocket:
        command = {"entityType": "DEVICE", "entityId": device_id, "cmdId": 1}
        await websocket.send(json.dumps({"tsSubCmds": [command]}))
        await websocket.recv()
        subscribed.release()
        update = json.loads(await websocket.recv())
        assert update["data"]["fanout"][0][1] == "1"
        return time.monotonic()


async def _fan_out(base_url: str, jwt: str, device_id: str, token: str) -> list[float]:
    url = base_url.replace("http://", "ws://") + f"/api/ws/plugins/telemetry?token={jwt}"
    subscribed = asyncio.Semaphore(0)
    tasks = [
        asyncio.create_task(_subscriber(url, device_id, subscribed)) for _ in range(SUBSCRIBERS)
    ]
    for _ in range(SUBSCRIBERS):  # every subscriber has its first frame
        await asyncio.wait_for(subscribed.acquire(), 60)
    async with httpx.AsyncClient() as http:
        sent_at = time.monotonic()
        response = await http.post(f"{base_url}/api/v1/{token}/telemetry", json={"fanout": 1})
        assert response.status_code == 200
    arrivals = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return [arrival - sent_at for arrival in arrivals]


def test_a_thousand_websocket_subscribers_get_a_device_update_at_once(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device, token = claimed_device(tenancy)
    delays = asyncio.run(
        _fan_out(server.base_url, token_of(tenancy.admin), device["id"]["id"], token)
    )

    assert len(delays) == SUBSCRIBERS
    slowest = max(delays)
    assert slowest < FAN_OUT_DEADLINE_SECONDS, f"slowest subscriber after {slowest:.3f} s"
