"""User groups, roles, group permissions and the caller's allowed permissions (PE model)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gridlinks.accounts.domain import OPERATIONS, RESOURCES, GroupPermission, Role
from gridlinks.accounts.schemas import (
    EntityGroupSave,
    GroupPermissionSave,
    RoleSave,
    entity_group_json,
    group_permission_json,
    role_json,
)
from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.errors import BadRequestError
from gridlinks.kit.ids import entity_id, parse_uuid
from gridlinks.kit.pagination import Page

router = APIRouter(tags=["groups and roles"])


@router.post("/api/entityGroup", openapi_extra=body_schema(EntityGroupSave))
async def save_entity_group(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Create or rename a group owned by the tenant or one of its customers."""
    group = await platform.groups.save_group(uow, actor, validate_body(EntityGroupSave, body))
    return entity_group_json(group)


@router.get("/api/entityGroup/{group_id}")
async def get_entity_group(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, group_id: uuid.UUID
) -> dict[str, Any]:
    return entity_group_json(await platform.groups.get_group(uow, actor, group_id))


@router.delete("/api/entityGroup/{group_id}")
async def delete_entity_group(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, group_id: uuid.UUID
) -> Response:
    await platform.groups.delete_group(uow, actor, group_id)
    return Response()


@router.get("/api/entityGroup/{owner_type}/{owner_id}/{group_type}/{group_name}")
async def find_entity_group(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    owner_type: str,
    owner_id: uuid.UUID,
    group_type: str,
    group_name: str,
) -> dict[str, Any]:
    group = await platform.groups.find_group(uow, actor, owner_id, group_type, group_name)
    return entity_group_json(group)


@router.get("/api/entityGroups/{group_type}")
async def list_entity_groups(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    group_type: str,
    include_shared: Annotated[str | None, Query(alias="includeShared", max_length=8)] = None,
) -> list[dict[str, Any]]:
    """Groups of ``group_type`` owned by the caller's tenant (or customer)."""
    groups = await platform.groups.list_groups(uow, actor, group_type)
    return [entity_group_json(g) for g in groups]


@router.get("/api/entityGroups/{owner_type}/{owner_id}/{group_type}")
async def list_owner_entity_groups(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    owner_type: str,
    owner_id: uuid.UUID,
    group_type: str,
) -> list[dict[str, Any]]:
    groups = await platform.groups.list_owned_groups(uow, actor, owner_id, group_type)
    return [entity_group_json(g) for g in groups]


def _entity_ids(body: Any) -> list[uuid.UUID]:
    if not isinstance(body, list) or not all(isinstance(item, str) for item in body):
        raise BadRequestError('Body must be a JSON list of entity ids, e.g. ["<uuid>"]')
    return [parse_uuid(item, "entity id") for item in body]


_ENTITY_IDS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "string", "format": "uuid"}}
            }
        },
    }
}


@router.post("/api/entityGroup/{group_id}/addEntities", openapi_extra=_ENTITY_IDS_BODY)
async def add_entities(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    group_id: uuid.UUID,
    body: JsonBody,
) -> Response:
    """Add users to a user group."""
    await platform.groups.change_members(uow, actor, group_id, _entity_ids(body), add=True)
    return Response()


@router.post("/api/entityGroup/{group_id}/deleteEntities", openapi_extra=_ENTITY_IDS_BODY)
async def remove_entities(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    group_id: uuid.UUID,
    body: JsonBody,
) -> Response:
    await platform.groups.change_members(uow, actor, group_id, _entity_ids(body), add=False)
    return Response()


@router.post("/api/role", openapi_extra=body_schema(RoleSave))
async def save_role(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Create or update a role; GENERIC roles map resources to operations."""
    role = await platform.groups.save_role(uow, actor, validate_body(RoleSave, body))
    return role_json(role)


@router.get("/api/role/{role_id}")
async def get_role(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, role_id: uuid.UUID
) -> dict[str, Any]:
    return role_json(await platform.groups.get_role(uow, actor, role_id))


@router.delete("/api/role/{role_id}")
async def delete_role(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, role_id: uuid.UUID
) -> Response:
    await platform.groups.delete_role(uow, actor, role_id)
    return Response()


@router.get("/api/roles")
async def list_roles(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    page: PageDep,
    role_type: Annotated[str | None, Query(alias="type", max_length=16)] = None,
) -> dict[str, Any]:
    items, total = await platform.groups.page_roles(uow, actor, page, role_type)
    return Page(items, total, page).to_json(role_json)


@router.post("/api/groupPermission", openapi_extra=body_schema(GroupPermissionSave))
async def save_group_permission(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Give a role to a user group."""
    data = validate_body(GroupPermissionSave, body)
    permission = await platform.groups.save_permission(uow, actor, data)
    return group_permission_json(permission)


@router.get("/api/groupPermission/{permission_id}")
async def get_group_permission(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, permission_id: uuid.UUID
) -> dict[str, Any]:
    return group_permission_json(await platform.groups.get_permission(uow, actor, permission_id))


@router.delete("/api/groupPermission/{permission_id}")
async def delete_group_permission(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, permission_id: uuid.UUID
) -> Response:
    await platform.groups.delete_permission(uow, actor, permission_id)
    return Response()


def _permission_info(permission: GroupPermission, role: Role | None) -> dict[str, Any]:
    return {
        **group_permission_json(permission),
        "role": role_json(role) if role else None,
        "readOnly": False,
    }


@router.get("/api/userGroup/{group_id}/groupPermissions")
async def user_group_permissions(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, group_id: uuid.UUID
) -> list[dict[str, Any]]:
    found = await platform.groups.permissions_of_group(uow, actor, group_id, as_user_group=True)
    return [_permission_info(p, r) for p, r in found]


@router.get("/api/entityGroup/{group_id}/groupPermissions")
async def entity_group_permissions(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, group_id: uuid.UUID
) -> list[dict[str, Any]]:
    found = await platform.groups.permissions_of_group(uow, actor, group_id, as_user_group=False)
    return [_permission_info(p, r) for p, r in found]


@router.get("/api/permissions/allowedPermissions")
async def allowed_permissions(actor: CurrentPrincipal) -> dict[str, Any]:
    """What the caller may do, resource by resource (ThingsBoard PE's shape)."""
    user_permissions = {
        resource: sorted(op for op in OPERATIONS if actor.allows(resource, op))
        for resource in sorted(RESOURCES)
    }
    owner = (
        entity_id("CUSTOMER", actor.customer_id)
        if actor.customer_id
        else entity_id("TENANT", actor.tenant_id)
    )
    return {
        "operationsByResource": {r: sorted(OPERATIONS) for r in sorted(RESOURCES)},
        "allowedForGroupRoleOperations": sorted(OPERATIONS),
        "allowedForGroupOwnerOnlyOperations": [],
        "allowedForGroupOwnerOnlyGroupOperations": [],
        "allowedResources": sorted(r for r, ops in user_permissions.items() if ops),
        "userPermissions": {
            "genericPermissions": {r: ops for r, ops in user_permissions.items() if ops}
        },
        "userOwnerId": owner,
    }
