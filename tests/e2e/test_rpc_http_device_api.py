"""RPC and shared attributes over the HTTP device API, with plain HTTP (httpx) as a device would:

- ``GET /api/v1/{token}/rpc?timeout=`` waits for a server-side RPC and returns
  ``{"id", "method", "params"}``; ``POST /api/v1/{token}/rpc/{id}`` answers it, and the REST
  caller gets that answer;
- ``GET /api/v1/{token}/attributes/updates?timeout=`` waits for a shared-attribute push.

The server gives no sign that a long-poll has arrived, so the event that ends it is repeated
until it does (``repeat_until_done``, ``rpc_while_polling``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.claiming_helpers import ClaimingTenancy, set_up_claiming_tenancy, unique_token
from tests.e2e.mqtt_helpers import save_attributes
from tests.e2e.rpc_helpers import (
    MIN_TIMEOUT_MS,
    NO_ACTIVE_CONNECTION_STATUS,
    PLUGINS,
    RPC,
    aside,
    claimed_device,
    long_poll,
    repeat_until_done,
    rpc_while_polling,
    send_rpc,
)
from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def reply(base_url: str, token: str, request_id: Any, body: Any) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/{token}/rpc/{request_id}", json=body, timeout=10)


@pytest.mark.parametrize("prefix", [PLUGINS, RPC], ids=["plugins", "rpc"])
def test_a_long_poll_gets_the_rpc_and_its_reply_is_the_rest_answer(
    server: Server, tenancy: ClaimingTenancy, prefix: str
) -> None:
    device = claimed_device(tenancy)
    params = {"pin": 23, "value": 1}

    with aside() as pool:
        poll = pool.submit(long_poll, server.base_url, device.token, "rpc")
        call = rpc_while_polling(
            pool,
            lambda: send_rpc(tenancy.buyer.client, device.id, "setGpio", params, prefix=prefix),
            NO_ACTIVE_CONNECTION_STATUS[prefix],
        )
        polled = poll.result(timeout=30)
        assert polled.status_code == 200, polled.text
        request = polled.json()
        answered = reply(server.base_url, device.token, request["id"], {"pin": 23, "now": 1})
        response = call.result(timeout=30)

    assert request["method"] == "setGpio"
    assert request["params"] == params
    assert isinstance(request["id"], int)
    assert answered.status_code == 200, answered.text
    assert response.status_code == 200, response.text
    assert response.json() == {"pin": 23, "now": 1}


def test_a_long_poll_gets_a_one_way_rpc(server: Server, tenancy: ClaimingTenancy) -> None:
    device = claimed_device(tenancy)

    with aside() as pool:
        poll = pool.submit(long_poll, server.base_url, device.token, "rpc")
        call = rpc_while_polling(
            pool,
            lambda: send_rpc(tenancy.buyer.client, device.id, "beep", {"n": 2}, oneway=True),
            NO_ACTIVE_CONNECTION_STATUS[PLUGINS],
        )
        polled = poll.result(timeout=30)
        response = call.result(timeout=30)

    assert polled.status_code == 200, polled.text
    assert {k: polled.json()[k] for k in ("method", "params")} == {
        "method": "beep",
        "params": {"n": 2},
    }
    assert (response.status_code, response.content) == (200, b""), response.text


def test_an_rpc_with_no_long_poll_waiting_has_no_active_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)

    response = send_rpc(tenancy.buyer.client, device.id, "setGpio", {}, timeout=MIN_TIMEOUT_MS)

    assert response.status_code == NO_ACTIVE_CONNECTION_STATUS[PLUGINS], response.text


def test_a_long_poll_gets_a_shared_attribute_push(server: Server, tenancy: ClaimingTenancy) -> None:
    device = claimed_device(tenancy)
    written: list[dict[str, Any]] = []

    def write(attempt: int) -> None:
        values = {"targetTemp": 20 + attempt}
        save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", values)
        written.append(values)

    with aside() as pool:
        poll = pool.submit(long_poll, server.base_url, device.token, "attributes/updates")
        polled = repeat_until_done(poll, write, "attribute push to the long-poll")

    assert polled.status_code == 200, polled.text
    assert polled.json() in written


def test_a_long_poll_gets_deleted_shared_attributes(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    keys = [f"gone{i}" for i in range(20)]
    save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", dict.fromkeys(keys, 1))

    def delete(attempt: int) -> None:
        response = tenancy.admin.delete(
            f"/api/plugins/telemetry/DEVICE/{device.id}/SHARED_SCOPE",
            params={"keys": keys[attempt]},
        )
        assert response.status_code == 200, response.text

    with aside() as pool:
        poll = pool.submit(long_poll, server.base_url, device.token, "attributes/updates")
        polled = repeat_until_done(poll, delete, "attribute delete push to the long-poll")

    assert polled.status_code == 200, polled.text
    assert polled.json() in [{"deleted": [key]} for key in keys]


def test_a_long_poll_with_nothing_to_deliver_ends_when_its_timeout_does(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    """ThingsBoard answers an expired long-poll with 408 (tb_device_http polls again on
    408 and 504)."""
    device = claimed_device(tenancy)

    polled = long_poll(server.base_url, device.token, "rpc", timeout_ms=1_000)

    assert polled.status_code in (408, 504), polled.text


def test_a_long_poll_with_an_unknown_token_is_refused_with_401(server: Server) -> None:
    for what in ("rpc", "attributes/updates"):
        polled = long_poll(server.base_url, unique_token(), what, timeout_ms=1_000)
        assert polled.status_code == 401, (what, polled.text)


def test_a_reply_to_an_rpc_that_was_never_sent_is_no_500(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)

    for request_id in ("12345", "not-a-number", "-1"):
        response = reply(server.base_url, device.token, request_id, {"ok": True})
        assert response.status_code < 500, (request_id, response.status_code, response.text)


def test_the_device_reads_its_client_and_shared_attributes_over_http(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    device = claimed_device(tenancy)
    save_attributes(tenancy.admin, device.id, "SHARED_SCOPE", {"targetTemp": 21, "mode": "eco"})
    sent = httpx.post(
        f"{server.base_url}/api/v1/{device.token}/attributes",
        json={"build": "1.0.3", "battery": 97},
        timeout=10,
    )
    assert sent.status_code == 200, sent.text

    response = httpx.get(
        f"{server.base_url}/api/v1/{device.token}/attributes",
        params={"clientKeys": "build", "sharedKeys": "targetTemp,mode"},
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "client": {"build": "1.0.3"},
        "shared": {"targetTemp": 21, "mode": "eco"},
    }
