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
