"""Users: create (with or without activation mail), activation links, listings, enabling and
disabling, delete."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from gridlinks.accounts.schemas import UserSave, user_json
from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    parse_bool,
    validate_body,
)
from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.ids import parse_uuid
from gridlinks.kit.pagination import Page

router = APIRouter(tags=["users"])


@router.post("/api/user", openapi_extra=body_schema(UserSave))
async def save_user(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    body: JsonBody,
    send_activation_mail: Annotated[
        str | None, Query(alias="sendActivationMail", max_length=8)
    ] = None,
    entity_group_id: Annotated[str | None, Query(alias="entityGroupId", max_length=36)] = None,
    entity_group_ids: Annotated[list[str] | None, Query(alias="entityGroupIds")] = None,
) -> dict[str, Any]:
    """Create or update a user. New users are inactive until activated through the link of
    ``GET /api/user/{id}/activationLink``. ``entityGroupId(s)`` put a customer user into those
    user groups instead of the built-in *Customer Users*."""
    if parse_bool(send_activation_mail):
        raise InvalidArgumentError(
            "No mail server is configured: use sendActivationMail=false and the activation link"
        )
    raw_ids = [entity_group_id] if entity_group_id else []
    for item in entity_group_ids or []:
        raw_ids.extend(part for part in item.split(",") if part)
    group_ids = [parse_uuid(g, "entityGroupId") for g in raw_ids]
    user = await platform.accounts.save_user(uow, actor, validate_body(UserSave, body), group_ids)
    return user_json(user)


@router.get("/api/user/{user_id}")
async def get_user(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, user_id: uuid.UUID
) -> dict[str, Any]:
    return user_json(await platform.accounts.get_user(uow, actor, user_id))


@router.delete("/api/user/{user_id}")
async def delete_user(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, user_id: uuid.UUID
) -> Response:
    await platform.accounts.delete_user(uow, actor, user_id)
    return Response()


@router.get("/api/user/{user_id}/activationLink", response_class=PlainTextResponse)
async def activation_link(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, user_id: uuid.UUID
) -> str:
    """A plain-text link ending in ``?activateToken=...``; each call issues a new token."""
    link = await platform.activation.activation_link(uow, actor, user_id)
    return link


@router.post("/api/user/{user_id}/userCredentialsEnabled")
async def set_user_credentials_enabled(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    user_id: uuid.UUID,
    enabled: Annotated[str, Query(alias="userCredentialsEnabled", max_length=8)] = "true",
) -> Response:
    """Disable a user (it cannot sign in, and every token it holds stops working at once) or
    enable it again. Those who may manage the user only; nobody disables themselves."""
    await platform.accounts.set_credentials_enabled(uow, actor, user_id, parse_bool(enabled))
    return Response()


@router.get("/api/users")
async def list_tenant_users(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, page: PageDep
) -> dict[str, Any]:
    items, total = await platform.accounts.page_users(uow, actor, page)
    return Page(items, total, page).to_json(user_json)


@router.get("/api/customer/{customer_id}/users")
async def list_customer_users(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    customer_id: uuid.UUID,
    page: PageDep,
) -> dict[str, Any]:
    items, total = await platform.accounts.page_users(uow, actor, page, customer_id=customer_id)
    return Page(items, total, page).to_json(user_json)


@router.get("/api/tenant/{tenant_id}/users")
async def list_tenant_admins(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    tenant_id: uuid.UUID,
    page: PageDep,
) -> dict[str, Any]:
    items, total = await platform.accounts.page_users(uow, actor, page, tenant_id=tenant_id)
    return Page(items, total, page).to_json(user_json)
