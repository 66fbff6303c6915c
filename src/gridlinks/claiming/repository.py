"""All SQL of claiming: claim windows, lock-outs, idempotency records."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.claiming.domain import ClaimLockout, ClaimWindow, WindowSource
from gridlinks.db.tables import claim_idempotency, claim_lockouts, claim_windows


def _window(row: sa.Row[Any]) -> ClaimWindow:
    values = dict(row._mapping)
    values["source"] = WindowSource(values["source"])
    return ClaimWindow(**values)


_DELETE_WINDOWS = claim_windows.delete().where(
    claim_windows.c.device_id == sa.bindparam("device_id")
)


def _dialect(connection: AsyncConnection) -> Any:
    return postgresql if connection.dialect.name == "postgresql" else sqlite


class ClaimWindowRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def of_device(self, device_id: uuid.UUID) -> list[ClaimWindow]:
        query = claim_windows.select().where(claim_windows.c.device_id == device_id)
        return [_window(r) for r in (await self._c.execute(query)).all()]

    async def put(self, window: ClaimWindow) -> None:
        """Open or replace the window of ``(device, source)``."""
        values = {
            "device_id": window.device_id,
            "source": window.source.value,
            "secret_hash": window.secret_hash,
            "expires_at_ms": window.expires_at_ms,
            "created_time": window.created_time,
        }
        statement = _dialect(self._c).insert(claim_windows).values(**values)
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

    async def purge_expired(self, now_ms: int) -> int:
        """Delete windows that expired (lock-outs are purged apart from them)."""
        query = claim_windows.delete().where(claim_windows.c.expires_at_ms < now_ms)
        return (await self._c.execute(query)).rowcount


_LOCKOUT_OF = claim_lockouts.select().where(
    claim_lockouts.c.device_id == sa.bindparam("device_id"),
    claim_lockouts.c.customer_id == sa.bindparam("customer_id"),
)


class ClaimLockoutRepository:
    """Failed claims per (device, guessing customer). Callers hold the device row's lock
    (``DeviceRepository.find_by_name(..., for_update=True)``; SQLite: the single writer), so a
    count read here is the count the next update builds on."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def of(self, device_id: uuid.UUID, customer_id: uuid.UUID) -> ClaimLockout:
        params = {"device_id": device_id, "customer_id": customer_id}
        row = (await self._c.execute(_LOCKOUT_OF, params)).first()
        if row is None:
            return ClaimLockout()
        return ClaimLockout(row.failed_attempts, row.locked_until_ms)

    async def count_failure(self, device_id: uuid.UUID, customer_id: uuid.UUID) -> int:
        """One more consecutive failure of ``customer_id`` on the device; the new count.
        A single atomic upsert, so even a caller without the device lock cannot lose one."""
        table = claim_lockouts
        statement = (
            _dialect(self._c)
            .insert(table)
            .values(
                device_id=device_id, customer_id=customer_id, failed_attempts=1, locked_until_ms=0
            )
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.device_id, table.c.customer_id],
            set_={"failed_attempts": table.c.failed_attempts + 1},
        ).returning(table.c.failed_attempts)
        return int((await self._c.execute(statement)).scalar_one())

    async def lock(self, device_id: uuid.UUID, customer_id: uuid.UUID, until_ms: int) -> None:
        query = (
            claim_lockouts.update()
            .where(
                claim_lockouts.c.device_id == device_id,
                claim_lockouts.c.customer_id == customer_id,
            )
            .values(locked_until_ms=until_ms)
        )
        await self._c.execute(query)

    async def clear(self, device_id: uuid.UUID) -> None:
        """Forget every customer's failures on the device (claimed, re-announced, released)."""
        await self._c.execute(
            claim_lockouts.delete().where(claim_lockouts.c.device_id == device_id)
        )

    async def purge(self, now_ms: int) -> int:
        """Delete lock-outs that have ended on devices without a window: nothing is left to
        guess there, and the next window starts every customer afresh anyway."""
        has_window = sa.exists().where(claim_windows.c.device_id == claim_lockouts.c.device_id)
        query = claim_lockouts.delete().where(
            claim_lockouts.c.locked_until_ms <= now_ms, ~has_window
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
