"""The unit of work on a real database: commit, roll back, and constraint clashes."""

from __future__ import annotations

import httpx
import pytest

from gridlinks.accounts.domain import Tenant
from gridlinks.accounts.repository import TenantRepository
from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.errors import ConflictError
from gridlinks.kit.ids import new_id


def create_tenant() -> Tenant:
    return Tenant(new_id(), "Tenant", 0)


async def stored(platform: Platform, tenant: Tenant) -> Tenant | None:
    async with platform.unit_of_work(write=False) as uow:
        return await TenantRepository(uow.connection).get(tenant.id)


async def test_committed_work_is_kept(platform: Platform) -> None:
    tenant = create_tenant()
    async with platform.unit_of_work() as uow:
        await TenantRepository(uow.connection).add(tenant)
        await uow.commit()
    assert await stored(platform, tenant) == tenant


async def test_work_left_without_commit_is_rolled_back(platform: Platform) -> None:
    tenant = create_tenant()
    async with platform.unit_of_work() as uow:
        await TenantRepository(uow.connection).add(tenant)
    assert await stored(platform, tenant) is None


async def test_constraint_clash_leaves_as_a_conflict_and_writes_nothing(platform: Platform) -> None:
    first, clash = create_tenant(), create_tenant()
    with pytest.raises(ConflictError) as refused:
        async with platform.unit_of_work() as uow:
            await TenantRepository(uow.connection).add(first)
            await TenantRepository(uow.connection).add(clash)
            await TenantRepository(uow.connection).add(clash)
    assert (refused.value.status, refused.value.error_code) == (400, 31)
    assert await stored(platform, first) is None


async def test_after_commit_callbacks_run_only_after_a_commit(platform: Platform) -> None:
    ran: list[str] = []

    async def record() -> None:
        ran.append("event")

    async with platform.unit_of_work() as uow:
        uow.after_commit(record)
    assert ran == []
    async with platform.unit_of_work() as uow:
        uow.after_commit(record)
        await uow.commit()
    assert ran == ["event"]


@pytest.mark.empty_database
async def test_a_database_that_refuses_the_connection_is_a_503_naming_no_internals(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL out of connections ("too many clients") or not listening, an SQLite file
    that cannot be opened: the request is refused as 503 with Retry-After, never a 500."""
    if database_url.startswith("sqlite"):
        # A directory where the database file should be: SQLite cannot open it.
        (settings.data_dir / "gridlinks.db").mkdir(parents=True)
        unreachable = f"sqlite+aiosqlite:///{settings.data_dir}/gridlinks.db"
    else:
        unreachable = "postgresql://nobody:s3cret-password@127.0.0.1:1/none"
    platform = build_platform(settings.model_copy(update={"database_url": unreachable}))
    try:
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post(
                "/api/auth/login", json={"username": "a@b.example", "password": "x"}
            )
    finally:
        await platform.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["message"] == "The database is unavailable; retry in a few seconds"
    assert int(answer.headers["Retry-After"]) >= 1
    assert "s3cret-password" not in caplog.text
    assert "database connection failed" in caplog.text
