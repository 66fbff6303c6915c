"""All SQL of attributes. Values are stored as compact JSON text, so types survive."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.attributes.domain import AttributeValue
from gridlinks.db.tables import attributes
from gridlinks.kit.jsonvalue import dump_json

_DELETE_KEYS = attributes.delete().where(
    attributes.c.entity_id == sa.bindparam("entity_id"),
    attributes.c.scope == sa.bindparam("scope"),
    attributes.c.key.in_(sa.bindparam("keys", expanding=True)),
)


class AttributeRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def upsert(
        self,
        entity_type: str,
        entity_id: uuid.UUID,
        scope: str,
        values: Mapping[str, Any],
        ts: int,
    ) -> None:
        keys = list(values)
        await self.delete(entity_id, scope, keys)
        rows = [
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "scope": scope,
                "key": key,
                "value_json": dump_json(value),
                "last_update_ts": ts,
            }
            for key, value in values.items()
        ]
        if rows:
            await self._c.execute(attributes.insert(), rows)

    async def read(
        self, entity_id: uuid.UUID, scopes: Sequence[str], keys: Sequence[str] | None
    ) -> list[AttributeValue]:
        query = sa.select(
            attributes.c.scope,
            attributes.c.key,
            attributes.c.value_json,
            attributes.c.last_update_ts,
        ).where(attributes.c.entity_id == entity_id, attributes.c.scope.in_(scopes))
        if keys is not None:
            query = query.where(attributes.c.key.in_(keys))
        rows = (await self._c.execute(query.order_by(attributes.c.key))).all()
        return [
            AttributeValue(r.scope, r.key, json.loads(r.value_json), r.last_update_ts) for r in rows
        ]

    async def delete(self, entity_id: uuid.UUID, scope: str, keys: Sequence[str]) -> None:
        params = {"entity_id": entity_id, "scope": scope, "keys": list(keys)}
        await self._c.execute(_DELETE_KEYS, params)

    async def delete_entity(self, entity_id: uuid.UUID) -> None:
        await self._c.execute(attributes.delete().where(attributes.c.entity_id == entity_id))
