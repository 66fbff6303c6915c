"""Server-side RPC end to end: a customer user who claimed a device calls it over REST, the
unmodified ``TBDeviceMqttClient`` answers from its ``set_server_side_rpc_request_handler``
handler with ``send_rpc_reply``, and the REST call returns what the device said.

Both REST forms are exercised: ``/api/plugins/rpc/...`` (timeout 408, no active connection 409)
and ``/api/rpc/...`` (504 for both), as ThingsBoard answers them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tb_device_mqtt import TBDeviceMqttClient

from tests.e2e.claiming_helpers import ClaimingTenancy, set_up_claiming_tenancy
from tests.e2e.rpc_helpers import (
    MIN_TIMEOUT_MS,
    NO_ACTIVE_CONNECTION_STATUS,
    PLUGINS,
    RPC,
    TIMEOUT_STATUS,
    DeviceRpcHandler,
    claimed_device,
    rpc_once_offline,
    send_rpc,
    tb_client,
)
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BOTH_FORMS = pytest.mark.parametrize("prefix", [PLUGINS, RPC], ids=["plugins", "rpc"])


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def echo(body: Any) -> dict[str, Any]:
    """What the device's handler answers: its own verdict on the call it got."""
    return {"done": body["method"], "echo": body["params"], "units": "°C"}


@BOTH_FORMS
def test_the_claiming_customers_two_way_rpc_returns_the_sdk_handlers_reply(
    server: Server, tenancy: ClaimingTenancy, prefix: str
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=echo)
    params = {"target": 22.5, "zones": [1, 2], "label": "wohnzimmer ✓"}

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        response = send_rpc(
            tenancy.buyer.client, device.id, "setTemperature", params, prefix=prefix
        )

    assert response.status_code == 200, response.text
    assert response.json() == {"done": "setTemperature", "echo": params, "units": "°C"}
    [(request_id, body)] = handler.wait_for(1, "RPC handler")
    assert body == {"method": "setTemperature", "params": params}
    assert request_id.isdigit()


def test_consecutive_two_way_rpcs_each_get_their_own_reply(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=lambda body: {"square": body["params"] ** 2})

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        answers = [
            send_rpc(tenancy.buyer.client, device.id, "square", n).json() for n in range(1, 6)
        ]

    assert answers == [{"square": n * n} for n in range(1, 6)]
    request_ids = [request_id for request_id, _ in handler.wait_for(5)]
    assert len(set(request_ids)) == 5, f"request ids reused: {request_ids}"


@BOTH_FORMS
def test_a_one_way_rpc_is_answered_200_and_the_sdk_handler_ran(
    server: Server, tenancy: ClaimingTenancy, prefix: str
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler()  # a one-way call expects no reply

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        response = send_rpc(
            tenancy.buyer.client, device.id, "reboot", {"delay": 3}, oneway=True, prefix=prefix
        )
        [(_, body)] = handler.wait_for(1, "one-way RPC handler")

    assert (response.status_code, response.content) == (200, b""), response.text
    assert body == {"method": "reboot", "params": {"delay": 3}}


@BOTH_FORMS
def test_a_two_way_rpc_the_device_never_answers_gets_thingsboards_timeout_status(
    server: Server, tenancy: ClaimingTenancy, prefix: str
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=None)  # receives, never answers

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        started = time.monotonic()
        response = send_rpc(
            tenancy.buyer.client, device.id, "slow", {}, prefix=prefix, timeout=MIN_TIMEOUT_MS
        )
        waited = time.monotonic() - started
        handler.wait_for(1, "RPC delivered before the timeout")

    assert response.status_code == TIMEOUT_STATUS[prefix], response.text
    assert MIN_TIMEOUT_MS / 1000 - 0.5 <= waited < MIN_TIMEOUT_MS / 1000 + 5, waited


@BOTH_FORMS
@pytest.mark.parametrize("oneway", [False, True], ids=["twoway", "oneway"])
def test_an_rpc_to_a_device_that_is_not_connected_gets_no_active_connection(
    server: Server, tenancy: ClaimingTenancy, prefix: str, oneway: bool
) -> None:
    device = claimed_device(tenancy)

    response = send_rpc(
        tenancy.buyer.client,
        device.id,
        "switchOn",
        {},
        oneway=oneway,
        prefix=prefix,
        timeout=MIN_TIMEOUT_MS,
    )

    assert response.status_code == NO_ACTIVE_CONNECTION_STATUS[prefix], response.text


def test_an_rpc_after_the_device_disconnected_gets_no_active_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=echo)
    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        assert send_rpc(tenancy.buyer.client, device.id, "ping", {}).status_code == 200

    response = rpc_once_offline(tenancy.buyer.client, device.id)

    assert response.status_code == NO_ACTIVE_CONNECTION_STATUS[PLUGINS], response.text
    assert len(handler.calls) == 1


def test_the_tenant_admin_may_call_the_customers_device_too(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=echo)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        response = send_rpc(tenancy.admin, device.id, "getState", None, prefix=RPC)

    assert response.status_code == 200, response.text
    assert response.json() == {"done": "getState", "echo": None, "units": "°C"}


@pytest.mark.parametrize(
    "body",
    [
        {"params": {}},  # no method
        {"method": 42, "params": {}},
        {"method": "", "params": {}},
        {"method": "x", "params": {}, "timeout": -1},
        {"method": "x", "params": {}, "timeout": "soon"},
        ["method", "params"],
        "setGpio",
    ],
    ids=[
        "no-method",
        "number-method",
        "empty-method",
        "negative-timeout",
        "text-timeout",
        "array",
        "string",
    ],
)
def test_a_malformed_rpc_body_is_a_400_and_reaches_no_device(
    server: Server, tenancy: ClaimingTenancy, body: Any
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=echo)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        response = tenancy.buyer.client.post(f"{RPC}/twoway/{device.id}", json=body)
        # The device is still reachable, and the bad call never got to it.
        assert send_rpc(tenancy.buyer.client, device.id, "after", 1).status_code == 200

    assert response.status_code == 400, (response.status_code, response.text)
    assert [call[1]["method"] for call in handler.calls] == ["after"]


def test_huge_rpc_params_are_refused_without_a_500_and_the_device_stays_reachable(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    handler = DeviceRpcHandler(reply=echo)

    with tb_client(TBDeviceMqttClient, server.mqtt_address, device.token, handler):
        huge = send_rpc(tenancy.buyer.client, device.id, "flash", "x" * 4_000_000)
        after = send_rpc(tenancy.buyer.client, device.id, "after", 1)

    assert huge.status_code in (400, 413), (huge.status_code, huge.text[:300])
    assert after.status_code == 200, after.text
    assert [call[1]["method"] for call in handler.calls] == ["after"]
