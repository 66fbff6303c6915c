"""Telemetry of devices as users reach them: authorize the device, then read."""

from __future__ import annotations

import uuid

from gridlinks.accounts.domain import Principal
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.service import DeviceService
from gridlinks.errors import InvalidArgumentError
from gridlinks.telemetry.domain import DataPoint, RangeQuery
from gridlinks.telemetry.service import TelemetryService

ENTITY_TYPE = "DEVICE"


class DeviceTelemetryService:
    """The REST face of telemetry: every call checks the caller may reach the device with
    ``READ_TELEMETRY`` (another tenant's device is 404, another customer's 403). Devices
    themselves write through ``TelemetryWriter`` once their token has identified them."""

    def __init__(self, devices: DeviceService, telemetry: TelemetryService) -> None:
        self._devices = devices
        self._telemetry = telemetry

    async def read_range(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        query: RangeQuery,
    ) -> list[DataPoint]:
        device_id = await self._device_id(uow, actor, entity_type, entity_id)
        return await self._telemetry.read_range(uow, device_id, query)

    async def read_latest(
        self,
        uow: UnitOfWork,
        actor: Principal,
        entity_type: str,
        entity_id: uuid.UUID,
        keys: list[str] | None,
    ) -> list[DataPoint]:
        device_id = await self._device_id(uow, actor, entity_type, entity_id)
        return await self._telemetry.read_latest(uow, device_id, keys)

    async def keys(
        self, uow: UnitOfWork, actor: Principal, entity_type: str, entity_id: uuid.UUID
    ) -> list[str]:
        device_id = await self._device_id(uow, actor, entity_type, entity_id)
        return await self._telemetry.keys(uow, device_id)

    async def _device_id(
        self, uow: UnitOfWork, actor: Principal, entity_type: str, entity_id: uuid.UUID
    ) -> uuid.UUID:
        if entity_type.upper() != ENTITY_TYPE:
            raise InvalidArgumentError("Telemetry is supported for entityType DEVICE")
        device = await self._devices.get_device(uow, actor, entity_id, "READ_TELEMETRY")
        return device.id
