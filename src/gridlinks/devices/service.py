"""Use cases of devices, device profiles and credentials."""

from __future__ import annotations

import uuid
from dataclasses import replace

from gridlinks.accounts.domain import Customer, Principal
from gridlinks.accounts.repository import CustomerRepository
from gridlinks.accounts.schemas import IdRef
from gridlinks.attributes.repository import AttributeRepository
from gridlinks.audit.domain import ASSIGNED_TO_CUSTOMER, UNASSIGNED_FROM_CUSTOMER
from gridlinks.audit.service import AuditAction, AuditLog
from gridlinks.bus.base import Bus, Event
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.messages import DEVICE_ACCESS_CHANGED
from gridlinks.devices.clashes import CredentialsClashGuard
from gridlinks.devices.domain import (
    ACCESS_TOKEN,
    DEFAULT_PROFILE_NAME,
    MQTT_BASIC,
    Device,
    DeviceCredentials,
    DeviceProfile,
    access_token_problem,
    basic_clash_ids,
    basic_user_name_key,
    device_name_problem,
    is_gateway,
    mqtt_basic_credentials_id,
    normalize_device_name,
)
from gridlinks.devices.profiles import DeviceProfileService, tenant_admin_tenant, tenant_of
from gridlinks.devices.repository import CredentialsRepository, DeviceRepository
from gridlinks.devices.schemas import (
    CredentialsInput,
    CredentialsSave,
    DeviceSave,
)
from gridlinks.devices.tokens import AccessTokenSeal
from gridlinks.errors import (
    AuthenticationError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import NULL_UUID, new_id, optional_uuid
from gridlinks.kit.jsonvalue import parse_json
from gridlinks.kit.pagination import PageRequest
from gridlinks.kit.secrets import keyed_hash, random_token
from gridlinks.telemetry.repository import TelemetryRepository

TOKEN_CLASH = "Device credentials are already assigned to another device!"
BASIC_CLASH = (
    "MQTT basic credentials are ambiguous with another device's credentials (a device "
    "connecting with them could be taken for the other); choose another clientId or userName"
)
SEAL_BATCH_ROWS = 500


class DeviceService:
    """Devices of a tenant: CRUD, ownership and credentials."""

    def __init__(
        self,
        clock: Clock,
        credentials_key: bytes,
        tokens: AccessTokenSeal,
        clash_guard: CredentialsClashGuard,
        profiles: DeviceProfileService,
        audit: AuditLog,
        bus: Bus,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._credentials_key = credentials_key
        self._tokens = tokens
        self._clash_guard = clash_guard
        self._profiles = profiles
        self._audit = audit

    def access_changed_after_commit(self, uow: UnitOfWork, device: Device, reason: str) -> None:
        """Publish ``DeviceAccessChanged`` once ``uow`` commits: the device's connections end
        (deleted, new credentials) and subscriptions made under the old owner are re-checked."""
        publish_access_changed(self._bus, uow, device, reason)

    def _credentials(self, uow: UnitOfWork) -> CredentialsRepository:
        return CredentialsRepository(uow.connection, self._tokens)

    # --- devices -------------------------------------------------------------------------
    async def save_device(
        self, uow: UnitOfWork, actor: Principal, data: DeviceSave, access_token: str | None
    ) -> Device:
        """Create (with an access token, given or generated) or update a device. The name is
        stored NFC without leading or trailing spaces; blank names and control characters are
        refused."""
        tenant_id = tenant_admin_tenant(actor)
        name = device_name(data.name)
        if data.id is None and access_token is not None:
            self._clash_guard.check(tenant_id)
        profile = await self._profile_for(uow, actor, data)
        repo = DeviceRepository(uow.connection)
        clash = await repo.find_by_name(tenant_id, name)
        common = {
            "name": name,
            "type": profile.name,
            "label": data.label,
            "device_profile_id": profile.id,
            "additional_info": data.additional_info,
            "is_gateway": is_gateway(data.additional_info),
        }
        if data.id is not None:
            device = await self.get_device(uow, actor, data.id.id)
            if clash is not None and clash.id != device.id:
                raise ConflictError("Device with such name already exists!")
            updated = replace(device, version=device.version + 1, **common)
            await repo.update(updated)
            return updated
        if clash is not None:
            raise ConflictError("Device with such name already exists!")
        customer_id = optional_uuid(data.customer_id.id) if data.customer_id else None
        if customer_id is not None:
            await self._customer_of_tenant(uow, tenant_id, customer_id)
        device = Device(
            id=new_id(),
            tenant_id=tenant_id,
            customer_id=customer_id,
            created_time=self._clock.now_ms(),
            **common,
        )
        await repo.add(device)
        await self._add_token(uow, device, access_token)
        return device

    async def save_device_with_credentials(
        self, uow: UnitOfWork, actor: Principal, data: DeviceSave, credentials: CredentialsInput
    ) -> Device:
        """Create or update a device and set its credentials in the same unit of work."""
        token = credentials.credentials_id if credentials.credentials_type == ACCESS_TOKEN else None
        device = await self.save_device(uow, actor, data, token)
        if data.id is not None or credentials.credentials_type != ACCESS_TOKEN:
            full = CredentialsSave(deviceId=IdRef(id=device.id), **credentials.model_dump())
            await self.save_credentials(uow, actor, full)
        return device

    async def _profile_for(
        self, uow: UnitOfWork, actor: Principal, data: DeviceSave
    ) -> DeviceProfile:
        if data.device_profile_id is not None:
            return await self._profiles.get_profile(uow, actor, data.device_profile_id.id)
        tenant_id = tenant_of(actor)
        if data.type and data.type != DEFAULT_PROFILE_NAME:
            # As ThingsBoard: a device saved with only a type gets (or creates) that profile.
            return await self._profiles.find_or_create(uow, tenant_id, data.type)
        return await self._profiles.ensure_default_profile(uow, tenant_id)

    async def _add_token(self, uow: UnitOfWork, device: Device, token: str | None) -> None:
        if token is None:
            token = random_token()  # 119 random bits: no clash to look for
        else:
            _check_access_token(token)
            await self._refuse_taken_token(uow, device, token)
        await self._credentials(uow).add(
            DeviceCredentials(new_id(), device.id, ACCESS_TOKEN, token, self._clock.now_ms())
        )

    async def _refuse_taken_token(self, uow: UnitOfWork, device: Device, token: str) -> None:
        """Another device's token, or another device's MQTT basic user name (a CONNECT with
        that user name and no password would match both): refused, rate-limited."""
        repo = self._credentials(uow)
        await repo.serialize_user_name(token)
        if await repo.clashes(device.id, token=token, user_name_key=basic_user_name_key(token)):
            await self._clash_guard.refuse(device.tenant_id, ConflictError(TOKEN_CLASH))

    async def _refuse_ambiguous_basic(
        self, uow: UnitOfWork, device: Device, client_id: str | None, user_name: str | None
    ) -> None:
        """MQTT basic credentials one CONNECT could match together with another device's
        credentials (in any tenant): refused, rate-limited."""
        repo = self._credentials(uow)
        if user_name:
            await repo.serialize_user_name(user_name)
        clash = await repo.clashes(
            device.id,
            token=user_name or None,
            basic_ids=basic_clash_ids(client_id, user_name),
            user_name_key=None if client_id else basic_user_name_key(user_name),
        )
        if clash:
            await self._clash_guard.refuse(device.tenant_id, ConflictError(BASIC_CLASH))

    async def authenticate_access_token(self, uow: UnitOfWork, token: str) -> Device:
        """The device whose access token this is (device APIs): one lookup by keyed hash;
        unknown -> 401."""
        device_id = await self._credentials(uow).device_of_token(token) if token else None
        device = await DeviceRepository(uow.connection).get(device_id) if device_id else None
        if device is None:
            raise AuthenticationError("Invalid device access token")
        return device

    async def seal_stored_tokens(self, uow: UnitOfWork) -> int:
        """Hash and seal the access tokens stored in plaintext before revision 0004 (idempotent;
        concurrent starts seal each row once). Returns how many were sealed."""
        repo = self._credentials(uow)
        sealed = 0
        while rows := await repo.unsealed_token_rows(SEAL_BATCH_ROWS):
            for row_id, device_id, token in rows:
                await repo.seal_stored_token(row_id, device_id, token)
            sealed += len(rows)
        return sealed

    async def get_device(
        self, uow: UnitOfWork, actor: Principal, device_id: uuid.UUID, operation: str = "READ"
    ) -> Device:
        """A device the actor may ``operation``: another tenant's id is 404, another
        customer's device 403, never its data."""
        device = await DeviceRepository(uow.connection).get(device_id)
        return self._check(actor, device, operation)

    async def find_device(
        self, uow: UnitOfWork, actor: Principal, name: str, operation: str = "READ"
    ) -> Device:
        """By name, spelled as stored (``DeviceRepository.find_by_name``)."""
        device = await DeviceRepository(uow.connection).find_by_name(tenant_of(actor), name)
        return self._check(actor, device, operation)

    def _check(self, actor: Principal, device: Device | None, operation: str) -> Device:
        if device is None or device.tenant_id != actor.tenant_id:
            raise NotFoundError()
        if not actor.sees_owner(device.tenant_id, device.customer_id):
            raise PermissionDeniedError()
        if not actor.allows("DEVICE", operation):
            raise PermissionDeniedError()
        return device

    async def page_tenant_devices(
        self, uow: UnitOfWork, actor: Principal, request: PageRequest, device_type: str | None
    ) -> tuple[list[Device], int]:
        tenant_id = tenant_admin_tenant(actor)
        return await DeviceRepository(uow.connection).page(
            tenant_id, request, device_type=device_type
        )

    async def page_customer_devices(
        self,
        uow: UnitOfWork,
        actor: Principal,
        customer_id: uuid.UUID,
        request: PageRequest,
        device_type: str | None,
    ) -> tuple[list[Device], int]:
        tenant_id = tenant_of(actor)
        await self._customer_of_tenant(uow, tenant_id, customer_id)
        if not actor.sees_owner(tenant_id, customer_id) or not actor.allows("DEVICE", "READ"):
            raise PermissionDeniedError()
        return await DeviceRepository(uow.connection).page(
            tenant_id, request, customer_id=customer_id, device_type=device_type
        )

    async def delete_device(self, uow: UnitOfWork, actor: Principal, device_id: uuid.UUID) -> None:
        tenant_admin_tenant(actor)
        device = await self.get_device(uow, actor, device_id, "DELETE")
        await AttributeRepository(uow.connection).delete_entity(device.id)
        await TelemetryRepository(uow.connection).delete_entity(device.id)
        await DeviceRepository(uow.connection).delete(device.id)
        self.access_changed_after_commit(uow, device, "deleted")

    # --- ownership -----------------------------------------------------------------------
    async def assign_to_customer(
        self, uow: UnitOfWork, actor: Principal, device_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Device:
        tenant_id = tenant_admin_tenant(actor)
        device = await self.get_device(uow, actor, device_id)
        customer = await self._customer_of_tenant(uow, tenant_id, customer_id)
        await DeviceRepository(uow.connection).set_owner(device.id, customer_id)
        if device.customer_id != customer_id:
            self.access_changed_after_commit(uow, device, "owner")
            data = {"assignedCustomerId": str(customer_id), "assignedCustomerName": customer.title}
            await self._audit_owner_change(
                uow, actor, device, ASSIGNED_TO_CUSTOMER, customer_id, data
            )
        return await self.get_device(uow, actor, device.id)

    async def unassign(self, uow: UnitOfWork, actor: Principal, device_id: uuid.UUID) -> Device:
        tenant_admin_tenant(actor)
        device = await self.get_device(uow, actor, device_id)
        await DeviceRepository(uow.connection).set_owner(device.id, None)
        if device.customer_id is not None:
            self.access_changed_after_commit(uow, device, "owner")
            data = {"unassignedCustomerId": str(device.customer_id)}
            await self._audit_owner_change(uow, actor, device, UNASSIGNED_FROM_CUSTOMER, None, data)
        return await self.get_device(uow, actor, device.id)

    async def _audit_owner_change(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device: Device,
        action_type: str,
        filed_under: uuid.UUID | None,
        data: dict[str, str],
    ) -> None:
        """As ThingsBoard, an assignment is filed under the new customer, an unassignment under
        none (``filed_under``); the previous customer is in ``data``."""
        action = AuditAction(
            tenant_id=device.tenant_id,
            customer_id=filed_under,
            action_type=action_type,
            entity_type="DEVICE",
            entity_id=device.id,
            entity_name=device.name,
            data={"entityId": str(device.id), **data},
        )
        await self._audit.record(uow, action, actor)

    async def change_owner(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device_id: uuid.UUID,
        owner_type: str,
        owner_id: uuid.UUID,
    ) -> Device:
        """PE-style owner change: ``CUSTOMER`` assigns, ``TENANT`` (the caller's own, or the
        null customer id) returns the device to the tenant."""
        kind = owner_type.upper()
        if kind == "CUSTOMER" and owner_id != NULL_UUID:
            return await self.assign_to_customer(uow, actor, device_id, owner_id)
        if kind not in ("CUSTOMER", "TENANT"):
            raise InvalidArgumentError("ownerType must be CUSTOMER or TENANT")
        if kind == "TENANT" and owner_id != actor.tenant_id:
            raise InvalidArgumentError("ownerId must be the caller's tenant")
        return await self.unassign(uow, actor, device_id)

    async def _customer_of_tenant(
        self, uow: UnitOfWork, tenant_id: uuid.UUID, customer_id: uuid.UUID
    ) -> Customer:
        customer = await CustomerRepository(uow.connection).get(customer_id)
        if customer is None or customer.tenant_id != tenant_id:
            raise NotFoundError("Customer not found")
        return customer

    # --- credentials ---------------------------------------------------------------------
    async def get_credentials(
        self, uow: UnitOfWork, actor: Principal, device_id: uuid.UUID
    ) -> DeviceCredentials:
        device = await self.get_device(uow, actor, device_id, "READ_CREDENTIALS")
        credentials = await self._credentials(uow).of_device(device.id)
        if credentials is None:
            raise NotFoundError()
        return credentials

    async def save_credentials(
        self, uow: UnitOfWork, actor: Principal, data: CredentialsSave
    ) -> DeviceCredentials:
        """Replace a device's credentials with an access token or MQTT basic credentials. Chosen
        credentials must be unambiguous across the installation (clashes are rate-limited)."""
        device = await self.get_device(uow, actor, data.device_id.id, "READ_CREDENTIALS")
        if actor.is_customer_user:
            raise PermissionDeniedError()
        if data.credentials_type == ACCESS_TOKEN:
            token = data.credentials_id or None
            if token is not None:
                _check_access_token(token)
            updated = await self._token_credentials(uow, device, token)
        elif data.credentials_type == MQTT_BASIC:
            client_id, user_name, stored = self._mqtt_basic(data.credentials_value)
            self._clash_guard.check(device.tenant_id)
            await self._refuse_ambiguous_basic(uow, device, client_id, user_name)
            basic_id = mqtt_basic_credentials_id(client_id, user_name)
            updated = await self._replace_credentials(uow, device, MQTT_BASIC, basic_id, stored)
        else:
            raise InvalidArgumentError("credentialsType must be ACCESS_TOKEN or MQTT_BASIC")
        self.access_changed_after_commit(uow, device, "credentials")
        return updated

    async def _token_credentials(
        self, uow: UnitOfWork, device: Device, token: str | None
    ) -> DeviceCredentials:
        if token is None:
            return await self._replace_credentials(uow, device, ACCESS_TOKEN, random_token())
        self._clash_guard.check(device.tenant_id)
        await self._refuse_taken_token(uow, device, token)
        return await self._replace_credentials(uow, device, ACCESS_TOKEN, token)

    async def _replace_credentials(
        self,
        uow: UnitOfWork,
        device: Device,
        credentials_type: str,
        credentials_id: str,
        value: dict[str, str | None] | None = None,
    ) -> DeviceCredentials:
        repo = self._credentials(uow)
        # Not the current credentials themselves: a token that no longer opens (the server
        # secret changed) can still be replaced.
        row = await repo.row_of_device(device.id)
        if row is None:
            raise NotFoundError()
        row_id, created_time = row
        updated = DeviceCredentials(
            row_id, device.id, credentials_type, credentials_id, created_time, value
        )
        await repo.update(updated)
        return updated

    def _mqtt_basic(self, raw: str | None) -> tuple[str | None, str | None, dict[str, str | None]]:
        value = parse_json(raw or "", "credentialsValue") if raw else None
        if not isinstance(value, dict):
            raise InvalidArgumentError(
                'credentialsValue must be JSON {"clientId", "userName", "password"}'
            )
        client_id, user_name, password = (
            value.get(k) for k in ("clientId", "userName", "password")
        )
        for name, item in (
            ("clientId", client_id),
            ("userName", user_name),
            ("password", password),
        ):
            if item is not None and not isinstance(item, str):
                raise InvalidArgumentError(f"{name} must be a string")
        if not client_id and not user_name:
            raise InvalidArgumentError("MQTT basic credentials need a clientId or a userName")
        stored = {
            "clientId": client_id or None,
            "userName": user_name or None,
            "passwordHash": keyed_hash(self._credentials_key, password) if password else None,
        }
        return client_id or None, user_name or None, stored


def device_name(raw: str) -> str:
    """A device name as stored: NFC without leading or trailing spaces; refused (400) when
    blank or holding control characters."""
    name = normalize_device_name(raw)
    problem = device_name_problem(name)
    if problem:
        raise InvalidArgumentError(problem)
    return name


def _check_access_token(token: str) -> None:
    problem = access_token_problem(token)
    if problem:
        raise InvalidArgumentError(problem)


def publish_access_changed(bus: Bus, uow: UnitOfWork, device: Device, reason: str) -> None:
    """``DeviceAccessChanged`` after ``uow`` commits (devices and claiming change owners)."""
    event = Event(
        DEVICE_ACCESS_CHANGED,
        {"deviceId": str(device.id), "tenantId": str(device.tenant_id), "reason": reason},
    )

    async def publish() -> None:
        await bus.publish(event)

    uow.after_commit(publish)
