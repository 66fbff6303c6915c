"""Shared fixtures of the claiming tests: a fixed clock, a shop (tenant, buyer, device), helpers.

Every claiming test runs on a platform whose clock only moves when a test ``advance``s it, so
expiry, lock-outs and per-minute limits are exact. The clock starts on a minute boundary near
the real time (the per-user limit counts in a sliding minute, so the boundary does not matter to
it, but tests that cross one show that).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.claiming.domain import ClaimWindow
from gridlinks.claiming.repository import ClaimWindowRepository
from gridlinks.config import Settings
from gridlinks.kit.clock import FixedClock
from tests.integration.factories import (
    PASSWORD,
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    login,
    unique,
)

MINUTE_MS = 60_000
PAGE = {"pageSize": 100, "page": 0}
NO_BODY: Any = object()


@pytest.fixture
def clock() -> FixedClock:
    now_ms = time.time_ns() // 1_000_000
    return FixedClock((now_ms // MINUTE_MS + 1) * MINUTE_MS)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test module or class changes (e.g. ``claim_allow_by_default``)."""
    return {}


@pytest.fixture
async def platform(
    settings: Settings, settings_overrides: dict[str, Any], clock: FixedClock
) -> AsyncIterator[Platform]:
    """Like the global ``platform``, on the fixed ``clock`` and with ``settings_overrides``."""
    built = build_platform(settings.model_copy(update=settings_overrides), clock=clock)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


# --- the shop: a device maker, one buyer, one unclaimed device ------------------------------


@dataclass
class Shop:
    api: Api
    clock: FixedClock
    tenant: Account
    customer: dict[str, Any]
    buyer: Account
    device: dict[str, Any]
    token: str

    @property
    def name(self) -> str:
        name: str = self.device["name"]
        return name

    @property
    def device_id(self) -> str:
        device_id: str = self.device["id"]["id"]
        return device_id

    @property
    def customer_id(self) -> str:
        customer_id: str = self.customer["id"]["id"]
        return customer_id


@pytest.fixture
async def shop(api: Api, clock: FixedClock) -> Shop:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    device, token = await create_device_with_token(api, tenant)
    return Shop(api, clock, tenant, customer, buyer, device, token)


async def create_device_with_token(api: Api, tenant: Account) -> tuple[dict[str, Any], str]:
    token = unique("token")
    device = await api.ok(
        "POST", f"/api/device?accessToken={token}", tenant, json={"name": unique("Device")}
    )
    return device, token


async def sign_in_again(api: Api, account: Account) -> Account:
    """A new token pair for ``account`` (after the clock moved past its token's lifetime)."""
    return await login(api.client, account.email, PASSWORD)


async def create_buyer(api: Api, tenant: Account) -> tuple[dict[str, Any], Account]:
    """Another customer of the tenant, with one user."""
    customer = await api.create_customer(tenant)
    return customer, await create_customer_user_quickly(api, tenant, customer)


# --- the device side ------------------------------------------------------------------------


async def announce(api: Api, token: str, body: Any = NO_BODY, **kwargs: Any) -> httpx.Response:
    """``POST /api/v1/{token}/claim`` with ``body`` as JSON (none by default)."""
    if body is not NO_BODY:
        kwargs["json"] = body
    return await api.client.post(f"/api/v1/{token}/claim", **kwargs)


async def open_window(api: Api, token: str, key: str, duration_ms: int = MINUTE_MS) -> None:
    response = await announce(api, token, {"secretKey": key, "durationMs": duration_ms})
    assert (response.status_code, response.content) == (200, b""), response.text


async def stored_windows(platform: Platform, device_id: str) -> list[ClaimWindow]:
    async with platform.unit_of_work(write=False) as uow:
        return await ClaimWindowRepository(uow.connection).of_device(uuid.UUID(device_id))


# --- the customer side ----------------------------------------------------------------------


def claim_path(name: str) -> str:
    return f"/api/customer/device/{name}/claim"


async def claim(
    api: Api, account: Account, name: str, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    """``POST /api/customer/device/{name}/claim`` with ``{"secretKey": key}`` (``{}`` without)."""
    body = {} if key is None else {"secretKey": key}
    headers = {**account.headers, **kwargs.pop("headers", {})}
    return await api.client.post(claim_path(name), headers=headers, json=body, **kwargs)


async def release(api: Api, account: Account, name: str) -> httpx.Response:
    return await api.client.delete(claim_path(name), headers=account.headers)


def assert_refused(response: httpx.Response, answer: str) -> None:
    """ThingsBoard's refusal: 400 with a bare JSON string (``"FAILURE"`` or ``"CLAIMED"``)."""
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == answer


def assert_claimed_by(response: httpx.Response, customer: dict[str, Any]) -> dict[str, Any]:
    """A 200 ``{"device": ..., "response": "SUCCESS"}`` giving the device to ``customer``."""
    assert response.status_code == 200, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"device", "response"} and body["response"] == "SUCCESS", body
    assert body["device"]["customerId"] == customer["id"], body
    return body


async def owner_of(api: Api, tenant: Account, device_id: str) -> str:
    device = await api.ok("GET", f"/api/device/{device_id}", tenant)
    owner: str = device["customerId"]["id"]
    return owner


# --- attributes -----------------------------------------------------------------------------


def server_attributes_path(device_id: str) -> str:
    return f"/api/plugins/telemetry/DEVICE/{device_id}/attributes/SERVER_SCOPE"


async def write_server_attributes(
    api: Api, account: Account, device_id: str, values: Any
) -> httpx.Response:
    return await api.client.post(
        server_attributes_path(device_id), headers=account.headers, json=values
    )


async def set_claiming_data(
    api: Api, tenant: Account, device_id: str, key: str, expiration_ms: Any
) -> None:
    value = {"secretKey": key, "expirationTime": expiration_ms}
    response = await write_server_attributes(api, tenant, device_id, {"claimingData": value})
    assert response.status_code == 200, response.text


async def server_attributes(api: Api, account: Account, device_id: str) -> dict[str, Any]:
    """``{key: value}`` of the device's ``SERVER_SCOPE`` attributes."""
    found = await api.ok(
        "GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SERVER_SCOPE", account
    )
    return {a["key"]: a["value"] for a in found}


# --- the audit log --------------------------------------------------------------------------


async def audit_entries(
    api: Api, tenant: Account, path: str = "/api/audit/logs", **params: Any
) -> list[dict[str, Any]]:
    """Entries of one audit listing, newest first."""
    page = await api.ok("GET", path, tenant, params={**PAGE, **params})
    entries: list[dict[str, Any]] = page["data"]
    return entries


async def claim_audit(api: Api, shop: Shop) -> list[dict[str, Any]]:
    """The shop device's claim entries (``ASSIGNED_TO_CUSTOMER``), newest first."""
    return await audit_entries(
        api,
        shop.tenant,
        f"/api/audit/logs/entity/DEVICE/{shop.device_id}",
        actionTypes="ASSIGNED_TO_CUSTOMER",
    )
