"""All SQL of devices, device profiles and device credentials."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import device_credentials, device_profiles, devices
from gridlinks.devices.domain import Device, DeviceCredentials, DeviceProfile
from gridlinks.kit.pagination import PageRequest


def _device(row: sa.Row[Any]) -> Device:
    return Device(**row._mapping)


def _profile(row: sa.Row[Any]) -> DeviceProfile:
    return DeviceProfile(**row._mapping)


def _credentials(row: sa.Row[Any]) -> DeviceCredentials:
    return DeviceCredentials(**row._mapping)


# Built once: it runs on every successful claim.
_ASSIGN_IF_UNASSIGNED = (
    devices.update()
    .where(devices.c.id == sa.bindparam("device_id"), devices.c.customer_id.is_(None))
    .values(customer_id=sa.bindparam("new_customer_id"), version=devices.c.version + 1)
)


class DeviceRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, device: Device) -> None:
        await self._c.execute(devices.insert().values(**asdict(device)))

    async def update(self, device: Device) -> None:
        values = asdict(device)
        await self._c.execute(devices.update().where(devices.c.id == device.id).values(**values))

    async def get(self, device_id: uuid.UUID) -> Device | None:
        row = (await self._c.execute(devices.select().where(devices.c.id == device_id))).first()
        return _device(row) if row else None

    async def find_by_name(
        self, tenant_id: uuid.UUID, name: str, *, for_update: bool = False
    ) -> Device | None:
        """``for_update`` locks the row (PostgreSQL) until the transaction ends."""
        query = devices.select().where(devices.c.tenant_id == tenant_id, devices.c.name == name)
        if for_update:
            query = query.with_for_update()
        row = (await self._c.execute(query)).first()
        return _device(row) if row else None

    async def set_owner(self, device_id: uuid.UUID, customer_id: uuid.UUID | None) -> None:
        query = (
            devices.update()
            .where(devices.c.id == device_id)
            .values(customer_id=customer_id, version=devices.c.version + 1)
        )
        await self._c.execute(query)

    async def assign_if_unassigned(self, device_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        """Give an unassigned device to ``customer_id``; ``False`` when someone else was first."""
        params = {"device_id": device_id, "new_customer_id": customer_id}
        return (await self._c.execute(_ASSIGN_IF_UNASSIGNED, params)).rowcount == 1

    async def unassign_if_owned_by(self, device_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        """Return a device to its tenant if ``customer_id`` still owns it."""
        query = (
            devices.update()
            .where(devices.c.id == device_id, devices.c.customer_id == customer_id)
            .values(customer_id=None, version=devices.c.version + 1)
        )
        return (await self._c.execute(query)).rowcount == 1

    async def delete(self, device_id: uuid.UUID) -> None:
        await self._c.execute(devices.delete().where(devices.c.id == device_id))

    async def page(
        self,
        tenant_id: uuid.UUID,
        request: PageRequest,
        *,
        customer_id: uuid.UUID | None = None,
        device_type: str | None = None,
        profile_id: uuid.UUID | None = None,
    ) -> tuple[list[Device], int]:
        query = devices.select().where(devices.c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(devices.c.customer_id == customer_id)
        if device_type:
            query = query.where(devices.c.type == device_type)
        if profile_id is not None:
            query = query.where(devices.c.device_profile_id == profile_id)
        rows, total = await fetch_page(
            self._c,
            query,
            request,
            search_column=devices.c.name,
            sort_columns={
                "createdTime": devices.c.created_time,
                "name": devices.c.name,
                "type": devices.c.type,
                "label": devices.c.label,
                "deviceProfileName": devices.c.type,
            },
            default_sort="createdTime",
            tiebreak=devices.c.id,
        )
        return [_device(r) for r in rows], total

    async def count_with_profile(self, profile_id: uuid.UUID) -> int:
        query = sa.select(sa.func.count()).where(devices.c.device_profile_id == profile_id)
        return int((await self._c.execute(query)).scalar_one())


class DeviceProfileRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, profile: DeviceProfile) -> None:
        await self._c.execute(device_profiles.insert().values(**asdict(profile)))

    async def update(self, profile: DeviceProfile) -> None:
        query = device_profiles.update().where(device_profiles.c.id == profile.id)
        await self._c.execute(query.values(**asdict(profile)))

    async def get(self, profile_id: uuid.UUID) -> DeviceProfile | None:
        query = device_profiles.select().where(device_profiles.c.id == profile_id)
        row = (await self._c.execute(query)).first()
        return _profile(row) if row else None

    async def find_by_name(self, tenant_id: uuid.UUID, name: str) -> DeviceProfile | None:
        query = device_profiles.select().where(
            device_profiles.c.tenant_id == tenant_id, device_profiles.c.name == name
        )
        row = (await self._c.execute(query)).first()
        return _profile(row) if row else None

    async def find_default(self, tenant_id: uuid.UUID) -> DeviceProfile | None:
        query = device_profiles.select().where(
            device_profiles.c.tenant_id == tenant_id, device_profiles.c.is_default.is_(True)
        )
        row = (await self._c.execute(query)).first()
        return _profile(row) if row else None

    async def clear_default(self, tenant_id: uuid.UUID) -> None:
        query = (
            device_profiles.update()
            .where(device_profiles.c.tenant_id == tenant_id)
            .values(is_default=False)
        )
        await self._c.execute(query)

    async def delete(self, profile_id: uuid.UUID) -> None:
        await self._c.execute(device_profiles.delete().where(device_profiles.c.id == profile_id))

    async def page(
        self, tenant_id: uuid.UUID, request: PageRequest
    ) -> tuple[list[DeviceProfile], int]:
        rows, total = await fetch_page(
            self._c,
            device_profiles.select().where(device_profiles.c.tenant_id == tenant_id),
            request,
            search_column=device_profiles.c.name,
            sort_columns={
                "createdTime": device_profiles.c.created_time,
                "name": device_profiles.c.name,
                "type": device_profiles.c.type,
            },
            default_sort="createdTime",
            tiebreak=device_profiles.c.id,
        )
        return [_profile(r) for r in rows], total


class CredentialsRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, credentials: DeviceCredentials) -> None:
        await self._c.execute(device_credentials.insert().values(**asdict(credentials)))

    async def update(self, credentials: DeviceCredentials) -> None:
        query = device_credentials.update().where(device_credentials.c.id == credentials.id)
        await self._c.execute(query.values(**asdict(credentials)))

    async def of_device(self, device_id: uuid.UUID) -> DeviceCredentials | None:
        query = device_credentials.select().where(device_credentials.c.device_id == device_id)
        row = (await self._c.execute(query)).first()
        return _credentials(row) if row else None

    async def find(self, credentials_id: str) -> DeviceCredentials | None:
        query = device_credentials.select().where(
            device_credentials.c.credentials_id == credentials_id
        )
        row = (await self._c.execute(query)).first()
        return _credentials(row) if row else None
