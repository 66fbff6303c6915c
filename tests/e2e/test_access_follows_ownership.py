"""Access follows ownership, end to end: the customer that claimed a device reaches it (RPC,
telemetry, attributes); once it releases the device its users are refused at once (403);
another customer's user is refused (403), another tenant's administrator finds nothing (404),
all as ThingsBoard error JSON. Connected devices are told: deleting a device or changing its
credentials closes its MQTT connection (the SDK sees the disconnect and cannot come back with
the old token) and ends its HTTP long-poll.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from tb_device_mqtt import TBDeviceMqttClient

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    ok,
    release,
    set_up_claiming_tenancy,
    unique_token,
)
from tests.e2e.rpc_helpers import (
    PLUGINS,
    RPC,
    ClaimedDevice,
    DeviceRpcHandler,
    aside,
    assert_error,
    claimed_device,
    long_poll,
    persistent_rpc,
    send_persistent_rpc,
    send_rpc,
    tb_client,
    wait_disconnected,
    wait_for_rpc_status,
)
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def device_reads(client: httpx.Client, device: ClaimedDevice) -> list[httpx.Response]:
    """Every read a customer user makes of a device it owns."""
    base = f"/api/plugins/telemetry/DEVICE/{device.id}"
    return [
        client.get(f"{base}/values/timeseries", params={"keys": "temperature"}),
        client.get(f"{base}/values/attributes/SHARED_SCOPE"),
        client.get(f"{base}/keys/timeseries"),
        client.get(f"/api/device/{device.id}"),
    ]


def rpc_calls(client: httpx.Client, device: ClaimedDevice) -> list[httpx.Response]:
    """Both forms, one-way and two-way."""
    return [
        send_rpc(client, device.id, "open", {}, oneway=oneway, prefix=prefix, timeout=5_000)
        for prefix in (PLUGINS, RPC)
        for oneway in (False, True)
    ]


def refused(responses: list[httpx.Response], status: int, error_code: int) -> None:
    for response in responses:
        assert_error(response, status, error_code)


def test_after_the_customer_releases_the_device_its_users_are_refused_with_403(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=lambda body: {"ok": body["method"]})

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler) as client:
        assert client.send_telemetry({"temperature": 20}).get() == 0
        before = send_rpc(tenancy.buyer.client, device.id, "open", {})
        assert (before.status_code, before.json()) == (200, {"ok": "open"})
        for response in device_reads(tenancy.buyer.client, device):
            assert response.status_code == 200, (response.request.url, response.text)

        assert release(tenancy.buyer.client, device.name).status_code == 200

        refused(rpc_calls(tenancy.buyer.client, device), 403, 20)
        refused(device_reads(tenancy.buyer.client, device), 403, 20)

    assert len(handler.calls) == 1, handler.calls


def test_a_release_cancels_the_former_owners_pending_persistent_rpcs(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    """docs/rpc.md: a former owner's commands never reach the device; the tenant's stay."""
    device = claimed_device(tenancy)
    theirs = send_persistent_rpc(tenancy.buyer.client, device.id, "unlock", {})
    tenants = send_persistent_rpc(tenancy.admin, device.id, "inventory", {})

    assert release(tenancy.buyer.client, device.name).status_code == 200

    cancelled = wait_for_rpc_status(tenancy.admin, theirs, "FAILED")
    assert "changed owner" in str(cancelled["response"])
    assert_error(tenancy.buyer.client.get(f"/api/rpc/persistent/{theirs}"), 403, 20)
    handler = DeviceRpcHandler(reply=lambda body: {"ok": body["method"]})
    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        wait_for_rpc_status(tenancy.admin, tenants, "SUCCESSFUL")
    assert [body["method"] for _, body in handler.calls] == ["inventory"]


def test_another_customers_user_is_refused_with_403_and_the_device_gets_nothing(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=lambda body: {"ok": True})

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        refused(rpc_calls(tenancy.other.client, device), 403, 20)
        refused(device_reads(tenancy.other.client, device), 403, 20)
        # The owner still can.
        assert send_rpc(tenancy.buyer.client, device.id, "mine", {}).status_code == 200

    assert [body["method"] for _, body in handler.calls] == ["mine"]


def test_another_tenants_admin_finds_nothing_404(server: Server, tenancy: ClaimingTenancy) -> None:
    device = claimed_device(tenancy)
    stranger = set_up_claiming_tenancy(server)
    handler = DeviceRpcHandler(reply=lambda body: {"ok": True})
    try:
        with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
            refused(rpc_calls(stranger.admin, device), 404, 32)
            refused(device_reads(stranger.admin, device), 404, 32)
            shared = stranger.admin.post(
                f"/api/plugins/telemetry/DEVICE/{device.id}/SHARED_SCOPE", json={"x": 1}
            )
            assert_error(shared, 404, 32)
    finally:
        stranger.close()
    assert handler.calls == []


def test_persistent_rpcs_are_hidden_from_other_customers_403_and_tenants_404(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    rpc_id = send_persistent_rpc(tenancy.buyer.client, device.id, "later", {})
    stranger = set_up_claiming_tenancy(server)
    listing = f"/api/rpc/persistent/device/{device.id}"
    page = {"pageSize": 10, "page": 0}
    try:
        for client, status, code in ((tenancy.other.client, 403, 20), (stranger.admin, 404, 32)):
            assert_error(client.get(f"/api/rpc/persistent/{rpc_id}"), status, code)
            assert_error(client.get(listing, params=page), status, code)
            assert_error(client.delete(f"/api/rpc/persistent/{rpc_id}"), status, code)
            persistent = send_rpc(client, device.id, "mine", {}, prefix=RPC, persistent=True)
            assert_error(persistent, status, code)
    finally:
        stranger.close()
    # Still there, and still the only one.
    assert persistent_rpc(tenancy.buyer.client, rpc_id)["status"] == "QUEUED"
    assert ok(tenancy.buyer.client.get(listing, params=page))["totalElements"] == 1


def test_an_rpc_to_an_unknown_or_malformed_device_id_is_404_or_400(
    tenancy: ClaimingTenancy,
) -> None:
    unknown = send_rpc(tenancy.buyer.client, "0f4e1d6c-0000-4000-8000-000000000000", "x", {})
    assert_error(unknown, 404, 32)
    malformed = tenancy.buyer.client.post(
        f"{PLUGINS}/twoway/not-a-uuid", json={"method": "x", "params": {}}
    )
    assert malformed.status_code == 400, malformed.text


def test_deleting_the_device_closes_its_mqtt_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        ok(tenancy.admin.delete(f"/api/device/{device.id}"))
        wait_disconnected(client, "connection closed after the device was deleted")


def test_changing_the_device_credentials_closes_its_mqtt_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    new_token = unique_token()

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token) as client:
        credentials = ok(tenancy.admin.get(f"/api/device/{device.id}/credentials"))
        credentials.update(credentialsType="ACCESS_TOKEN", credentialsId=new_token)
        ok(tenancy.admin.post("/api/device/credentials", json=credentials))
        wait_disconnected(client, "connection closed after the credentials changed")

    # The device comes back with its new token and is reachable again.
    handler = DeviceRpcHandler(reply=lambda body: {"back": True})
    with tb_client(TBDeviceMqttClient, server.mqtt_address, new_token, handler):
        response = send_rpc(tenancy.buyer.client, device.id, "hello", {})
    assert (response.status_code, response.json()) == (200, {"back": True})


def test_deleting_the_device_ends_its_http_long_poll(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)

    with aside() as pool:
        poll = pool.submit(long_poll, server.base_url, device.token, "rpc", 30_000)
        # Still waiting after a second: the server holds it (a bad token is answered at once).
        with pytest.raises(TimeoutError):
            poll.result(timeout=1.0)
        started = time.monotonic()
        ok(tenancy.admin.delete(f"/api/device/{device.id}"))
        polled = poll.result(timeout=20)
        waited = time.monotonic() - started

    # Not held for its 30 s: ended, and not with an RPC or a server error.
    assert waited < 5, waited
    assert polled.status_code != 200 and polled.status_code < 500, polled.text
