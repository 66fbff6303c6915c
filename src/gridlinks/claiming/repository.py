"""All SQL of claiming: claim windows, conditional ownership changes, idempotency records."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.claiming.domain import ClaimWindow, WindowSource
from gridlinks.db.tables import claim_idempotency, claim_windows, devices
from gridlinks.devices.domain import Device


def _window(row: sa.Row[Any]) -> ClaimWindow:
    return _window_from(dict(row._mapping))


def _window_from(values: dict[str, Any]) -> ClaimWindow:
    values["source"] = WindowSource(values["source"])
    return ClaimWindow(**values)


# Built once: it runs on every claim.
_DEVICE_WITH_WINDOWS = (
    sa.select(devices, *[c.label(f"w_{c.name}") for c in claim_windows.c])
    .select_from(devices)
    .outerjoin(claim_windows, claim_windows.c.device_id == devices.c.id)
    .where(
        devices.c.tenant_id == sa.bindparam("tenant_id"),
        devices.c.name == sa.bindparam("name"),
    )
    .with_for_update(of=devices)
)


_DELETE_WINDOWS = claim_windows.delete().where(
    claim_windows.c.device_id == sa.bindparam("device_id")
)


class ClaimWindowRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def of_device(self, device_id: uuid.UUID) -> list[ClaimWindow]:
        query = claim_windows.select().where(claim_windows.c.device_id == device_id)
        return [_window(r) for r in (await self._c.execute(query)).all()]

    async def device_with_windows(
        self, tenant_id: uuid.UUID, device_name: str
    ) -> tuple[Device, list[ClaimWindow]] | None:
        """A device of the tenant by name with its windows, in one query, the device row
        locked (PostgreSQL) so that concurrent claims of one device take turns; SQLite's
        single writer does that already."""
        params = {"tenant_id": tenant_id, "name": device_name}
        rows = (await self._c.execute(_DEVICE_WITH_WINDOWS, params)).all()
        if not rows:
            return None
        device = Device(**{c.name: rows[0]._mapping[c] for c in devices.c})
        windows = [
            _window_from({c.name: row._mapping[f"w_{c.name}"] for c in claim_windows.c})
            for row in rows
            if row._mapping["w_source"] is not None
        ]
        return device, windows

    async def put(self, window: ClaimWindow) -> None:
        """Open or replace the window of ``(device, source)``. A replaced window keeps its
        failure count and lock: rotating the key does not lift a lock-out."""
        values = {
            "device_id": window.device_id,
            "source": window.source.value,
            "secret_hash": window.secret_hash,
            "expires_at_ms": window.expires_at_ms,
            "created_time": window.created_time,
            "failed_attempts": window.failed_attempts,
            "locked_until_ms": window.locked_until_ms,
        }
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(claim_windows).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[claim_windows.c.device_id, claim_windows.c.source],
            set_={
                "secret_hash": statement.excluded.secret_hash,
                "expires_at_ms": statement.excluded.expires_at_ms,
                "created_time": statement.excluded.created_time,
            },
        )
        await self._c.execute(statement)

    async def delete(self, device_id: uuid.UUID, source: WindowSource | None = None) -> None:
        if source is None:
            await self._c.execute(_DELETE_WINDOWS, {"device_id": device_id})
            return
        query = claim_windows.delete().where(
            claim_windows.c.device_id == device_id, claim_windows.c.source == source.value
        )
        await self._c.execute(query)

    async def count_failure(self, window: ClaimWindow) -> int:
        """One more consecutive failure on ``window``; returns the new count."""
        query = (
            claim_windows.update()
            .where(
                claim_windows.c.device_id == window.device_id,
                claim_windows.c.source == window.source.value,
            )
            .values(failed_attempts=claim_windows.c.failed_attempts + 1)
            .returning(claim_windows.c.failed_attempts)
        )
        count = (await self._c.execute(query)).scalar_one_or_none()
        return int(count or 0)

    async def lock(self, window: ClaimWindow, until_ms: int) -> None:
        query = (
            claim_windows.update()
            .where(
                claim_windows.c.device_id == window.device_id,
                claim_windows.c.source == window.source.value,
            )
            .values(locked_until_ms=until_ms)
        )
        await self._c.execute(query)

    async def purge_expired(self, now_ms: int) -> int:
        """Delete windows that expired and are not holding a lock-out."""
        query = claim_windows.delete().where(
            claim_windows.c.expires_at_ms < now_ms, claim_windows.c.locked_until_ms < now_ms
        )
        return (await self._c.execute(query)).rowcount


class IdempotencyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def find(self, user_id: uuid.UUID, key: str) -> sa.Row[Any] | None:
        query = claim_idempotency.select().where(
            claim_idempotency.c.user_id == user_id, claim_idempotency.c.idempotency_key == key
        )
        return (await self._c.execute(query)).first()

    async def add(
        self, user_id: uuid.UUID, key: str, device_name: str, response_json: str, now_ms: int
    ) -> None:
        await self._c.execute(
            claim_idempotency.insert().values(
                user_id=user_id,
                idempotency_key=key,
                device_name=device_name,
                response_json=response_json,
                created_time=now_ms,
            )
        )

    async def delete(self, user_id: uuid.UUID, key: str) -> None:
        query = claim_idempotency.delete().where(
            claim_idempotency.c.user_id == user_id, claim_idempotency.c.idempotency_key == key
        )
        await self._c.execute(query)

    async def purge_older_than(self, cutoff_ms: int) -> int:
        query = claim_idempotency.delete().where(claim_idempotency.c.created_time < cutoff_ms)
        return (await self._c.execute(query)).rowcount
