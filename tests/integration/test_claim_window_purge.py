"""Expired claim windows and old idempotency records are purged (SPEC 3.1: "cleaned up in the
background"), by ``ClaimingService.purge_expired`` and the platform's housekeeping loop.

The platform runs on a clock the tests move; rows are counted in the tables themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.db.tables import claim_idempotency, claim_lockouts, claim_windows
from gridlinks.kit.clock import FixedClock, SystemClock
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    unique,
)

HOUSEKEEPING_INTERVAL_SECONDS = 0.05
IDEMPOTENCY_TTL_SECONDS = 600
LOCK_SECONDS = 60
WAIT_SECONDS = 5.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "housekeeping_interval_seconds": HOUSEKEEPING_INTERVAL_SECONDS,
            "claim_idempotency_ttl_seconds": IDEMPOTENCY_TTL_SECONDS,
            "claim_lockout_initial_seconds": LOCK_SECONDS,
        }
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(SystemClock().now_ms())


@pytest.fixture
async def platform(settings: Settings, clock: FixedClock) -> AsyncIterator[Platform]:
    built = build_platform(settings, clock=clock)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def tenant(api: Api) -> Account:
    return await create_tenant_admin_quickly(api)


@pytest.fixture
async def buyer(api: Api, tenant: Account) -> Account:
    return await create_customer_user_quickly(api, tenant, await api.create_customer(tenant))


async def device_with_window(api: Api, tenant: Account, duration_ms: int, key: str = "k") -> str:
    """A device that announced a window of ``duration_ms``; its name."""
    name, token = unique("Purged"), unique("purge-token")
    await api.ok("POST", f"/api/device?accessToken={token}", tenant, json={"name": name})
    body = {"secretKey": key, "durationMs": duration_ms}
    response = await api.client.post(f"/api/v1/{token}/claim", json=body)
    assert response.status_code == 200, response.text
    return name


async def device_with_claiming_data(api: Api, tenant: Account, expiration_ms: int) -> str:
    device = await api.create_device(tenant)
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/SERVER_SCOPE",
        tenant,
        json={"claimingData": {"secretKey": "k", "expirationTime": expiration_ms}},
    )
    return str(device["name"])


async def claim(api: Api, buyer: Account, name: str, key: str, **headers: str) -> int:
    response = await api.client.post(
        f"/api/customer/device/{name}/claim",
        headers={**buyer.headers, **headers},
        json={"secretKey": key},
    )
    return response.status_code


async def count_rows(platform: Platform, table: sa.Table) -> int:
    async with platform.unit_of_work(write=False) as uow:
        query = sa.select(sa.func.count()).select_from(table)
        return int((await uow.connection.execute(query)).scalar_one())


async def purge(platform: Platform) -> int:
    async with platform.unit_of_work() as uow:
        purged = await platform.claiming.purge_expired(uow)
        await uow.commit()
    return purged


async def wait_until_no_windows(platform: Platform) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        while True:  # polled: the loop changes the database, not something we could await
            if not await count_rows(platform, claim_windows):
                return
            await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS / 2)


# --- purge_expired ---------------------------------------------------------------------------
async def test_purge_deletes_device_windows_that_have_expired(
    api: Api, tenant: Account, platform: Platform, clock: FixedClock
) -> None:
    await device_with_window(api, tenant, duration_ms=1_000)
    clock.advance(1_001)

    assert await purge(platform) == 1
    assert await count_rows(platform, claim_windows) == 0


async def test_purge_deletes_server_windows_that_have_expired(
    api: Api, tenant: Account, platform: Platform, clock: FixedClock
) -> None:
    await device_with_claiming_data(api, tenant, expiration_ms=clock.now_ms() + 1_000)
    clock.advance(1_001)

    assert await purge(platform) == 1
    assert await count_rows(platform, claim_windows) == 0


async def test_purge_keeps_windows_that_have_not_expired(
    api: Api, tenant: Account, platform: Platform, clock: FixedClock
) -> None:
    await device_with_window(api, tenant, duration_ms=60_000)
    await device_with_claiming_data(api, tenant, expiration_ms=clock.now_ms() + 60_000)
    clock.advance(59_999)

    assert await purge(platform) == 0
    assert await count_rows(platform, claim_windows) == 2


async def test_purge_keeps_a_window_at_its_last_valid_millisecond(
    api: Api, tenant: Account, buyer: Account, platform: Platform, clock: FixedClock
) -> None:
    name = await device_with_window(api, tenant, duration_ms=1_000)
    clock.advance(1_000)

    assert await purge(platform) == 0
    assert await claim(api, buyer, name, "k") == 200  # valid while now <= expiry


async def test_purge_deletes_only_the_expired_of_several_windows(
    api: Api, tenant: Account, buyer: Account, platform: Platform, clock: FixedClock
) -> None:
    await device_with_window(api, tenant, duration_ms=1_000)
    kept = await device_with_window(api, tenant, duration_ms=60_000)
    clock.advance(2_000)

    assert await purge(platform) == 1
    assert await count_rows(platform, claim_windows) == 1
    assert await claim(api, buyer, kept, "k") == 200


async def test_purge_deletes_an_expired_window_but_keeps_its_lock_out_until_it_ends(
    api: Api, tenant: Account, buyer: Account, platform: Platform, clock: FixedClock
) -> None:
    name = await device_with_window(api, tenant, duration_ms=10_000)
    for _ in range(5):  # the fifth consecutive failure locks the customer out for LOCK_SECONDS
        assert await claim(api, buyer, name, "wrong") == 400
    assert await claim(api, buyer, name, "k") == 429

    clock.advance(20_000)  # expired, still locked out
    assert await purge(platform) == 1
    assert await count_rows(platform, claim_windows) == 0
    assert await count_rows(platform, claim_lockouts) == 1
    assert await claim(api, buyer, name, "k") == 429

    clock.advance(LOCK_SECONDS * 1000)  # the lock-out is over
    assert await purge(platform) == 0
    assert await count_rows(platform, claim_lockouts) == 0


async def test_purge_keeps_failure_counts_while_the_device_has_a_window(
    api: Api, tenant: Account, buyer: Account, platform: Platform, clock: FixedClock
) -> None:
    name = await device_with_window(api, tenant, duration_ms=600_000)
    assert await claim(api, buyer, name, "wrong") == 400
    clock.advance(LOCK_SECONDS * 1000)
    assert await purge(platform) == 0
    assert await count_rows(platform, claim_lockouts) == 1


async def test_purge_deletes_idempotency_records_older_than_their_ttl(
    api: Api, tenant: Account, buyer: Account, platform: Platform, clock: FixedClock
) -> None:
    first = await device_with_window(api, tenant, duration_ms=3_600_000)
    assert await claim(api, buyer, first, "k", **{"Idempotency-Key": "first"}) == 200
    clock.advance(IDEMPOTENCY_TTL_SECONDS * 1000 // 2)
    second = await device_with_window(api, tenant, duration_ms=3_600_000)
    assert await claim(api, buyer, second, "k", **{"Idempotency-Key": "second"}) == 200
    assert await count_rows(platform, claim_idempotency) == 2

    clock.advance(IDEMPOTENCY_TTL_SECONDS * 1000 // 2 + 1)
    await purge(platform)

    async with platform.unit_of_work(write=False) as uow:
        rows = (await uow.connection.execute(claim_idempotency.select())).all()
    assert [row.idempotency_key for row in rows] == ["second"]


async def test_purge_of_an_empty_database_deletes_nothing(platform: Platform) -> None:
    assert await purge(platform) == 0


# --- housekeeping ----------------------------------------------------------------------------
async def test_housekeeping_purges_expired_windows_on_its_own(
    api: Api,
    tenant: Account,
    platform: Platform,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await device_with_window(api, tenant, duration_ms=1_000)
    clock.advance(1_001)
    caplog.set_level(logging.INFO, logger="gridlinks")

    housekeeping = asyncio.create_task(platform.housekeeping())
    try:
        await wait_until_no_windows(platform)
    finally:
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping

    assert "purged 1 expired claim windows" in caplog.messages


async def test_housekeeping_keeps_running_after_purging_once(
    api: Api, tenant: Account, platform: Platform, clock: FixedClock
) -> None:
    await device_with_window(api, tenant, duration_ms=1_000)
    clock.advance(1_001)
    housekeeping = asyncio.create_task(platform.housekeeping())
    try:
        await wait_until_no_windows(platform)
        await device_with_window(api, tenant, duration_ms=1_000)
        clock.advance(1_001)
        await wait_until_no_windows(platform)
        assert not housekeeping.done()
    finally:
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping


async def test_cancelled_housekeeping_ends_wherever_it_was(platform: Platform) -> None:
    for attempt in range(10):
        housekeeping = asyncio.create_task(platform.housekeeping())
        # Cancel before, around and after the first round (0.5 to 2.3 intervals).
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS * (0.5 + attempt / 5))
        housekeeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await housekeeping
        assert housekeeping.cancelled()

    async with asyncio.timeout(WAIT_SECONDS):  # no write lock or connection left behind
        assert await purge(platform) == 0


@pytest.mark.slow  # waits for a housekeeping round
async def test_housekeeping_cancelled_while_returning_its_connection_logs_no_error(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    housekeeping = asyncio.create_task(platform.housekeeping())
    test_task = asyncio.current_task()

    def cancel_housekeeping(*_: object) -> None:
        # Runs inside the round, as the connection goes back to the pool (the round has a
        # task of its own, which the cancellation waits for).
        if asyncio.current_task() is not test_task:
            housekeeping.cancel()

    sa.event.listen(platform.database.engine.sync_engine.pool, "reset", cancel_housekeeping)
    async with asyncio.timeout(WAIT_SECONDS):
        with pytest.raises(asyncio.CancelledError):
            await housekeeping

    assert await purge(platform) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_housekeeping_cancelled_during_a_purge_leaves_nothing_locked(
    api: Api,
    tenant: Account,
    platform: Platform,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await device_with_window(api, tenant, duration_ms=1_000)
    clock.advance(1_001)
    async with platform.unit_of_work() as blocker:
        # The round waits: for SQLite's write lock, or for PostgreSQL's lock on the table.
        if not platform.database.is_sqlite:
            await blocker.connection.execute(
                sa.text("LOCK TABLE claim_windows IN ACCESS EXCLUSIVE MODE")
            )
        housekeeping = asyncio.create_task(platform.housekeeping())
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS * 5)
        housekeeping.cancel()
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS * 2)
        assert not housekeeping.done()  # its round waits for the lock, and is not cut short

    # Once the lock is free the round finishes (the window is purged), then the loop ends.
    async with asyncio.timeout(WAIT_SECONDS):
        with pytest.raises(asyncio.CancelledError):
            await housekeeping
        assert await purge(platform) == 0
    assert await count_rows(platform, claim_windows) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_housekeeping_leaves_unexpired_windows_alone(
    api: Api, tenant: Account, platform: Platform
) -> None:
    await device_with_window(api, tenant, duration_ms=60_000)
    housekeeping = asyncio.create_task(platform.housekeeping())
    await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS * 4)
    housekeeping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await housekeeping

    assert await count_rows(platform, claim_windows) == 1
