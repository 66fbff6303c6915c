"""Use cases of telemetry. Callers authorize the entity first: ``DeviceTelemetryService`` for
users, the access token for devices themselves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.telemetry.domain import DataPoint, RangeQuery, value_json
from gridlinks.telemetry.repository import Row, TelemetryRepository


class TelemetryService:
    """Store points (time series and latest values) and read them back."""

    async def save(
        self, uow: UnitOfWork, entity_id: uuid.UUID, points: Sequence[DataPoint]
    ) -> None:
        await self.save_rows(uow, self.rows_of(entity_id, points))

    @staticmethod
    def rows_of(entity_id: uuid.UUID, points: Sequence[DataPoint]) -> list[Row]:
        """The stored form of ``points``. ``TelemetryWriter`` builds it as writes arrive, so
        that this work overlaps with the batch the database is busy with."""
        return [(entity_id, p.key, p.ts, value_json(p.value)) for p in points]

    async def save_rows(self, uow: UnitOfWork, rows: Sequence[Row]) -> None:
        """Store rows of any entities with one statement per table."""
        repository = TelemetryRepository(uow.connection)
        await repository.insert(rows)
        await repository.upsert_latest(_newest(rows))

    async def read_range(
        self, uow: UnitOfWork, entity_id: uuid.UUID, query: RangeQuery
    ) -> list[DataPoint]:
        """Points in the range, key by key (``query.limit`` per key); no keys means every key
        the entity has."""
        repository = TelemetryRepository(uow.connection)
        keys = query.keys if query.keys is not None else await repository.keys(entity_id)
        points: list[DataPoint] = []
        for key in dict.fromkeys(keys):
            points += await repository.read_range(
                entity_id, key, query.start_ts, query.end_ts, query.limit, query.newest_first
            )
        return points

    async def read_latest(
        self, uow: UnitOfWork, entity_id: uuid.UUID, keys: Sequence[str] | None
    ) -> list[DataPoint]:
        """The latest point of each key (every key when ``keys`` is ``None``)."""
        return await TelemetryRepository(uow.connection).read_latest(entity_id, keys)

    async def keys(self, uow: UnitOfWork, entity_id: uuid.UUID) -> list[str]:
        return await TelemetryRepository(uow.connection).keys(entity_id)


def _newest(rows: Sequence[Row]) -> list[Row]:
    """The newest row per entity and key (the last one on equal ``ts``): all that the latest
    values need from a batch, and fewer rows to upsert."""
    newest: dict[tuple[uuid.UUID, str], Row] = {}
    for row in rows:
        current = newest.get((row[0], row[1]))
        if current is None or current[2] <= row[2]:
            newest[row[0], row[1]] = row
    return list(newest.values())
