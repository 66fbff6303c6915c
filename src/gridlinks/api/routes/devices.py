"""Devices: CRUD, lookups by name, listings, credentials and ownership (both URL styles)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.api.openapi import RATE_LIMITED
from gridlinks.api.params import page_query, page_size_query
from gridlinks.devices.schemas import (
    CredentialsSave,
    DeviceSave,
    DeviceWithCredentialsSave,
    credentials_json,
    device_json,
)
from gridlinks.errors import BadRequestError, InvalidArgumentError
from gridlinks.kit.pagination import Page, PageRequest

router = APIRouter(tags=["devices"])

DeviceType = Annotated[str | None, Query(alias="type", max_length=255)]


# Choosing credentials is rate-limited per tenant once clashes pile up (devices/clashes.py).
@router.post("/api/device", openapi_extra=body_schema(DeviceSave), responses=RATE_LIMITED)
async def save_device(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    body: JsonBody,
    access_token: Annotated[str | None, Query(alias="accessToken", max_length=255)] = None,
    entity_group_id: Annotated[str | None, Query(alias="entityGroupId", max_length=36)] = None,
) -> dict[str, Any]:
    """Create a device (with ``accessToken`` or a generated one) or update it (body ``id``).
    Without ``deviceProfileId`` it gets the profile named by ``type``, else ``default``."""
    data = validate_body(DeviceSave, body)
    device = await platform.devices.save_device(uow, actor, data, access_token)
    return device_json(device)


@router.post(
    "/api/device-with-credentials",
    openapi_extra=body_schema(DeviceWithCredentialsSave),
    responses=RATE_LIMITED,
)
async def save_device_with_credentials(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Create or update a device together with its credentials (``ACCESS_TOKEN`` or
    ``MQTT_BASIC``): ``{"device": {...}, "credentials": {...}}``."""
    data = validate_body(DeviceWithCredentialsSave, body)
    device = await platform.devices.save_device_with_credentials(
        uow, actor, data.device, data.credentials
    )
    return device_json(device)


@router.get("/api/device/{device_id}")
async def get_device(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, device_id: uuid.UUID
) -> dict[str, Any]:
    return device_json(await platform.devices.get_device(uow, actor, device_id))


@router.delete("/api/device/{device_id}")
async def delete_device(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, device_id: uuid.UUID
) -> Response:
    await platform.devices.delete_device(uow, actor, device_id)
    return Response()


@router.get("/api/tenant/device")
async def get_tenant_device(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_name: Annotated[str, Query(alias="deviceName", max_length=255)],
) -> dict[str, Any]:
    """A device of the caller's tenant by exact name (tb-rest-client 4.4)."""
    return device_json(await platform.devices.find_device(uow, actor, device_name))


@router.get("/api/tenant/devices")
async def tenant_devices(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_name: Annotated[str | None, Query(alias="deviceName", max_length=255)] = None,
    page_size: Annotated[int | None, page_size_query()] = None,
    page: Annotated[int | None, page_query()] = None,
    text_search: Annotated[str | None, Query(alias="textSearch", max_length=255)] = None,
    sort_property: Annotated[str | None, Query(alias="sortProperty", max_length=64)] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder", max_length=8)] = None,
    device_type: DeviceType = None,
) -> dict[str, Any]:
    """With ``deviceName``: that device (tb-rest-client 4.3). Otherwise a page of devices."""
    if device_name is not None:
        return device_json(await platform.devices.find_device(uow, actor, device_name))
    if page_size is None or page is None:
        raise BadRequestError("Give deviceName, or pageSize and page")
    request = PageRequest.build(page_size, page, text_search, sort_property, sort_order)
    items, total = await platform.devices.page_tenant_devices(uow, actor, request, device_type)
    return Page(items, total, request).to_json(device_json)


@router.get("/api/customer/{customer_id}/devices")
async def customer_devices(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    customer_id: uuid.UUID,
    page: PageDep,
    device_type: DeviceType = None,
) -> dict[str, Any]:
    items, total = await platform.devices.page_customer_devices(
        uow, actor, customer_id, page, device_type
    )
    return Page(items, total, page).to_json(device_json)


@router.get("/api/user/devices")
async def user_devices(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    page: PageDep,
    device_type: DeviceType = None,
) -> dict[str, Any]:
    """The devices the caller can see: the tenant's, or its own customer's."""
    if actor.customer_id is not None:
        items, total = await platform.devices.page_customer_devices(
            uow, actor, actor.customer_id, page, device_type
        )
    else:
        items, total = await platform.devices.page_tenant_devices(uow, actor, page, device_type)
    return Page(items, total, page).to_json(device_json)


@router.get("/api/device/{device_id}/credentials")
async def get_credentials(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, device_id: uuid.UUID
) -> dict[str, Any]:
    return credentials_json(await platform.devices.get_credentials(uow, actor, device_id))


@router.post(
    "/api/device/credentials", openapi_extra=body_schema(CredentialsSave), responses=RATE_LIMITED
)
async def save_credentials(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Replace a device's credentials: ``ACCESS_TOKEN`` (generated when ``credentialsId`` is
    empty) or ``MQTT_BASIC`` (``credentialsValue`` = JSON text with clientId/userName/password)."""
    data = validate_body(CredentialsSave, body)
    credentials = await platform.devices.save_credentials(uow, actor, data)
    return credentials_json(credentials)


@router.post("/api/customer/{customer_id}/device/{device_id}")
async def assign_device(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    customer_id: uuid.UUID,
    device_id: uuid.UUID,
) -> dict[str, Any]:
    """Assign a device to a customer (ThingsBoard CE path)."""
    device = await platform.devices.assign_to_customer(uow, actor, device_id, customer_id)
    return device_json(device)


@router.delete("/api/customer/device/{device_id}")
async def unassign_device(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, device_id: uuid.UUID
) -> dict[str, Any]:
    """Return a device to its tenant (ThingsBoard CE path)."""
    device = await platform.devices.unassign(uow, actor, device_id)
    return device_json(device)


@router.post("/api/owner/{owner_type}/{owner_id}/{entity_type}/{entity_id}")
async def change_owner(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    owner_type: str,
    owner_id: uuid.UUID,
    entity_type: str,
    entity_id: uuid.UUID,
) -> Response:
    """Move a device to a customer or back to the tenant (ThingsBoard PE / client 4.4)."""
    if entity_type.upper() != "DEVICE":
        raise InvalidArgumentError("Only devices change owner through this endpoint")
    await platform.devices.change_owner(uow, actor, entity_id, owner_type, owner_id)
    return Response()
