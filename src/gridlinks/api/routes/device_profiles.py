"""Device profiles: every tenant has ``default``; the 4.3 client reads it to build a Device."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.devices.schemas import (
    DeviceProfileSave,
    device_profile_info_json,
    device_profile_json,
)
from gridlinks.kit.pagination import Page

router = APIRouter(tags=["device profiles"])


@router.get("/api/deviceProfileInfo/default")
async def default_profile_info(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    return device_profile_info_json(await platform.device_profiles.default_profile(uow, actor))


@router.get("/api/deviceProfileInfo/{profile_id}")
async def profile_info(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, profile_id: uuid.UUID
) -> dict[str, Any]:
    return device_profile_info_json(
        await platform.device_profiles.get_profile(uow, actor, profile_id)
    )


@router.get("/api/deviceProfileInfos")
async def profile_infos(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, page: PageDep
) -> dict[str, Any]:
    items, total = await platform.device_profiles.page_profiles(uow, actor, page)
    return Page(items, total, page).to_json(device_profile_info_json)


@router.get("/api/deviceProfiles")
async def profiles(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, page: PageDep
) -> dict[str, Any]:
    items, total = await platform.device_profiles.page_profiles(uow, actor, page)
    return Page(items, total, page).to_json(device_profile_json)


@router.get("/api/deviceProfile/{profile_id}")
async def get_profile(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, profile_id: uuid.UUID
) -> dict[str, Any]:
    return device_profile_json(await platform.device_profiles.get_profile(uow, actor, profile_id))


@router.post("/api/deviceProfile", openapi_extra=body_schema(DeviceProfileSave))
async def save_profile(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    data = validate_body(DeviceProfileSave, body)
    profile = await platform.device_profiles.save_profile(uow, actor, data)
    return device_profile_json(profile)


@router.delete("/api/deviceProfile/{profile_id}")
async def delete_profile(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, profile_id: uuid.UUID
) -> Response:
    await platform.device_profiles.delete_profile(uow, actor, profile_id)
    return Response()
