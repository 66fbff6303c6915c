"""ThingsBoard's own claim tests, driven over the HTTP device API and the customer claim REST.

ThingsBoard tests claiming over MQTT and CoAP only (its HTTP device claim is untested); each of
its tests runs the same sequence, here with ``POST /api/v1/{token}/claim``:

1. the device announces a window of 1 ms; the customer's claim is refused with ``"FAILURE"``;
2. the device announces a valid window; the claim succeeds with ``{"device", "response"}``;
3. the same claim again is refused with ``"CLAIMED"``.

The refusals are bare JSON strings, compared here byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.claiming_helpers import (
    VALID_WINDOW_MS,
    ClaimingTenancy,
    announce,
    announce_expired_window,
    claim,
    create_device,
    ok,
    owner_of,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

FAILURE = b'"FAILURE"'
CLAIMED = b'"CLAIMED"'


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def assert_refused_with(response: httpx.Response, body: bytes) -> None:
    assert (response.status_code, response.content) == (400, body), response.text
    assert response.headers["content-type"].startswith("application/json")


def assert_claimed_by(response: httpx.Response, customer_id: str, device: dict[str, Any]) -> None:
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["response"] == "SUCCESS"
    assert result["device"] is not None
    assert result["device"]["id"] == device["id"]
    assert result["device"]["name"] == device["name"]
    assert result["device"]["customerId"] == {"entityType": "CUSTOMER", "id": customer_id}


def assert_acknowledged(response: httpx.Response) -> None:
    assert (response.status_code, response.content) == (200, b""), response.text


def test_device_announcement_is_answered_200_with_an_empty_body(
    tenancy: ClaimingTenancy,
) -> None:
    token = unique_token()
    create_device(tenancy.admin, unique("Meter"), token)

    assert_acknowledged(announce(tenancy.base_url, token, {"secretKey": "value"}))
    assert_acknowledged(announce(tenancy.base_url, token, {}))
    assert_acknowledged(announce(tenancy.base_url, token))  # the body is optional


def test_announcement_with_an_unknown_token_is_refused_with_401(server: Server) -> None:
    response = announce(server.base_url, unique_token(), {"secretKey": "value"})

    assert response.status_code == 401, response.text


def test_announcement_is_read_as_json_whatever_its_content_type(
    tenancy: ClaimingTenancy,
) -> None:
    """``curl -d '{...}'`` sends a form content type; ThingsBoard reads the raw body."""
    token, name = unique_token(), unique("Meter")
    device = create_device(tenancy.admin, name, token)

    response = httpx.post(
        f"{tenancy.base_url}/api/v1/{token}/claim",
        content=b'{"secretKey":"from-curl"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert_acknowledged(response)

    claimed = claim(tenancy.buyer.client, name, {"secretKey": "from-curl"})
    assert_claimed_by(claimed, tenancy.buyer.customer_id, device)


def test_keyed_claim_fails_once_expired_then_succeeds_then_reports_claimed(
    tenancy: ClaimingTenancy,
) -> None:
    """ThingsBoard's testClaimingDevice, over HTTP."""
    token, name = unique_token(), unique("Meter")
    device = create_device(tenancy.admin, name, token)
    buyer = tenancy.buyer

    announce_expired_window(tenancy.base_url, token, {"secretKey": "value"})
    assert_refused_with(claim(buyer.client, name, {"secretKey": "value"}), FAILURE)

    body = {"secretKey": "value", "durationMs": VALID_WINDOW_MS}
    assert_acknowledged(announce(tenancy.base_url, token, body))
    claimed = claim(buyer.client, name, {"secretKey": "value"})
    assert_claimed_by(claimed, buyer.customer_id, device)
    # The answer is the device as the new owner's user now reads it.
    assert claimed.json()["device"] == ok(buyer.client.get(f"/api/device/{device['id']['id']}"))
    assert owner_of(tenancy.admin, device) == buyer.customer_id

    assert_refused_with(claim(buyer.client, name, {"secretKey": "value"}), CLAIMED)
    assert owner_of(tenancy.admin, device) == buyer.customer_id


def test_claim_without_secret_and_duration_fails_once_expired_then_succeeds_then_reports_claimed(
    tenancy: ClaimingTenancy,
) -> None:
    """ThingsBoard's testClaimingDeviceWithoutSecretAndDuration, over HTTP: a missing key is
    the empty key (REST ``null``, ``{}`` or no body at all), a missing duration the default."""
    token, name = unique_token(), unique("Meter")
    device = create_device(tenancy.admin, name, token)
    buyer = tenancy.buyer

    announce_expired_window(tenancy.base_url, token, {})
    assert_refused_with(claim(buyer.client, name, {"secretKey": None}), FAILURE)

    assert_acknowledged(announce(tenancy.base_url, token, {}))
    assert_claimed_by(claim(buyer.client, name, {}), buyer.customer_id, device)

    assert_refused_with(claim(buyer.client, name), CLAIMED)
    assert owner_of(tenancy.admin, device) == buyer.customer_id


def test_claimed_device_is_not_taken_by_another_customer_with_the_right_key(
    tenancy: ClaimingTenancy,
) -> None:
    token, name = unique_token(), unique("Meter")
    device = create_device(tenancy.admin, name, token)
    body = {"secretKey": "value", "durationMs": VALID_WINDOW_MS}
    assert_acknowledged(announce(tenancy.base_url, token, body))
    claimed = claim(tenancy.buyer.client, name, {"secretKey": "value"})
    assert_claimed_by(claimed, tenancy.buyer.customer_id, device)

    # The claimed device may still announce: acknowledged, as ThingsBoard does.
    assert_acknowledged(announce(tenancy.base_url, token, body))
    assert_refused_with(claim(tenancy.other.client, name, {"secretKey": "value"}), CLAIMED)
    assert owner_of(tenancy.admin, device) == tenancy.buyer.customer_id


def test_claim_of_an_unknown_device_name_is_refused_with_404(tenancy: ClaimingTenancy) -> None:
    response = claim(tenancy.buyer.client, unique("No such meter"), {"secretKey": "value"})

    assert response.status_code == 404, response.text
    error = response.json()
    assert (error["status"], error["errorCode"]) == (404, 32)
    assert error["message"] == "Requested item wasn't found!"
