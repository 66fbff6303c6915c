"""All SQL of devices, device profiles and device credentials."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.paging import fetch_page
from gridlinks.db.tables import device_credentials, device_profiles, devices
from gridlinks.devices.domain import (
    ACCESS_TOKEN,
    MQTT_BASIC,
    Device,
    DeviceCredentials,
    DeviceProfile,
    basic_user_name_key,
    is_storable_text,
    normalize_device_name,
)
from gridlinks.devices.tokens import AccessTokenSeal
from gridlinks.kit.pagination import PageRequest


def _device(row: sa.Row[Any]) -> Device:
    return Device(**row._mapping)


def _profile(row: sa.Row[Any]) -> DeviceProfile:
    return DeviceProfile(**row._mapping)


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
        """The device called ``name`` as names are stored (NFC, no leading or trailing spaces:
        ``normalize_device_name``); a name stored otherwise before revision 0004 is still found
        by its exact spelling. ``for_update`` locks the row (PostgreSQL) until the transaction
        ends."""
        spelled = normalize_device_name(name)
        found = await self._find_by_name(tenant_id, spelled, for_update)
        if found is None and spelled != name:
            found = await self._find_by_name(tenant_id, name, for_update)
        return found

    async def _find_by_name(
        self, tenant_id: uuid.UUID, name: str, for_update: bool
    ) -> Device | None:
        if not is_storable_text(name):
            return None  # no stored name has it; PostgreSQL would refuse the parameter
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
    """Credentials rows. Access tokens go in as a keyed hash (``credentials_id``) and a sealed
    copy (``token_sealed``) and come out opened: callers only ever see the token."""

    def __init__(self, connection: AsyncConnection, tokens: AccessTokenSeal) -> None:
        self._c = connection
        self._tokens = tokens

    def _row(self, credentials: DeviceCredentials) -> dict[str, Any]:
        values = asdict(credentials)
        if credentials.credentials_type == ACCESS_TOKEN:
            token = credentials.credentials_id
            values["credentials_id"] = self._tokens.lookup_id(token)
            values["token_sealed"] = self._tokens.seal(token, credentials.id, credentials.device_id)
            values["user_name_key"] = None
        else:
            value = credentials.credentials_value or {}
            values["token_sealed"] = None
            values["user_name_key"] = basic_user_name_key(value.get("userName"))
        return values

    def _credentials(self, row: sa.Row[Any]) -> DeviceCredentials:
        values = dict(row._mapping)
        sealed, _ = values.pop("token_sealed"), values.pop("user_name_key")
        if values["credentials_type"] == ACCESS_TOKEN and sealed is not None:
            values["credentials_id"] = self._tokens.open(sealed, values["id"], values["device_id"])
        return DeviceCredentials(**values)

    async def add(self, credentials: DeviceCredentials) -> None:
        await self._c.execute(device_credentials.insert().values(**self._row(credentials)))

    async def update(self, credentials: DeviceCredentials) -> None:
        query = device_credentials.update().where(device_credentials.c.id == credentials.id)
        await self._c.execute(query.values(**self._row(credentials)))

    async def of_device(self, device_id: uuid.UUID) -> DeviceCredentials | None:
        query = device_credentials.select().where(device_credentials.c.device_id == device_id)
        row = (await self._c.execute(query)).first()
        return self._credentials(row) if row else None

    async def row_of_device(self, device_id: uuid.UUID) -> tuple[uuid.UUID, int] | None:
        """(id, created time) of a device's credentials row, without opening anything."""
        query = sa.select(device_credentials.c.id, device_credentials.c.created_time).where(
            device_credentials.c.device_id == device_id
        )
        row = (await self._c.execute(query)).first()
        return (row.id, row.created_time) if row else None

    async def device_of_token(self, token: str) -> uuid.UUID | None:
        """The device whose access token this is: one lookup by keyed hash, nothing opened."""
        query = sa.select(device_credentials.c.device_id).where(
            device_credentials.c.credentials_id == self._tokens.lookup_id(token),
            device_credentials.c.credentials_type == ACCESS_TOKEN,
        )
        return (await self._c.execute(query)).scalar_one_or_none()

    async def find_basic(self, credentials_id: str) -> DeviceCredentials | None:
        """MQTT basic credentials by their id (``mqtt_basic_credentials_id``)."""
        query = device_credentials.select().where(
            device_credentials.c.credentials_id == credentials_id,
            device_credentials.c.credentials_type == MQTT_BASIC,
        )
        row = (await self._c.execute(query)).first()
        return self._credentials(row) if row else None

    async def clashes(
        self,
        device_id: uuid.UUID,
        *,
        token: str | None = None,
        basic_ids: Sequence[str] = (),
        user_name_key: str | None = None,
    ) -> bool:
        """Whether another device holds access token ``token``, MQTT basic credentials with an
        id in ``basic_ids``, or MQTT basic credentials with user name key ``user_name_key``."""
        ids = list(basic_ids) + ([self._tokens.lookup_id(token)] if token is not None else [])
        matches: list[sa.ColumnElement[bool]] = []
        if ids:
            matches.append(device_credentials.c.credentials_id.in_(ids))
        if user_name_key is not None:
            matches.append(device_credentials.c.user_name_key == user_name_key)
        if not matches:
            return False
        query = (
            sa.select(device_credentials.c.id)
            .where(device_credentials.c.device_id != device_id, sa.or_(*matches))
            .limit(1)
        )
        return (await self._c.execute(query)).first() is not None

    async def serialize_user_name(self, name: str) -> None:
        """PostgreSQL: hold a transaction lock on a CONNECT user name, so two registrations
        that could both claim it (a token and MQTT basic credentials, in any tenants) check and
        write one after the other. SQLite writers are serialized already."""
        if self._c.dialect.name != "postgresql":
            return
        lock = int.from_bytes(bytes.fromhex(self._tokens.lookup_id(name))[:8], "big", signed=True)
        await self._c.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))

    async def unsealed_token_rows(self, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
        """(id, device id, plaintext token) of access tokens stored before revision 0004."""
        query = (
            sa.select(
                device_credentials.c.id,
                device_credentials.c.device_id,
                device_credentials.c.credentials_id,
            )
            .where(
                device_credentials.c.credentials_type == ACCESS_TOKEN,
                device_credentials.c.token_sealed.is_(None),
            )
            .limit(limit)
        )
        return [(r.id, r.device_id, r.credentials_id) for r in await self._c.execute(query)]

    async def seal_stored_token(self, row_id: uuid.UUID, device_id: uuid.UUID, token: str) -> None:
        """Replace a plaintext token by its keyed hash and sealed copy (if still plaintext)."""
        query = (
            device_credentials.update()
            .where(device_credentials.c.id == row_id, device_credentials.c.token_sealed.is_(None))
            .values(
                credentials_id=self._tokens.lookup_id(token),
                token_sealed=self._tokens.seal(token, row_id, device_id),
            )
        )
        await self._c.execute(query)
