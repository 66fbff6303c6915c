"""Plain-HTTP steps for the claiming end-to-end tests (httpx, no ThingsBoard client).

A ``ClaimingTenancy`` is what every claim scenario needs: a tenant administrator, a customer
with a customer user (who may claim: the built-in *Customer Users* group has
``DEVICE: CLAIM_DEVICES``) and a second customer with its own user.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.running_server import Server

PASSWORD = "user-password-123"
NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
TIMEOUT_SECONDS = 10.0
# The device-side window of ThingsBoard's own tests: open for 1 ms, so expired on the claim.
EXPIRED_WINDOW_MS = 1
VALID_WINDOW_MS = 60_000


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def unique_token() -> str:
    return f"token-{uuid.uuid4().hex[:12]}"


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@e2e.test"


def ok(response: httpx.Response) -> Any:
    """The JSON of a 200 answer (``None`` for an empty body)."""
    assert response.status_code == 200, (
        f"{response.request.method} {response.request.url.path} -> "
        f"{response.status_code}: {response.text}"
    )
    return response.json() if response.content else None


def signed_in(base_url: str, email: str, password: str) -> httpx.Client:
    """A client that sends ``X-Authorization: Bearer <token>`` of ``email`` on every call."""
    client = httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS)
    try:
        pair = ok(client.post("/api/auth/login", json={"username": email, "password": password}))
    except BaseException:
        client.close()
        raise
    client.headers["X-Authorization"] = f"Bearer {pair['token']}"
    return client


def activate(issuer: httpx.Client, user_id: str) -> None:
    """Set ``PASSWORD`` through the activation link, as the e-mail's reader would."""
    response = issuer.get(f"/api/user/{user_id}/activationLink")
    assert response.status_code == 200, response.text
    found = re.search(r"activateToken=([\w-]+)", response.text)
    assert found, f"no activateToken in {response.text!r}"
    body = {"activateToken": found.group(1), "password": PASSWORD}
    ok(issuer.post("/api/noauth/activate", json=body))


def create_user(issuer: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    user: dict[str, Any] = ok(
        issuer.post("/api/user", params={"sendActivationMail": "false"}, json=body)
    )
    activate(issuer, user["id"]["id"])
    return user


@dataclass
class CustomerAccount:
    """A customer and one of its users, signed in."""

    customer_id: str
    user_id: str
    email: str
    client: httpx.Client


@dataclass
class ClaimingTenancy:
    base_url: str
    admin_email: str
    admin: httpx.Client  # signed in as the tenant administrator
    buyer: CustomerAccount  # the customer user who claims
    other: CustomerAccount  # a user of another customer of the same tenant

    def close(self) -> None:
        for client in (self.admin, self.buyer.client, self.other.client):
            client.close()


def create_customer_account(admin: httpx.Client, base_url: str) -> CustomerAccount:
    customer = ok(admin.post("/api/customer", json={"title": unique("Customer")}))
    body = {
        "email": unique_email("buyer"),
        "authority": "CUSTOMER_USER",
        "customerId": customer["id"],
    }
    user = create_user(admin, body)
    client = signed_in(base_url, user["email"], PASSWORD)
    return CustomerAccount(customer["id"]["id"], user["id"]["id"], user["email"], client)


def set_up_claiming_tenancy(server: Server) -> ClaimingTenancy:
    """A new tenant with its administrator and two customers, each with a signed-in user."""
    base_url = server.base_url
    sysadmin = signed_in(base_url, server.sysadmin_email, server.sysadmin_password)
    try:
        tenant = ok(sysadmin.post("/api/tenant", json={"title": unique("Tenant")}))
        body = {
            "email": unique_email("admin"),
            "authority": "TENANT_ADMIN",
            "tenantId": tenant["id"],
        }
        admin_user = create_user(sysadmin, body)
    finally:
        sysadmin.close()
    admin = signed_in(base_url, admin_user["email"], PASSWORD)
    buyer = create_customer_account(admin, base_url)
    other = create_customer_account(admin, base_url)
    return ClaimingTenancy(base_url, admin_user["email"], admin, buyer, other)


def create_device(admin: httpx.Client, name: str, access_token: str) -> dict[str, Any]:
    """An unassigned device of the default profile, authenticated by ``access_token``."""
    device: dict[str, Any] = ok(
        admin.post("/api/device", params={"accessToken": access_token}, json={"name": name})
    )
    assert device["customerId"]["id"] == NULL_UUID
    return device


def owner_of(admin: httpx.Client, device: dict[str, Any]) -> str:
    """The id of the customer owning ``device`` (the null UUID when unassigned)."""
    found = ok(admin.get(f"/api/device/{device['id']['id']}"))
    return str(found["customerId"]["id"])


# --- the claim endpoints -----------------------------------------------------------------------
_NO_BODY = object()


def announce(base_url: str, token: str, body: Any = _NO_BODY) -> httpx.Response:
    """``POST /api/v1/{token}/claim`` as a device does: no auth header, JSON body or none."""
    url = f"{base_url}/api/v1/{token}/claim"
    if body is _NO_BODY:
        return httpx.post(url, timeout=TIMEOUT_SECONDS)
    return httpx.post(url, json=body, timeout=TIMEOUT_SECONDS)


def announce_expired_window(base_url: str, token: str, body: dict[str, Any]) -> None:
    """Announce a window of ``EXPIRED_WINDOW_MS`` and wait until it has surely expired."""
    response = announce(base_url, token, {**body, "durationMs": EXPIRED_WINDOW_MS})
    assert (response.status_code, response.content) == (200, b""), response.text
    time.sleep(0.02)


def claim(client: httpx.Client, device_name: str, body: Any = _NO_BODY) -> httpx.Response:
    """``POST /api/customer/device/{deviceName}/claim`` (no body at all when none is given)."""
    path = f"/api/customer/device/{device_name}/claim"
    if body is _NO_BODY:
        return client.post(path)
    return client.post(path, json=body)


def release(client: httpx.Client, device_name: str) -> httpx.Response:
    """``DELETE /api/customer/device/{deviceName}/claim``."""
    return client.delete(f"/api/customer/device/{device_name}/claim")
