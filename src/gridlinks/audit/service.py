"""Use cases of the audit log: record inside the caller's unit of work, read as tenant admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from gridlinks.accounts.domain import Principal
from gridlinks.audit.domain import ACTION_TYPES, AuditEntry
from gridlinks.audit.repository import AuditFilter, AuditRepository
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import InvalidArgumentError, PermissionDeniedError
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id
from gridlinks.kit.pagination import PageRequest


@dataclass(frozen=True)
class AuditAction:
    """One thing to record: who (``actor`` or a device), what, on which entity."""

    tenant_id: uuid.UUID
    action_type: str
    entity_type: str
    entity_id: uuid.UUID | None
    entity_name: str | None
    success: bool = True
    customer_id: uuid.UUID | None = None
    failure_details: str | None = None
    data: dict[str, Any] | None = None


class AuditLog:
    """Entries are written in the same transaction as the change they describe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def record(
        self, uow: UnitOfWork, action: AuditAction, actor: Principal | None = None
    ) -> AuditEntry:
        entry = AuditEntry(
            id=new_id(),
            tenant_id=action.tenant_id,
            customer_id=action.customer_id,
            entity_type=action.entity_type,
            entity_id=action.entity_id,
            entity_name=action.entity_name,
            user_id=actor.user_id if actor else None,
            user_name=actor.email if actor else None,
            action_type=action.action_type,
            action_status="SUCCESS" if action.success else "FAILURE",
            created_time=self._clock.now_ms(),
            action_data=action.data or {},
            action_failure_details=action.failure_details,
        )
        await AuditRepository(uow.connection).add(entry)
        return entry

    async def page(
        self,
        uow: UnitOfWork,
        actor: Principal,
        request: PageRequest,
        where: AuditFilter | None = None,
    ) -> tuple[list[AuditEntry], int]:
        """The caller's tenant's entries (tenant administrators only), newest first unless
        the request sorts otherwise."""
        if not actor.is_tenant_admin or actor.tenant_id is None:
            raise PermissionDeniedError()
        where = where or AuditFilter()
        if set(where.action_types) - ACTION_TYPES:
            raise InvalidArgumentError("actionTypes names an unknown action type")
        return await AuditRepository(uow.connection).page(actor.tenant_id, where, request)
