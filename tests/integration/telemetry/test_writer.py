"""``TelemetryWriter`` on a real database: batches, commit before return, failures, close."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa

from gridlinks.bootstrap import Platform
from gridlinks.db.tables import ts_kv
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import ServiceUnavailableError
from gridlinks.telemetry.domain import DataPoint
from gridlinks.telemetry.writer import TelemetryWriter

TS = 1_700_000_000_000
SECRET_VALUE = "value-that-must-not-reach-the-log"


class CountingUnitsOfWork:
    """A unit-of-work factory that counts the transactions (one per batch) it opened."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.opened = 0

    def __call__(self) -> UnitOfWork:
        self.opened += 1
        return self._platform.unit_of_work()


def writer_for(
    platform: Platform,
    units: Callable[[], UnitOfWork] | None = None,
    *,
    max_batch_points: int = 1000,
    max_delay_ms: float = 20,
) -> TelemetryWriter:
    return TelemetryWriter(
        units or platform.unit_of_work,
        platform.telemetry,
        max_batch_points=max_batch_points,
        max_delay_ms=max_delay_ms,
    )


@pytest.fixture
async def units(platform: Platform) -> CountingUnitsOfWork:
    return CountingUnitsOfWork(platform)


@pytest.fixture
async def writer(platform: Platform, units: CountingUnitsOfWork) -> AsyncIterator[TelemetryWriter]:
    writer = writer_for(platform, units, max_batch_points=1000, max_delay_ms=20)
    await writer.start()
    yield writer
    await writer.close()


async def stored_values(platform: Platform, device_id: uuid.UUID) -> list[object]:
    async with platform.unit_of_work(write=False) as uow:
        return [p.value for p in await platform.telemetry.read_latest(uow, device_id, None)]


async def test_concurrent_writes_share_one_transaction(
    writer: TelemetryWriter, units: CountingUnitsOfWork, platform: Platform
) -> None:
    devices = [uuid.uuid4() for _ in range(200)]
    await asyncio.gather(*(writer.write(d, [DataPoint("t", TS, i)]) for i, d in enumerate(devices)))
    assert units.opened == 1
    assert await stored_values(platform, devices[123]) == [123]


async def test_a_full_batch_is_flushed_without_waiting_for_the_delay(
    platform: Platform, units: CountingUnitsOfWork
) -> None:
    writer = writer_for(platform, units, max_batch_points=10, max_delay_ms=60_000)
    try:
        writes = [writer.write(uuid.uuid4(), [DataPoint("t", TS, i)]) for i in range(25)]
        await asyncio.wait_for(asyncio.gather(*writes), timeout=10)
    finally:
        await writer.close()
    # 25 single-point writes, at most 10 points a batch: 10 + 10 + 5 (the rest has waited
    # for two flushes already, so it goes at once too).
    assert units.opened == 3


async def test_write_returns_only_after_its_points_are_committed(platform: Platform) -> None:
    writer = writer_for(platform, max_delay_ms=300)
    device = uuid.uuid4()
    try:
        pending = asyncio.create_task(writer.write(device, [DataPoint("t", TS, 1)]))
        await asyncio.sleep(0.1)
        assert not pending.done()
        assert await stored_values(platform, device) == []
        await pending
        assert await stored_values(platform, device) == [1]
    finally:
        await writer.close()


async def test_empty_write_returns_at_once_without_a_transaction(
    writer: TelemetryWriter, units: CountingUnitsOfWork
) -> None:
    await writer.write(uuid.uuid4(), [])
    assert units.opened == 0


async def test_points_of_an_unknown_or_deleted_device_do_not_fail_the_batch(
    writer: TelemetryWriter, platform: Platform
) -> None:
    gone, alive = uuid.uuid4(), uuid.uuid4()
    await asyncio.gather(
        writer.write(gone, [DataPoint("t", TS, 1)]), writer.write(alive, [DataPoint("t", TS, 2)])
    )
    assert await stored_values(platform, alive) == [2]


async def test_failed_batch_fails_every_waiter_and_later_writes_succeed(
    writer: TelemetryWriter, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    async with platform.database.engine.begin() as connection:
        await connection.run_sync(ts_kv.drop)
    devices = [uuid.uuid4() for _ in range(3)]
    with caplog.at_level(logging.ERROR, logger="gridlinks.telemetry"):
        results = await asyncio.gather(
            *(writer.write(d, [DataPoint("secret", TS, SECRET_VALUE)]) for d in devices),
            return_exceptions=True,
        )
    assert all(isinstance(r, ServiceUnavailableError) for r in results), results
    errors = [r for r in caplog.records if r.name == "gridlinks.telemetry"]
    assert len(errors) == 1
    assert "3 points from 3 writes" in errors[0].getMessage()
    assert SECRET_VALUE not in caplog.text
    assert errors[0].exc_info is None

    async with platform.database.engine.begin() as connection:
        await connection.run_sync(ts_kv.create)
    await writer.write(devices[0], [DataPoint("t", TS, "after")])
    assert await stored_values(platform, devices[0]) == ["after"]


async def test_close_stores_pending_writes_then_refuses_new_ones(platform: Platform) -> None:
    writer = writer_for(platform, max_delay_ms=60_000)
    device = uuid.uuid4()
    pending = asyncio.create_task(writer.write(device, [DataPoint("t", TS, 1)]))
    await asyncio.sleep(0.05)
    await writer.close()
    await asyncio.wait_for(pending, timeout=5)
    assert await stored_values(platform, device) == [1]
    with pytest.raises(ServiceUnavailableError):
        await writer.write(device, [DataPoint("t", TS, 2)])


async def test_platform_starts_the_writer_every_transport_shares(platform: Platform) -> None:
    device = uuid.uuid4()
    await platform.start()
    await platform.telemetry_writer.write(device, [DataPoint("t", TS, "shared")])
    assert await stored_values(platform, device) == ["shared"]


async def test_cancelled_waiter_does_not_disturb_the_others(
    writer: TelemetryWriter, platform: Platform
) -> None:
    cancelled_device, waiting_device = uuid.uuid4(), uuid.uuid4()
    cancelled = asyncio.create_task(writer.write(cancelled_device, [DataPoint("t", TS, 1)]))
    waiting = asyncio.create_task(writer.write(waiting_device, [DataPoint("t", TS, 2)]))
    await asyncio.sleep(0)
    cancelled.cancel()
    await waiting
    assert await stored_values(platform, waiting_device) == [2]


async def test_many_points_from_many_writers_are_all_stored(
    writer: TelemetryWriter, platform: Platform
) -> None:
    device = uuid.uuid4()

    async def connection(offset: int) -> None:
        for i in range(20):
            await writer.write(device, [DataPoint(f"k{offset}", TS + i, i)])

    await asyncio.gather(*(connection(n) for n in range(10)))
    async with platform.database.engine.connect() as connection_:
        count = sa.select(sa.func.count()).select_from(ts_kv).where(ts_kv.c.entity_id == device)
        assert (await connection_.execute(count)).scalar_one() == 200
    assert await stored_values(platform, device) == [19] * 10
