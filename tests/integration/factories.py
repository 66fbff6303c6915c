"""Small ``create_*`` factories over the REST API, with unique names per call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from gridlinks.bootstrap import Platform

SYSADMIN_EMAIL = "root@gridlinks.test"
PASSWORD = "correct-horse-battery"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def auth(token: str) -> dict[str, str]:
    return {"X-Authorization": f"Bearer {token}"}


@dataclass
class Account:
    token: str
    refresh_token: str
    email: str
    user: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)


@dataclass
class Api:
    client: httpx.AsyncClient
    sysadmin: Account

    @classmethod
    async def start(cls, client: httpx.AsyncClient, platform: Platform) -> Api:
        async with platform.unit_of_work() as uow:
            await platform.accounts.create_sys_admin(uow, SYSADMIN_EMAIL, PASSWORD)
            await uow.commit()
        return cls(client, await login(client, SYSADMIN_EMAIL, PASSWORD))

    async def ok(self, method: str, path: str, account: Account, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=account.headers, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    async def create_tenant_admin(self) -> Account:
        tenant = await self.ok("POST", "/api/tenant", self.sysadmin, json={"title": unique("T")})
        email = f"{unique('admin')}@maker.test"
        user = await self.ok(
            "POST",
            "/api/user?sendActivationMail=false",
            self.sysadmin,
            json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
        )
        return await self.activate(self.sysadmin, user)

    async def activate(self, issuer: Account, user: dict[str, Any]) -> Account:
        link = await self.client.get(
            f"/api/user/{user['id']['id']}/activationLink", headers=issuer.headers
        )
        assert link.status_code == 200, link.text
        token = link.text.rsplit("activateToken=", 1)[1]
        response = await self.client.post(
            "/api/noauth/activate?sendActivationMail=False",
            json={"activateToken": token, "password": PASSWORD},
        )
        assert response.status_code == 200, response.text
        return await login(self.client, user["email"], PASSWORD)

    async def create_customer(self, tenant: Account) -> dict[str, Any]:
        customer: dict[str, Any] = await self.ok(
            "POST", "/api/customer", tenant, json={"title": unique("Customer")}
        )
        return customer

    async def create_customer_user(
        self, tenant: Account, customer: dict[str, Any], query: str = ""
    ) -> Account:
        email = f"{unique('buyer')}@customer.test"
        user = await self.ok(
            "POST",
            f"/api/user?sendActivationMail=False{query}",
            tenant,
            json={"email": email, "authority": "CUSTOMER_USER", "customerId": customer["id"]},
        )
        return await self.activate(tenant, user)

    async def create_device(self, tenant: Account, **fields: Any) -> dict[str, Any]:
        body = {"name": unique("Device"), **fields}
        device: dict[str, Any] = await self.ok("POST", "/api/device", tenant, json=body)
        return device


async def login(client: httpx.AsyncClient, email: str, password: str) -> Account:
    response = await client.post("/api/auth/login", json={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    me = await client.get("/api/auth/user", headers=auth(body["token"]))
    return Account(body["token"], body["refreshToken"], email, me.json())


# --- appended: cheaper accounts and error checks ------------------------------------------
# Argon2 makes every hash and every login cost a few hundred milliseconds. ``Api.activate`` logs
# in again after activating; these helpers keep the token pair that activation already answers,
# so a new signed-in account costs one hash and no login.

NULL_UUID = "13814000-1dd2-11b2-8080-808080808080"
ERROR_KEYS = {"status", "message", "errorCode", "timestamp"}


async def create_user(
    api: Api, issuer: Account, body: dict[str, Any], query: str = ""
) -> dict[str, Any]:
    """A user as ``POST /api/user`` answers it: created, not activated (no Argon2 work)."""
    email = body.get("email") or f"{unique('user')}@users.test"
    user: dict[str, Any] = await api.ok(
        "POST", f"/api/user?sendActivationMail=false{query}", issuer, json={**body, "email": email}
    )
    return user


async def activation_token(api: Api, issuer: Account, user: dict[str, Any]) -> str:
    link = await api.client.get(
        f"/api/user/{user['id']['id']}/activationLink", headers=issuer.headers
    )
    assert link.status_code == 200, link.text
    return link.text.rsplit("activateToken=", 1)[1]


async def sign_in_activated(api: Api, issuer: Account, user: dict[str, Any]) -> Account:
    """Activate ``user`` and keep the pair activation answers."""
    token = await activation_token(api, issuer, user)
    response = await api.client.post(
        "/api/noauth/activate", json={"activateToken": token, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    pair = response.json()
    return Account(pair["token"], pair["refreshToken"], user["email"], user)


async def create_tenant_admin_quickly(api: Api) -> Account:
    """Like ``Api.create_tenant_admin``, with one Argon2 hash and no login."""
    tenant = await api.ok("POST", "/api/tenant", api.sysadmin, json={"title": unique("T")})
    user = await create_user(
        api, api.sysadmin, {"authority": "TENANT_ADMIN", "tenantId": tenant["id"]}
    )
    return await sign_in_activated(api, api.sysadmin, user)


async def create_customer_user_quickly(
    api: Api, tenant: Account, customer: dict[str, Any], query: str = ""
) -> Account:
    """Like ``Api.create_customer_user``, with one Argon2 hash and no login."""
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}, query
    )
    return await sign_in_activated(api, tenant, user)


def expect_error(response: httpx.Response, status: int, error_code: int) -> dict[str, Any]:
    """Assert a ThingsBoard error answer ``{status, message, errorCode, timestamp}``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status and body["errorCode"] == error_code, body
    assert isinstance(body["timestamp"], int) and isinstance(body["message"], str), body
    return body


async def create_tenant(api: Api) -> dict[str, Any]:
    tenant: dict[str, Any] = await api.ok(
        "POST", "/api/tenant", api.sysadmin, json={"title": unique("Tenant")}
    )
    return tenant


async def create_pending_tenant_admin(api: Api) -> dict[str, Any]:
    """A tenant administrator of a new tenant, created but not yet activated."""
    tenant = await create_tenant(api)
    return await create_user(
        api, api.sysadmin, {"authority": "TENANT_ADMIN", "tenantId": tenant["id"]}
    )
