"""What device transports (MQTT, HTTP device API) need from devices: authenticate a connection
by MQTT basic credentials, and find or create a gateway's sub-devices by name."""

from __future__ import annotations

import hmac
import uuid

from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import (
    ACCESS_TOKEN,
    DEVICE_NAME_MAX_LENGTH,
    Device,
    DeviceCredentials,
    basic_fields_match,
    device_name_problem,
    mqtt_basic_candidates,
    mqtt_basic_credentials_id,
    normalize_device_name,
)
from gridlinks.devices.profiles import DeviceProfileService
from gridlinks.devices.repository import CredentialsRepository, DeviceRepository
from gridlinks.devices.tokens import AccessTokenSeal
from gridlinks.errors import AuthenticationError, InvalidArgumentError, PermissionDeniedError
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id
from gridlinks.kit.secrets import keyed_hash, random_token

BAD_CREDENTIALS = "Invalid MQTT credentials"
NOT_A_SUB_DEVICE = "The named device is not a sub-device of this gateway"


def is_sub_device_of(device: Device, gateway: Device) -> bool:
    """Whether ``gateway`` may speak for ``device``: it created it, or the tenant bound it."""
    info = device.additional_info
    return (
        device.id != gateway.id
        and isinstance(info, dict)
        and info.get("lastConnectedGateway") == str(gateway.id)
    )


class TransportAccess:
    """Device lookups on behalf of a device connection (no user principal involved)."""

    def __init__(
        self,
        clock: Clock,
        credentials_key: bytes,
        tokens: AccessTokenSeal,
        profiles: DeviceProfileService,
    ) -> None:
        self._clock = clock
        self._credentials_key = credentials_key
        self._tokens = tokens
        self._profiles = profiles

    async def authenticate_mqtt_basic(
        self, uow: UnitOfWork, client_id: str, user_name: str | None, password: bytes | None
    ) -> Device:
        """As ThingsBoard: credentials may name the client id, the user name, or both. A CONNECT
        with a user name matches (client id, user name), else (user name alone); one without
        matches (client id alone). The password (if the credentials have one) must match.
        Anything else -> 401."""
        credentials = await self._find_basic(uow, client_id, user_name)
        if credentials is None or not self._password_matches(credentials, password):
            raise AuthenticationError(BAD_CREDENTIALS)
        device = await DeviceRepository(uow.connection).get(credentials.device_id)
        if device is None:
            raise AuthenticationError(BAD_CREDENTIALS)
        return device

    async def _find_basic(
        self, uow: UnitOfWork, client_id: str, user_name: str | None
    ) -> DeviceCredentials | None:
        repo = CredentialsRepository(uow.connection, self._tokens)
        for candidate_client, candidate_user in mqtt_basic_candidates(client_id, user_name):
            found = await repo.find_basic(
                mqtt_basic_credentials_id(candidate_client, candidate_user)
            )
            if found is not None and basic_fields_match(found, candidate_client, candidate_user):
                return found
        return None

    def _password_matches(self, credentials: DeviceCredentials, password: bytes | None) -> bool:
        stored = (credentials.credentials_value or {}).get("passwordHash")
        if stored is None:
            return not password
        try:
            given = (password or b"").decode()
        except UnicodeDecodeError:
            return False
        return hmac.compare_digest(keyed_hash(self._credentials_key, given), stored)

    async def gateway_device(
        self, uow: UnitOfWork, gateway: Device, name: str, device_type: str | None = None
    ) -> Device:
        """The gateway tenant's device called ``name``; created when missing, with the
        gateway's customer as owner, the profile named ``device_type`` (created when missing)
        and a random access token, as ThingsBoard's gateway transport does."""
        if not isinstance(name, str):
            raise InvalidArgumentError("A sub-device name must be a string")
        name = normalize_device_name(name)
        problem = device_name_problem(name)
        if problem:
            raise InvalidArgumentError(problem)
        repo = DeviceRepository(uow.connection)
        found = await repo.find_by_name(gateway.tenant_id, name)
        if found is None:
            return await self._create_sub_device(uow, gateway, name, device_type)
        if not is_sub_device_of(found, gateway):
            # Unlike ThingsBoard: naming a device is not enough to speak for it (or to open a
            # claim window on it); the tenant binds an existing device to a gateway by setting
            # its additionalInfo.lastConnectedGateway to the gateway's id.
            raise PermissionDeniedError(NOT_A_SUB_DEVICE)
        return found

    async def _create_sub_device(
        self, uow: UnitOfWork, gateway: Device, name: str, device_type: str | None
    ) -> Device:
        if device_type is not None and (not isinstance(device_type, str) or not device_type):
            raise InvalidArgumentError("A sub-device type must be a non-empty string")
        if device_type and len(device_type) <= DEVICE_NAME_MAX_LENGTH:
            profile = await self._profiles.find_or_create(uow, gateway.tenant_id, device_type)
        else:
            profile = await self._profiles.ensure_default_profile(uow, gateway.tenant_id)
        now = self._clock.now_ms()
        device = Device(
            id=new_id(),
            tenant_id=gateway.tenant_id,
            customer_id=gateway.customer_id,
            device_profile_id=profile.id,
            name=name,
            type=profile.name,
            created_time=now,
            additional_info={"gateway": False, "lastConnectedGateway": str(gateway.id)},
        )
        await DeviceRepository(uow.connection).add(device)
        await CredentialsRepository(uow.connection, self._tokens).add(
            DeviceCredentials(new_id(), device.id, ACCESS_TOKEN, random_token(), now)
        )
        return device

    async def current(self, uow: UnitOfWork, device_id: uuid.UUID) -> Device:
        """The device as stored now (its owner may have changed since it connected);
        a device deleted meanwhile -> 401, which ends its session."""
        device = await DeviceRepository(uow.connection).get(device_id)
        if device is None:
            raise AuthenticationError("The device no longer exists")
        return device
