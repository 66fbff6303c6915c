"""The sub-devices one gateway speaks for: names resolved to devices (found or created) and
remembered while the gateway is connected, whatever transport it uses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from gridlinks.devicelink.service import DeviceLinkService
from gridlinks.devices.domain import Device
from gridlinks.errors import BadRequestError

MAX_SUB_DEVICES_PER_MESSAGE = 1000


def per_device_object(payload: Any, what: str) -> dict[str, Any]:
    """``{"<device name>": ..., ...}`` with at least one and not too many devices."""
    if not isinstance(payload, dict) or not payload:
        raise BadRequestError(
            f'A gateway {what} message must be an object {{"<device name>": ...}}'
        )
    if len(payload) > MAX_SUB_DEVICES_PER_MESSAGE:
        raise BadRequestError(
            f"A gateway message may name at most {MAX_SUB_DEVICES_PER_MESSAGE} devices"
        )
    return payload


def device_name_of(payload: Any) -> str:
    """The ``device`` field of connect/disconnect/attribute-request/RPC-reply messages."""
    name = payload.get("device") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequestError('A gateway message must name its sub-device in "device"')
    return name


class GatewayDevices:
    """Name -> id of the sub-devices a connected gateway has named."""

    __slots__ = ("_gateway", "_on_named", "_service", "ids")

    def __init__(
        self,
        service: DeviceLinkService,
        gateway: Device,
        on_named: Callable[[str, uuid.UUID], None] | None = None,
    ) -> None:
        self._service = service
        self._gateway = gateway
        self._on_named = on_named
        self.ids: dict[str, uuid.UUID] = {}

    async def resolve(self, name: str, device_type: str | None = None) -> uuid.UUID:
        """The id of sub-device ``name``; the first time on this connection ``on_named`` is
        told (the transport then links the sub-device)."""
        known = self.ids.get(name)
        if known is not None:
            return known
        device = await self._service.sub_device(self._gateway, name, device_type)
        self.ids[name] = device.id
        if self._on_named is not None:
            self._on_named(name, device.id)
        return device.id

    async def resolve_all(self, names: list[str]) -> dict[str, uuid.UUID]:
        return {name: await self.resolve(name) for name in names}

    def forget(self, name: str) -> uuid.UUID | None:
        return self.ids.pop(name, None)
