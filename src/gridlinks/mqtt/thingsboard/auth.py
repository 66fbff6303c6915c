"""CONNECT -> the device (or gateway) session: ThingsBoard's two MQTT credential kinds.

- Access token: the user name is the token, no password (the client id may be empty).
- MQTT basic: client id and/or user name and a password, as set on the device's credentials.

Neither the token nor the password ever reaches a log line or an error message.
"""

from __future__ import annotations

import logging

from gridlinks.bootstrap import Platform
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import Device
from gridlinks.errors import AuthenticationError
from gridlinks.mqtt.protocol.packets import Connect
from gridlinks.mqtt.thingsboard.gateway import GatewaySession
from gridlinks.mqtt.thingsboard.session import DeviceSession
from gridlinks.mqtt.transport.state import ConnectRefused, Outbox, Refusal

log = logging.getLogger("gridlinks.mqtt")


class PlatformAuthenticator:
    """Authenticates against the device credentials of the platform's database."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def open_session(self, connect: Connect, outbox: Outbox) -> DeviceSession:
        device = await self._device(connect)
        if device.is_gateway:
            session = GatewaySession(self._platform, device, outbox, connect.protocol_level)
            session.attach(device)
            return session
        return DeviceSession(self._platform, device, outbox, connect.protocol_level)

    async def _device(self, connect: Connect) -> Device:
        if not connect.username and not connect.client_id:
            raise ConnectRefused(Refusal.NOT_AUTHORIZED, "no credentials")
        try:
            async with self._platform.unit_of_work(write=False) as uow:
                return await self._authenticate(uow, connect)
        except AuthenticationError:
            raise ConnectRefused(Refusal.BAD_CREDENTIALS, "unknown credentials") from None
        except Exception as exc:
            log.exception("MQTT: device credentials could not be checked")
            raise ConnectRefused(
                Refusal.SERVER_UNAVAILABLE,
                f"credentials could not be checked ({type(exc).__name__})",
            ) from exc

    async def _authenticate(self, uow: UnitOfWork, connect: Connect) -> Device:
        if connect.username and connect.password is None:
            try:
                return await self._platform.devices.authenticate_access_token(uow, connect.username)
            except AuthenticationError:
                pass  # it may still be MQTT basic credentials without a password
        return await self._platform.transport_access.authenticate_mqtt_basic(
            uow, connect.client_id, connect.username, connect.password
        )
