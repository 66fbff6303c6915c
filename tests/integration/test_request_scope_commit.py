"""The request scope owns the commit: routes never call ``uow.commit()``.

The request's unit of work commits once when the route has returned (before the answer is
sent), rolls back on any exception, and a commit that fails becomes the error answer. Events
reach the bus only after the commit. Test-only routes are added to the real app to write and
then fail at the point each test needs; everything else is the real stack.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter

from gridlinks.accounts.domain import Tenant
from gridlinks.accounts.repository import TenantRepository
from gridlinks.api.app import create_app
from gridlinks.api.deps import PlatformDep, UnitOfWorkDep
from gridlinks.bootstrap import Platform
from gridlinks.bus.base import Event
from gridlinks.delivery.messages import ATTRIBUTES_CHANGED
from gridlinks.errors import BadRequestError
from gridlinks.kit.ids import new_id
from tests.integration.factories import Account, Api, login

router = APIRouter()


@router.post("/test/tenant/{tenant_id}")
async def write_and_return(uow: UnitOfWorkDep, tenant_id: uuid.UUID) -> dict[str, str]:
    await TenantRepository(uow.connection).add(Tenant(tenant_id, "Kept", 0))
    return {"written": str(tenant_id)}


@router.post("/test/tenant/{tenant_id}/then-refuse")
async def write_and_refuse(uow: UnitOfWorkDep, tenant_id: uuid.UUID) -> None:
    await TenantRepository(uow.connection).add(Tenant(tenant_id, "Refused", 0))
    raise BadRequestError("Refused after the write")


@router.post("/test/tenant/{tenant_id}/then-crash")
async def write_and_crash(uow: UnitOfWorkDep, tenant_id: uuid.UUID) -> None:
    await TenantRepository(uow.connection).add(Tenant(tenant_id, "Crashed", 0))
    raise RuntimeError("a bug after the write")


@router.post("/test/attributes/{device_id}/then-refuse")
async def save_attribute_and_refuse(
    platform: PlatformDep, uow: UnitOfWorkDep, device_id: uuid.UUID
) -> None:
    await platform.attributes.save(uow, "DEVICE", device_id, "SERVER_SCOPE", {"lost": 1})
    raise BadRequestError("Refused after the write")


@router.post("/test/clash-at-commit")
async def clash_at_commit(uow: UnitOfWorkDep) -> dict[str, bool]:
    """Work whose constraint is only checked at commit (deferred), so the commit fails."""
    connection = uow.connection
    if connection.dialect.name == "postgresql":
        await connection.execute(
            sa.text(
                "CREATE TEMP TABLE clash (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
        )
        await connection.execute(sa.text("INSERT INTO clash VALUES (1), (1)"))
    else:
        await connection.execute(sa.text("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)"))
        await connection.execute(
            sa.text(
                "CREATE TEMP TABLE child (parent_id INTEGER"
                " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        await connection.execute(sa.text("INSERT INTO child VALUES (1)"))
    await TenantRepository(uow.connection).add(Tenant(CLASH_TENANT, "Clash", 0))
    return {"stored": True}


@router.post("/test/database-lost-before-commit")
async def lose_database_before_commit(uow: UnitOfWorkDep) -> dict[str, bool]:
    """Write, then have PostgreSQL end this very connection: the commit finds it gone."""
    await TenantRepository(uow.connection).add(Tenant(LOST_TENANT, "Lost", 0))
    pid = (await uow.connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
    url = uow.connection.engine.url
    admin = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    return {"stored": True}


CLASH_TENANT = uuid.UUID("5c1a5400-0000-4000-8000-000000000001")
LOST_TENANT = uuid.UUID("5c1a5400-0000-4000-8000-000000000002")


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(platform)
    app.include_router(router)
    # Starlette raises unexpected errors to the server after answering 500; here, answer only.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridlinks.test") as http:
        yield http


async def stored_tenant(platform: Platform, tenant_id: uuid.UUID) -> Tenant | None:
    async with platform.unit_of_work(write=False) as uow:
        return await TenantRepository(uow.connection).get(tenant_id)


async def test_a_route_that_returns_has_its_work_committed_without_calling_commit(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    tenant_id = new_id()
    response = await client.post(f"/test/tenant/{tenant_id}")
    assert response.status_code == 200, response.text
    kept = await stored_tenant(platform, tenant_id)
    assert kept is not None and kept.title == "Kept"


async def test_a_route_that_refuses_after_a_write_leaves_nothing(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    tenant_id = new_id()
    response = await client.post(f"/test/tenant/{tenant_id}/then-refuse")
    assert response.status_code == 400
    assert response.json()["message"] == "Refused after the write"
    assert await stored_tenant(platform, tenant_id) is None


async def test_a_route_that_crashes_after_a_write_leaves_nothing_and_answers_500(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    tenant_id = new_id()
    response = await client.post(f"/test/tenant/{tenant_id}/then-crash")
    assert response.status_code == 500
    assert response.json()["message"] == "Internal server error"
    assert await stored_tenant(platform, tenant_id) is None


async def test_a_constraint_clash_at_commit_answers_400_json_and_stores_nothing(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    response = await client.post("/test/clash-at-commit")
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["status"], body["errorCode"]) == (400, 31)
    assert body["message"] == "The item clashes with an existing one"
    assert await stored_tenant(platform, CLASH_TENANT) is None


async def test_a_database_lost_at_commit_answers_503_not_200(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    if platform.database.engine.dialect.name != "postgresql":
        pytest.skip("ending the server side of a connection needs PostgreSQL")
    response = await client.post("/test/database-lost-before-commit")
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert response.json()["message"] == "The database is unavailable; retry in a few seconds"
    assert await stored_tenant(platform, LOST_TENANT) is None


async def test_a_real_write_route_is_committed_by_the_scope(api: Api, platform: Platform) -> None:
    tenant = await api.ok("POST", "/api/tenant", api.sysadmin, json={"title": "Scoped"})
    kept = await stored_tenant(platform, uuid.UUID(tenant["id"]["id"]))
    assert kept is not None and kept.title == "Scoped"


async def test_a_duplicate_through_a_real_route_is_still_400_and_changes_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    admin = await api.create_tenant_admin()
    first = await api.create_device(admin)
    response = await client.post(
        "/api/device", headers=admin.headers, json={"name": first["name"], "label": "second"}
    )
    assert response.status_code == 400, response.text
    devices = await api.ok("GET", "/api/tenant/devices?pageSize=10&page=0", admin)
    assert [d["name"] for d in devices["data"]] == [first["name"]]


async def device_and_admin(api: Api) -> tuple[Account, dict[str, Any]]:
    admin = await api.create_tenant_admin()
    return admin, await api.create_device(admin)


async def test_events_are_published_only_once_the_work_is_committed(
    api: Api, client: httpx.AsyncClient, platform: Platform
) -> None:
    admin, device = await device_and_admin(api)
    device_id = device["id"]["id"]
    seen: list[tuple[str, Any]] = []

    async def on_change(event: Event) -> None:
        # A fresh connection sees the value only if the work was committed first.
        async with platform.unit_of_work(write=False) as uow:
            found = await platform.attributes.read(
                uow, uuid.UUID(device_id), "SERVER_SCOPE", ["mode"]
            )
        seen.append((event.data["scope"], [a.value for a in found]))

    platform.bus.subscribe(ATTRIBUTES_CHANGED, on_change)
    response = await client.post(
        f"/api/plugins/telemetry/DEVICE/{device_id}/SERVER_SCOPE",
        headers=admin.headers,
        json={"mode": "eco"},
    )
    assert response.status_code == 200, response.text
    assert seen == [("SERVER_SCOPE", ["eco"])]


async def test_no_event_is_published_for_work_that_was_rolled_back(
    api: Api, client: httpx.AsyncClient, platform: Platform
) -> None:
    _admin, device = await device_and_admin(api)
    events: list[Event] = []

    async def record(event: Event) -> None:
        events.append(event)

    platform.bus.subscribe("*", record)
    response = await client.post(f"/test/attributes/{device['id']['id']}/then-refuse")
    assert response.status_code == 400
    assert events == []
    async with platform.unit_of_work(write=False) as uow:
        found = await platform.attributes.read(uow, uuid.UUID(device["id"]["id"]), None, None)
    assert found == []


async def test_a_refused_claim_is_still_recorded_although_its_answer_is_an_error(
    api: Api, client: httpx.AsyncClient
) -> None:
    """Claim refusals are answers, not exceptions: their audit entry must survive."""
    admin = await api.create_tenant_admin()
    response = await client.post(
        "/api/customer/device/no-such-device/claim", headers=admin.headers, json={}
    )
    assert response.status_code == 403
    assert response.json()["errorCode"] == 20
    audit = await api.ok("GET", "/api/audit/logs?pageSize=10&page=0", admin)
    refused = [e for e in audit["data"] if e["actionType"] == "ASSIGNED_TO_CUSTOMER"]
    assert len(refused) == 1 and refused[0]["actionStatus"] == "FAILURE", audit


async def test_signing_in_needs_no_commit_and_still_works(
    api: Api, client: httpx.AsyncClient
) -> None:
    admin = await api.create_tenant_admin()
    again = await login(client, admin.email, "correct-horse-battery")
    assert again.user["email"] == admin.email
