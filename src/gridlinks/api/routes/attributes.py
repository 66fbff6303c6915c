"""Attributes of devices under ``/api/plugins/telemetry`` (every path style the clients use)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gridlinks.accounts.domain import Principal
from gridlinks.api.deps import CurrentPrincipal, JsonBody, PlatformDep, UnitOfWorkDep
from gridlinks.api.params import KEY_LIST_MAX_LENGTH, EntityTypePath, ScopePath
from gridlinks.attributes.domain import attribute_json, parse_keys
from gridlinks.bootstrap import Platform
from gridlinks.db.unit_of_work import UnitOfWork

router = APIRouter(prefix="/api/plugins/telemetry", tags=["attributes"])

Keys = Annotated[str | None, Query(max_length=KEY_LIST_MAX_LENGTH, description="comma-separated")]
_ATTRIBUTES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        },
    }
}


async def _save(
    platform: Platform,
    uow: UnitOfWork,
    actor: Principal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    body: Any,
) -> None:
    await platform.device_attributes.save(uow, actor, entity_type, entity_id, scope, body)


async def _delete(
    platform: Platform,
    uow: UnitOfWork,
    actor: Principal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    keys: str | None,
) -> None:
    await platform.device_attributes.delete(
        uow, actor, entity_type, entity_id, scope, parse_keys(keys)
    )


async def _read(
    platform: Platform,
    uow: UnitOfWork,
    actor: Principal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: str | None,
    keys: str | None,
) -> list[dict[str, Any]]:
    found = await platform.device_attributes.read(
        uow, actor, entity_type, entity_id, scope, parse_keys(keys)
    )
    return [attribute_json(a) for a in found]


@router.post("/{device_id}/{scope}", openapi_extra=_ATTRIBUTES_BODY)
async def save_device_attributes(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_id: uuid.UUID,
    scope: ScopePath,
    body: JsonBody,
) -> Response:
    """Save attributes of a device: body ``{key: value}``, JSON types kept."""
    await _save(platform, uow, actor, "DEVICE", device_id, scope, body)
    return Response()


@router.post("/{entity_type}/{entity_id}/{scope}", openapi_extra=_ATTRIBUTES_BODY)
async def save_entity_attributes_v1(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    body: JsonBody,
) -> Response:
    await _save(platform, uow, actor, entity_type, entity_id, scope, body)
    return Response()


@router.post("/{entity_type}/{entity_id}/attributes/{scope}", openapi_extra=_ATTRIBUTES_BODY)
async def save_entity_attributes_v2(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    body: JsonBody,
) -> Response:
    await _save(platform, uow, actor, entity_type, entity_id, scope, body)
    return Response()


@router.get("/{entity_type}/{entity_id}/values/attributes")
async def read_attributes(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    keys: Keys = None,
) -> list[dict[str, Any]]:
    """Attributes of every scope: ``[{lastUpdateTs, key, value}]``."""
    return await _read(platform, uow, actor, entity_type, entity_id, None, keys)


@router.get("/{entity_type}/{entity_id}/values/attributes/{scope}")
async def read_attributes_by_scope(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    keys: Keys = None,
) -> list[dict[str, Any]]:
    return await _read(platform, uow, actor, entity_type, entity_id, scope, keys)


@router.get("/{entity_type}/{entity_id}/keys/attributes")
async def attribute_keys(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
) -> list[str]:
    found = await _read(platform, uow, actor, entity_type, entity_id, None, None)
    return sorted({a["key"] for a in found})


@router.get("/{entity_type}/{entity_id}/keys/attributes/{scope}")
async def attribute_keys_by_scope(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
) -> list[str]:
    found = await _read(platform, uow, actor, entity_type, entity_id, scope, None)
    return [a["key"] for a in found]


@router.delete("/{device_id}/{scope}")
async def delete_device_attributes(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_id: uuid.UUID,
    scope: ScopePath,
    keys: Keys = None,
) -> Response:
    """Delete the attributes named in ``keys`` (comma-separated); any body is ignored."""
    await _delete(platform, uow, actor, "DEVICE", device_id, scope, keys)
    return Response()


@router.delete("/{entity_type}/{entity_id}/{scope}")
async def delete_entity_attributes(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    entity_type: EntityTypePath,
    entity_id: uuid.UUID,
    scope: ScopePath,
    keys: Keys = None,
) -> Response:
    await _delete(platform, uow, actor, entity_type, entity_id, scope, keys)
    return Response()
