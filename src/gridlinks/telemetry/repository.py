"""All SQL of telemetry. Values are stored as compact JSON text, so types survive.

Writes are batched: one ``executemany`` per table per batch, rows as plain tuples (no objects
per point). A point re-sent with the same timestamp overwrites; the latest value only moves
forward in time (an upsert whose update is guarded by ``ts``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.tables import ts_kv, ts_kv_latest
from gridlinks.telemetry.domain import DataPoint

# A row for either table: entity id, key, ts, value as JSON text.
Row = tuple[uuid.UUID, str, int, str]
_ROW_COLUMNS = ["entity_id", "key", "ts", "value_json"]


@dataclass(frozen=True)
class _DriverStatements:
    """The two upserts compiled for one dialect, and how an entity id is bound there.

    Batches run through ``exec_driver_sql`` with plain tuples: SQLAlchemy's per-row parameter
    processing would cost more than SQLite's own work for each row."""

    series_sql: str
    latest_sql: str
    bind_entity_id: Callable[[Any], Any] | None


_COMPILED: dict[str, _DriverStatements] = {}


def _upserts(dialect_name: str) -> tuple[sa.Insert, sa.Insert]:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    series = dialect.insert(ts_kv)
    series = series.on_conflict_do_update(
        index_elements=[ts_kv.c.entity_id, ts_kv.c.key, ts_kv.c.ts],
        set_={"value_json": series.excluded.value_json},
    )
    latest = dialect.insert(ts_kv_latest)
    latest = latest.on_conflict_do_update(
        index_elements=[ts_kv_latest.c.entity_id, ts_kv_latest.c.key],
        set_={"ts": latest.excluded.ts, "value_json": latest.excluded.value_json},
        # An older point arriving late must not replace a newer latest value.
        where=ts_kv_latest.c.ts <= latest.excluded.ts,
    )
    return series, latest


def _driver_statements(dialect: sa.Dialect) -> _DriverStatements:
    """Compiled once per dialect: they run on every batch."""
    compiled = _COMPILED.get(dialect.name)
    if compiled is None:
        series, latest = (s.compile(dialect=dialect) for s in _upserts(dialect.name))
        for statement in (series, latest):
            if list(statement.positiontup or ()) != _ROW_COLUMNS:
                raise RuntimeError(f"unexpected parameter order in {statement}")
        bind = sa.Uuid().dialect_impl(dialect).bind_processor(dialect)
        compiled = _DriverStatements(str(series), str(latest), bind)
        _COMPILED[dialect.name] = compiled
    return compiled


_RANGE_COLUMNS = (ts_kv.c.key, ts_kv.c.ts, ts_kv.c.value_json)
_RANGE_WHERE = (
    ts_kv.c.entity_id == sa.bindparam("entity_id"),
    ts_kv.c.key == sa.bindparam("key"),
    ts_kv.c.ts.between(sa.bindparam("start_ts"), sa.bindparam("end_ts")),
)
_RANGE_NEWEST_FIRST = (
    sa.select(*_RANGE_COLUMNS)
    .where(*_RANGE_WHERE)
    .order_by(ts_kv.c.ts.desc())
    .limit(sa.bindparam("limit"))
)
_RANGE_OLDEST_FIRST = (
    sa.select(*_RANGE_COLUMNS)
    .where(*_RANGE_WHERE)
    .order_by(ts_kv.c.ts.asc())
    .limit(sa.bindparam("limit"))
)


def _points(rows: Sequence[Any]) -> list[DataPoint]:
    """``(key, ts, value_json)`` rows as points."""
    return [DataPoint(key, ts, json.loads(value_json)) for key, ts, value_json in rows]


def _bound(statements: _DriverStatements, rows: Sequence[Row]) -> Sequence[tuple[Any, ...]]:
    bind = statements.bind_entity_id
    if bind is None:
        return rows
    return [(bind(e), k, t, v) for e, k, t, v in rows]


class TelemetryRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def insert(self, rows: Sequence[Row]) -> None:
        """Store time series rows (one ``executemany``); same entity, key and ts overwrites."""
        if rows:
            statements = _driver_statements(self._c.dialect)
            await self._c.exec_driver_sql(statements.series_sql, _bound(statements, rows))

    async def upsert_latest(self, rows: Sequence[Row]) -> None:
        """Move latest values forward (one ``executemany``); older rows change nothing."""
        if rows:
            statements = _driver_statements(self._c.dialect)
            await self._c.exec_driver_sql(statements.latest_sql, _bound(statements, rows))

    async def read_range(
        self,
        entity_id: uuid.UUID,
        key: str,
        start_ts: int,
        end_ts: int,
        limit: int,
        newest_first: bool,
    ) -> list[DataPoint]:
        """Points of one key with ``start_ts <= ts <= end_ts``, at most ``limit``."""
        query = _RANGE_NEWEST_FIRST if newest_first else _RANGE_OLDEST_FIRST
        params = {
            "entity_id": entity_id,
            "key": key,
            "start_ts": start_ts,
            "end_ts": end_ts,
            "limit": limit,
        }
        return _points((await self._c.execute(query, params)).all())

    async def read_latest(
        self, entity_id: uuid.UUID, keys: Sequence[str] | None
    ) -> list[DataPoint]:
        """The latest point of each of ``keys`` that has one (all keys when ``None``)."""
        query = sa.select(ts_kv_latest.c.key, ts_kv_latest.c.ts, ts_kv_latest.c.value_json).where(
            ts_kv_latest.c.entity_id == entity_id
        )
        if keys is not None:
            query = query.where(ts_kv_latest.c.key.in_(keys))
        return _points((await self._c.execute(query.order_by(ts_kv_latest.c.key))).all())

    async def keys(self, entity_id: uuid.UUID) -> list[str]:
        """Every key the entity has sent, sorted."""
        query = (
            sa.select(ts_kv_latest.c.key)
            .where(ts_kv_latest.c.entity_id == entity_id)
            .order_by(ts_kv_latest.c.key)
        )
        return list((await self._c.execute(query)).scalars().all())

    async def delete_entity(self, entity_id: uuid.UUID) -> None:
        """Forget every point of the entity (the entity is being deleted)."""
        await self._c.execute(ts_kv.delete().where(ts_kv.c.entity_id == entity_id))
        await self._c.execute(ts_kv_latest.delete().where(ts_kv_latest.c.entity_id == entity_id))
