"""The audit log, read by tenant administrators (ThingsBoard's paths, newest first)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gridlinks.api.deps import CurrentPrincipal, PlatformDep, UnitOfWorkDep, page_dependency
from gridlinks.api.params import EntityTypePath, epoch_ms_query
from gridlinks.audit.domain import audit_json
from gridlinks.audit.repository import AuditFilter
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.pagination import Page, PageRequest

router = APIRouter(tags=["audit log"])


AuditPage = Annotated[PageRequest, Depends(page_dependency("DESC"))]


async def audit_query(
    start_time: Annotated[int | None, epoch_ms_query("startTime")] = None,
    end_time: Annotated[int | None, epoch_ms_query("endTime")] = None,
    action_types: Annotated[str | None, Query(alias="actionTypes", max_length=2000)] = None,
) -> AuditFilter:
    """``startTime``, ``endTime`` (epoch ms) and ``actionTypes`` (comma separated)."""
    types = [t.strip() for t in (action_types or "").split(",") if t.strip()]
    return AuditFilter(start_time=start_time, end_time=end_time, action_types=types)


AuditQueryDep = Annotated[AuditFilter, Depends(audit_query)]


@router.get("/api/audit/logs")
async def audit_logs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    page: AuditPage,
    query: AuditQueryDep,
) -> dict[str, Any]:
    """Every audit entry of the caller's tenant: claims (also refused ones, with the reason in
    ``actionFailureDetails``), releases and other ownership changes."""
    items, total = await platform.audit.page(uow, actor, page, query)
    return Page(items, total, page).to_json(audit_json)


@router.get("/api/audit/logs/entity/{entity_type}/{entity_id}")
async def entity_audit_logs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    page: AuditPage,
    query: AuditQueryDep,
) -> dict[str, Any]:
    """The audit entries of one entity (e.g. ``DEVICE``) of the caller's tenant."""
    if not entity_type.isalpha() or len(entity_type) > 32:
        raise InvalidArgumentError("entityType must be an entity type such as DEVICE")
    where = replace(query, entity_type=entity_type.upper(), entity_id=entity_id)
    items, total = await platform.audit.page(uow, actor, page, where)
    return Page(items, total, page).to_json(audit_json)


@router.get("/api/audit/logs/customer/{customer_id}")
async def customer_audit_logs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    customer_id: uuid.UUID,
    page: AuditPage,
    query: AuditQueryDep,
) -> dict[str, Any]:
    """The audit entries about one customer of the caller's tenant (e.g. its claims)."""
    where = replace(query, customer_id=customer_id)
    items, total = await platform.audit.page(uow, actor, page, where)
    return Page(items, total, page).to_json(audit_json)


@router.get("/api/audit/logs/user/{user_id}")
async def user_audit_logs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    user_id: uuid.UUID,
    page: AuditPage,
    query: AuditQueryDep,
) -> dict[str, Any]:
    """The audit entries of what one user of the caller's tenant did."""
    where = replace(query, user_id=user_id)
    items, total = await platform.audit.page(uow, actor, page, where)
    return Page(items, total, page).to_json(audit_json)
