"""The unit of work on a real database: commit, roll back, and constraint clashes."""

from __future__ import annotations

import pytest

from gridlinks.accounts.domain import Tenant
from gridlinks.accounts.repository import TenantRepository
from gridlinks.bootstrap import Platform
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
