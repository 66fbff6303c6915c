"""Telemetry storage through ``TelemetryService`` on a real database: time series, latest
values that only move forward, range reads, keys, and clean-up when a device is deleted."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from gridlinks.bootstrap import Platform
from gridlinks.db.tables import ts_kv, ts_kv_latest
from gridlinks.telemetry.domain import DataPoint, RangeQuery
from tests.integration.factories import Api, create_tenant_admin_quickly

TS = 1_700_000_000_000


async def save(platform: Platform, entity_id: uuid.UUID, *points: DataPoint) -> None:
    async with platform.unit_of_work() as uow:
        await platform.telemetry.save(uow, entity_id, points)
        await uow.commit()


async def latest(platform: Platform, entity_id: uuid.UUID, keys: list[str] | None = None) -> Any:
    async with platform.unit_of_work(write=False) as uow:
        return await platform.telemetry.read_latest(uow, entity_id, keys)


async def read_range(platform: Platform, entity_id: uuid.UUID, query: RangeQuery) -> Any:
    async with platform.unit_of_work(write=False) as uow:
        return await platform.telemetry.read_range(uow, entity_id, query)


async def row_count(platform: Platform, entity_id: uuid.UUID) -> int:
    async with platform.database.engine.connect() as connection:
        total = 0
        for table in (ts_kv, ts_kv_latest):
            query = sa.select(sa.func.count()).where(table.c.entity_id == entity_id)
            total += (await connection.execute(query)).scalar_one()
        return total


async def test_saved_points_are_read_back_with_their_json_types(platform: Platform) -> None:
    device = uuid.uuid4()
    values: dict[str, Any] = {
        "t": 22.5,
        "whole": 2.0,
        "n": 40,
        "on": True,
        "text": "true",
        "obj": {"a": [1, "b", None]},
        "uni": "Zähler 温度",
    }
    await save(platform, device, *(DataPoint(k, TS, v) for k, v in values.items()))
    stored = {p.key: p.value for p in await latest(platform, device)}
    assert stored == values
    for key, value in values.items():
        assert type(stored[key]) is type(value), key


async def test_latest_value_never_goes_back_in_time(platform: Platform) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("t", TS + 10, "new"))
    await save(platform, device, DataPoint("t", TS, "old"))
    assert await latest(platform, device) == [DataPoint("t", TS + 10, "new")]
    history = await read_range(platform, device, RangeQuery(["t"], 0, TS + 100))
    assert [p.value for p in history] == ["new", "old"]


async def test_latest_within_one_batch_is_the_newest_point_whatever_the_order(
    platform: Platform,
) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("t", TS + 5, 5), DataPoint("t", TS + 1, 1))
    assert await latest(platform, device) == [DataPoint("t", TS + 5, 5)]


async def test_point_resent_with_the_same_ts_overwrites(platform: Platform) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("t", TS, 1))
    await save(platform, device, DataPoint("t", TS, 2))
    assert await read_range(platform, device, RangeQuery(["t"], TS, TS)) == [DataPoint("t", TS, 2)]
    assert await latest(platform, device) == [DataPoint("t", TS, 2)]


async def test_same_point_twice_in_one_batch_keeps_the_last(platform: Platform) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("t", TS, 1), DataPoint("t", TS, 2))
    assert await read_range(platform, device, RangeQuery(["t"], TS, TS)) == [DataPoint("t", TS, 2)]
    assert await latest(platform, device) == [DataPoint("t", TS, 2)]


async def test_range_is_inclusive_limited_per_key_and_ordered(platform: Platform) -> None:
    device = uuid.uuid4()
    points = [DataPoint(k, TS + i, i) for i in range(10) for k in ("a", "b")]
    await save(platform, device, *points)
    newest = await read_range(platform, device, RangeQuery(["a", "b"], TS + 2, TS + 6, limit=3))
    assert [(p.key, p.value) for p in newest] == [
        ("a", 6),
        ("a", 5),
        ("a", 4),
        ("b", 6),
        ("b", 5),
        ("b", 4),
    ]
    oldest = await read_range(
        platform, device, RangeQuery(["a"], TS + 2, TS + 6, newest_first=False)
    )
    assert [p.value for p in oldest] == [2, 3, 4, 5, 6]


async def test_range_without_keys_reads_every_key_and_skips_keys_without_data(
    platform: Platform,
) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("b", TS, 1), DataPoint("a", TS + 50, 2))
    found = await read_range(platform, device, RangeQuery(None, TS, TS + 10))
    assert found == [DataPoint("b", TS, 1)]
    named = await read_range(platform, device, RangeQuery(["missing", "b"], TS, TS + 10))
    assert named == [DataPoint("b", TS, 1)]


async def test_entities_do_not_see_each_others_points(platform: Platform) -> None:
    one, other = uuid.uuid4(), uuid.uuid4()
    await save(platform, one, DataPoint("t", TS, 1))
    assert await latest(platform, other) == []
    async with platform.unit_of_work(write=False) as uow:
        assert await platform.telemetry.keys(uow, other) == []


async def test_keys_are_listed_once_and_sorted(platform: Platform) -> None:
    device = uuid.uuid4()
    await save(platform, device, DataPoint("z", TS, 1), DataPoint("a", TS, 1))
    await save(platform, device, DataPoint("z", TS + 1, 2), DataPoint("m", TS, 1))
    async with platform.unit_of_work(write=False) as uow:
        assert await platform.telemetry.keys(uow, device) == ["a", "m", "z"]
    assert [p.key for p in await latest(platform, device, ["z", "nope"])] == ["z"]


async def test_deleting_a_device_deletes_its_telemetry(api: Api, platform: Platform) -> None:
    tenant = await create_tenant_admin_quickly(api)
    doomed = await api.create_device(tenant)
    kept = await api.create_device(tenant)
    doomed_id, kept_id = uuid.UUID(doomed["id"]["id"]), uuid.UUID(kept["id"]["id"])
    for device_id in (doomed_id, kept_id):
        await save(platform, device_id, DataPoint("t", TS, 1), DataPoint("t", TS + 1, 2))
    await api.ok("DELETE", f"/api/device/{doomed_id}", tenant)
    assert await row_count(platform, doomed_id) == 0
    assert await row_count(platform, kept_id) == 3
