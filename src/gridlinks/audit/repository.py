"""All SQL of the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.audit.domain import AuditEntry
from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import audit_logs
from gridlinks.kit.pagination import PageRequest


@dataclass(frozen=True)
class AuditFilter:
    """Optional conditions; the tenant always comes from the caller."""

    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    start_time: int | None = None
    end_time: int | None = None
    action_types: Sequence[str] = ()


class AuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, entry: AuditEntry) -> None:
        await self._c.execute(audit_logs.insert(), asdict(entry))

    async def page(
        self, tenant_id: uuid.UUID, where: AuditFilter, request: PageRequest
    ) -> tuple[list[AuditEntry], int]:
        query = audit_logs.select().where(audit_logs.c.tenant_id == tenant_id)
        query = query.where(*_conditions(where))
        rows, total = await fetch_page(
            self._c,
            query,
            request,
            search_column=audit_logs.c.entity_name,
            sort_columns={
                "createdTime": audit_logs.c.created_time,
                "entityType": audit_logs.c.entity_type,
                "entityName": audit_logs.c.entity_name,
                "userName": audit_logs.c.user_name,
                "type": audit_logs.c.action_type,
                "status": audit_logs.c.action_status,
            },
            default_sort="createdTime",
            tiebreak=audit_logs.c.id,
        )
        return [_entry(r) for r in rows], total


def _conditions(where: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_logs.c
    conditions: list[sa.ColumnElement[bool]] = []
    optional: list[tuple[Any, sa.ColumnElement[bool]]] = [
        (where.entity_type, c.entity_type == where.entity_type),
        (where.entity_id, c.entity_id == where.entity_id),
        (where.customer_id, c.customer_id == where.customer_id),
        (where.user_id, c.user_id == where.user_id),
        (where.start_time, c.created_time >= (where.start_time or 0)),
        (where.end_time, c.created_time <= (where.end_time or 0)),
    ]
    conditions.extend(condition for value, condition in optional if value is not None)
    if where.action_types:
        conditions.append(c.action_type.in_(list(where.action_types)))
    return conditions


def _entry(row: sa.Row[Any]) -> AuditEntry:
    values = dict(row._mapping)
    values["action_data"] = values.get("action_data") or {}
    return AuditEntry(**values)
