"""Attributes of devices as users reach them: authorize the device, then read or write."""

from __future__ import annotations

import uuid
from typing import Any

from gridlinks.accounts.domain import Principal
from gridlinks.attributes.domain import AttributeValue, scope_problem
from gridlinks.attributes.service import AttributeService
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.service import DeviceService
from gridlinks.errors import InvalidArgumentError

ENTITY_TYPE = "DEVICE"


class DeviceAttributeService:
    """The REST face of attributes: every call checks the caller may reach the device with
    ``READ_ATTRIBUTES`` / ``WRITE_ATTRIBUTES``. Devices themselves (MQTT, HTTP device API) use
    ``AttributeService`` directly once their token has identified them."""

    def __init__(self, devices: DeviceService, attributes: AttributeService) -> None:
        self._devices = devices
        self._attributes = attributes

    async def save(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        scope: str,
        values: Any,
    ) -> None:
        device_id = await self._device_id(uow, actor, entity_type, entity_id, "WRITE_ATTRIBUTES")
        problem = scope_problem(scope, for_write=True)
        if problem:
            raise InvalidArgumentError(problem)
        await self._attributes.save(uow, ENTITY_TYPE, device_id, scope, values)

    async def read(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        scope: str | None,
        keys: list[str] | None,
    ) -> list[AttributeValue]:
        device_id = await self._device_id(uow, actor, entity_type, entity_id, "READ_ATTRIBUTES")
        return await self._attributes.read(uow, device_id, scope, keys)

    async def delete(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        scope: str,
        keys: list[str] | None,
    ) -> None:
        device_id = await self._device_id(uow, actor, entity_type, entity_id, "WRITE_ATTRIBUTES")
        await self._attributes.delete(uow, device_id, scope, keys)

    async def _device_id(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        operation: str,
    ) -> uuid.UUID:
        if entity_type.upper() != ENTITY_TYPE:
            raise InvalidArgumentError("Attributes are supported for entityType DEVICE")
        device = await self._devices.get_device(uow, actor, entity_id, operation)
        return device.id
