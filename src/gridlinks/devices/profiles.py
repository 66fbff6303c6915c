"""Device profiles: every tenant has ``default``; devices without a profile get it."""

from __future__ import annotations

import uuid
from dataclasses import replace

from gridlinks.accounts.domain import Principal
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import DEFAULT_PROFILE_NAME, DeviceProfile
from gridlinks.devices.repository import DeviceProfileRepository, DeviceRepository
from gridlinks.devices.schemas import DeviceProfileSave
from gridlinks.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id
from gridlinks.kit.pagination import PageRequest


def tenant_of(actor: Principal) -> uuid.UUID:
    """The actor's tenant; the system admin has none and is refused."""
    if actor.tenant_id is None:
        raise PermissionDeniedError()
    return actor.tenant_id


def tenant_admin_tenant(actor: Principal) -> uuid.UUID:
    """The tenant of a tenant admin; anyone else is refused."""
    if not actor.is_tenant_admin or actor.tenant_id is None:
        raise PermissionDeniedError()
    return actor.tenant_id


class DeviceProfileService:
    """Profiles of a tenant's devices."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def ensure_default_profile(self, uow: UnitOfWork, tenant_id: uuid.UUID) -> DeviceProfile:
        """Every tenant has a ``default`` profile; created with the tenant."""
        repo = DeviceProfileRepository(uow.connection)
        existing = await repo.find_default(tenant_id)
        if existing is not None:
            return existing
        profile = self._new_profile(tenant_id, DEFAULT_PROFILE_NAME, is_default=True)
        await repo.add(profile)
        return profile

    def _new_profile(self, tenant_id: uuid.UUID, name: str, *, is_default: bool) -> DeviceProfile:
        data = {
            "configuration": {"type": "DEFAULT"},
            "transportConfiguration": {"type": "DEFAULT"},
            "provisionConfiguration": {"type": "DISABLED"},
        }
        return DeviceProfile(
            new_id(),
            tenant_id,
            name,
            "DEFAULT",
            "DEFAULT",
            "DISABLED",
            is_default,
            self._clock.now_ms(),
            profile_data=data,
        )

    async def find_or_create(
        self, uow: UnitOfWork, tenant_id: uuid.UUID, name: str
    ) -> DeviceProfile:
        """The tenant's profile called ``name``, created when missing."""
        repo = DeviceProfileRepository(uow.connection)
        found = await repo.find_by_name(tenant_id, name)
        if found is None:
            found = self._new_profile(tenant_id, name, is_default=False)
            await repo.add(found)
        return found

    async def default_profile(self, uow: UnitOfWork, actor: Principal) -> DeviceProfile:
        tenant_id = tenant_of(actor)
        profile = await DeviceProfileRepository(uow.connection).find_default(tenant_id)
        if profile is None:
            raise NotFoundError("The tenant has no default device profile")
        return profile

    async def get_profile(
        self, uow: UnitOfWork, actor: Principal, profile_id: uuid.UUID
    ) -> DeviceProfile:
        profile = await DeviceProfileRepository(uow.connection).get(profile_id)
        if profile is None or profile.tenant_id != tenant_of(actor):
            raise NotFoundError()
        return profile

    async def page_profiles(
        self, uow: UnitOfWork, actor: Principal, request: PageRequest
    ) -> tuple[list[DeviceProfile], int]:
        return await DeviceProfileRepository(uow.connection).page(tenant_of(actor), request)

    async def save_profile(
        self, uow: UnitOfWork, actor: Principal, data: DeviceProfileSave
    ) -> DeviceProfile:
        tenant_id = tenant_admin_tenant(actor)
        repo = DeviceProfileRepository(uow.connection)
        clash = await repo.find_by_name(tenant_id, data.name)
        if data.id is not None:
            profile = await self.get_profile(uow, actor, data.id.id)
        else:
            profile = self._new_profile(tenant_id, data.name, is_default=False)
        if clash is not None and clash.id != profile.id:
            raise ConflictError("Device profile with such name already exists!")
        if data.default and not profile.is_default:
            await repo.clear_default(tenant_id)
        saved = replace(
            profile,
            name=data.name,
            description=data.description,
            type=data.type,
            transport_type=data.transport_type,
            provision_type=data.provision_type,
            is_default=data.default or profile.is_default,
            profile_data=data.profile_data
            if data.profile_data is not None
            else profile.profile_data,
        )
        await (repo.update(saved) if data.id is not None else repo.add(saved))
        return saved

    async def delete_profile(
        self, uow: UnitOfWork, actor: Principal, profile_id: uuid.UUID
    ) -> None:
        tenant_admin_tenant(actor)
        profile = await self.get_profile(uow, actor, profile_id)
        if profile.is_default:
            raise InvalidArgumentError("The default device profile cannot be deleted")
        repo = DeviceRepository(uow.connection)
        if await repo.count_with_profile(profile.id):
            raise InvalidArgumentError("The device profile is used by devices")
        await DeviceProfileRepository(uow.connection).delete(profile.id)
