"""The audit log, read by tenant administrators (ThingsBoard's paths, newest first)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gridlinks.api.deps import CurrentPrincipal, PlatformDep, UnitOfWorkDep
from gridlinks.audit.domain import audit_json
from gridlinks.audit.repository import AuditFilter
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.pagination import Page, PageRequest

router = APIRouter(tags=["audit log"])


async def audit_page(
    page_size: Annotated[int, Query(alias="pageSize")],
    page: Annotated[int, Query()],
    text_search: Annotated[str | None, Query(alias="textSearch", max_length=255)] = None,
    sort_property: Annotated[str | None, Query(alias="sortProperty", max_length=64)] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder", max_length=8)] = None,
) -> PageRequest:
    return PageRequest.build(page_size, page, text_search, sort_property, sort_order or "DESC")


AuditPage = Annotated[PageRequest, Depends(audit_page)]


class AuditQuery:
    """``startTime``, ``endTime`` (epoch ms) and ``actionTypes`` (comma separated)."""

    def __init__(
        self, start_time: int | None, end_time: int | None, action_types: str | None
    ) -> None:
        self.start_time = start_time
        self.end_time = end_time
        self.action_types = [t.strip() for t in (action_types or "").split(",") if t.strip()]

    def filter(self, **scope: Any) -> AuditFilter:
        return AuditFilter(
            start_time=self.start_time,
            end_time=self.end_time,
            action_types=self.action_types,
            **scope,
        )


async def audit_query(
    start_time: Annotated[int | None, Query(alias="startTime", ge=0)] = None,
    end_time: Annotated[int | None, Query(alias="endTime", ge=0)] = None,
    action_types: Annotated[str | None, Query(alias="actionTypes", max_length=2000)] = None,
) -> AuditQuery:
    return AuditQuery(start_time, end_time, action_types)


AuditQueryDep = Annotated[AuditQuery, Depends(audit_query)]


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
    items, total = await platform.audit.page(uow, actor, page, query.filter())
    return Page(items, total, page).to_json(audit_json)


@router.get("/api/audit/logs/entity/{entity_type}/{entity_id}")
async def entity_audit_logs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: str,
    entity_id: uuid.UUID,
    page: AuditPage,
    query: AuditQueryDep,
) -> dict[str, Any]:
    """The audit entries of one entity (e.g. ``DEVICE``) of the caller's tenant."""
    if not entity_type.isalpha() or len(entity_type) > 32:
        raise InvalidArgumentError("entityType must be an entity type such as DEVICE")
    where = query.filter(entity_type=entity_type.upper(), entity_id=entity_id)
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
    where = query.filter(customer_id=customer_id)
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
    where = query.filter(user_id=user_id)
    items, total = await platform.audit.page(uow, actor, page, where)
    return Page(items, total, page).to_json(audit_json)
