"""CONNECT -> the device (or gateway) session: ThingsBoard's two MQTT credential kinds.

- Access token: the user name is the token, no password (the client id may be empty).
- MQTT basic: client id and/or user name and a password, as set on the device's credentials.

Neither the token nor the password ever reaches a log line or an error message.
"""

from __future__ import annotations

import logging

from gridlinks.devicelink.service import DeviceLinkService
from gridlinks.devices.domain import Device
from gridlinks.errors import AuthenticationError
from gridlinks.mqtt.protocol.packets import Connect
from gridlinks.mqtt.thingsboard.gateway import GatewaySession
from gridlinks.mqtt.thingsboard.session import DeviceSession
from gridlinks.mqtt.transport.state import ConnectRefused, Outbound, Refusal

log = logging.getLogger("gridlinks.mqtt")


class PlatformAuthenticator:
    """Authenticates against the device credentials, through the device service."""

    def __init__(self, service: DeviceLinkService) -> None:
        self._service = service

    async def open_session(self, connect: Connect, outbound: Outbound) -> DeviceSession:
        device = await self._device(connect)
        session_type = GatewaySession if device.is_gateway else DeviceSession
        return session_type(self._service, device, outbound, connect.protocol_level)

    async def _device(self, connect: Connect) -> Device:
        if not connect.username and not connect.client_id:
            raise ConnectRefused(Refusal.NOT_AUTHORIZED, "no credentials")
        try:
            return await self._service.authenticate_mqtt(
                connect.client_id, connect.username, connect.password
            )
        except AuthenticationError:
            raise ConnectRefused(Refusal.BAD_CREDENTIALS, "unknown credentials") from None
        except Exception as exc:
            log.exception("MQTT: device credentials could not be checked")
            raise ConnectRefused(
                Refusal.SERVER_UNAVAILABLE,
                f"credentials could not be checked ({type(exc).__name__})",
            ) from exc
