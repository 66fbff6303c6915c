"""Tenants (system administrator) and customers (tenant administrator)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gridlinks.accounts.schemas import CustomerSave, TenantSave, customer_json, tenant_json
from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.kit.pagination import Page

router = APIRouter(tags=["tenants and customers"])


@router.post("/api/tenant", openapi_extra=body_schema(TenantSave))
async def save_tenant(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Create or update a tenant (system administrator)."""
    tenant = await platform.accounts.save_tenant(uow, actor, validate_body(TenantSave, body))
    return tenant_json(tenant)


@router.get("/api/tenants")
async def list_tenants(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, page: PageDep
) -> dict[str, Any]:
    items, total = await platform.accounts.page_tenants(uow, actor, page)
    return Page(items, total, page).to_json(tenant_json)


@router.delete("/api/tenant/{tenant_id}")
async def delete_tenant(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, tenant_id: uuid.UUID
) -> Response:
    await platform.accounts.delete_tenant(uow, actor, tenant_id)
    return Response()


@router.post("/api/customer", openapi_extra=body_schema(CustomerSave))
async def save_customer(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Create or update a customer; a new one gets its two built-in user groups."""
    customer = await platform.accounts.save_customer(uow, actor, validate_body(CustomerSave, body))
    return customer_json(customer)


@router.get("/api/customers")
async def list_customers(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, page: PageDep
) -> dict[str, Any]:
    items, total = await platform.accounts.page_customers(uow, actor, page)
    return Page(items, total, page).to_json(customer_json)


@router.get("/api/tenant/customers")
async def find_customer(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    customer_title: Annotated[str, Query(alias="customerTitle", max_length=255)],
) -> dict[str, Any]:
    """A customer of the caller's tenant by exact title."""
    return customer_json(await platform.accounts.find_customer(uow, actor, customer_title))


@router.get("/api/customer/{customer_id}")
async def get_customer(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, customer_id: uuid.UUID
) -> dict[str, Any]:
    return customer_json(await platform.accounts.get_customer(uow, actor, customer_id))


@router.delete("/api/customer/{customer_id}")
async def delete_customer(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, customer_id: uuid.UUID
) -> Response:
    """Delete a customer and its users; its devices return to the tenant."""
    await platform.accounts.delete_customer(uow, actor, customer_id)
    return Response()


@router.get("/api/tenant/{tenant_id}")
async def get_tenant(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, tenant_id: uuid.UUID
) -> dict[str, Any]:
    return tenant_json(await platform.accounts.get_tenant(uow, actor, tenant_id))
