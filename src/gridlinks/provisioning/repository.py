"""All SQL of provisioning: installation-wide settings (``admin_settings``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.tables import admin_settings


class AdminSettingsRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def get(self, key: str) -> dict[str, Any] | None:
        query = admin_settings.select().where(admin_settings.c.key == key)
        row = (await self._c.execute(query)).first()
        return None if row is None else dict(row.json_value)

    async def add(self, key: str, value: dict[str, Any], now_ms: int) -> None:
        """Insert ``key``; a second insert of the same key is a ``ConflictError`` (two
        ``init --demo`` at once: one loads the demo, the other fails instead of loading it
        twice)."""
        statement = admin_settings.insert().values(key=key, json_value=value, created_time=now_ms)
        await self._c.execute(statement)
