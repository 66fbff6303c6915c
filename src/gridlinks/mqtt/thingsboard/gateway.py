"""A connected gateway: its own device topics plus ThingsBoard's ``v1/gateway/*`` topics, on
which it speaks for sub-devices named in each message. A sub-device is found by name in the
gateway's tenant, or created (owned by the gateway's customer) the first time it is named."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import Device
from gridlinks.errors import BadRequestError, ConflictError
from gridlinks.mqtt.protocol.packets import ReasonCode
from gridlinks.mqtt.thingsboard.session import (
    GATEWAY_FILTER_PREFIX,
    DeviceSession,
    compact_json,
    json_payload,
)
from gridlinks.mqtt.transport.state import PublishFailed

GATEWAY_PREFIX = "v1/gateway/"
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
    """The ``device`` field of connect/disconnect/attribute-request messages."""
    name = payload.get("device") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise BadRequestError('A gateway message must name its sub-device in "device"')
    return name


class GatewaySession(DeviceSession):
    """A device flagged as gateway (``additionalInfo.gateway = true``)."""

    __slots__ = ("_gateway", "_sub_devices")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gateway: Device | None = None
        self._sub_devices: dict[str, uuid.UUID] = {}

    def attach(self, gateway: Device) -> None:
        self._gateway = gateway

    @property
    def description(self) -> str:
        return f"gateway {self.device_id}"

    async def _route(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(GATEWAY_PREFIX):
            await super()._route(topic, payload)
            return
        handler = self._handlers().get(topic[len(GATEWAY_PREFIX) :])
        if handler is None:
            raise PublishFailed(ReasonCode.TOPIC_NAME_INVALID, "unknown gateway topic")
        await handler(json_payload(payload, "gateway message"))

    def _handlers(self) -> dict[str, Any]:
        return {
            "connect": self._connect,
            "disconnect": self._disconnect,
            "telemetry": self._telemetry,
            "attributes": self._attributes,
            "claim": self._claim,
            "attributes/request": self._attribute_request,
            "rpc": self._rpc_reply,
        }

    # --- sub-devices --------------------------------------------------------------------
    async def sub_device(self, name: str, device_type: str | None = None) -> uuid.UUID:
        """The id of the sub-device ``name``, found or created (and remembered)."""
        known = self._sub_devices.get(name)
        if known is not None:
            return known
        try:
            device = await self.in_unit_of_work(lambda uow: self._resolve(uow, name, device_type))
        except ConflictError:  # created by another gateway at the same moment
            device = await self.in_unit_of_work(lambda uow: self._resolve(uow, name, None))
        self._sub_devices[name] = device.id
        return device.id

    async def _resolve(self, uow: UnitOfWork, name: str, device_type: str | None) -> Device:
        assert self._gateway is not None
        return await self._platform.transport_access.gateway_device(
            uow, self._gateway, name, device_type
        )

    async def _connect(self, payload: Any) -> None:
        device_type = payload.get("type") if isinstance(payload, dict) else None
        await self.sub_device(device_name_of(payload), device_type)

    async def _disconnect(self, payload: Any) -> None:
        self._sub_devices.pop(device_name_of(payload), None)

    # --- data for sub-devices -------------------------------------------------------------
    async def _telemetry(self, payload: Any) -> None:
        entries = per_device_object(payload, "telemetry")
        ids = [await self.sub_device(name) for name in entries]
        await asyncio.gather(
            *(
                self.store_telemetry(device_id, data)
                for device_id, data in zip(ids, entries.values(), strict=True)
            )
        )

    async def _attributes(self, payload: Any) -> None:
        entries = per_device_object(payload, "attributes")
        ids = [await self.sub_device(name) for name in entries]

        async def save(uow: UnitOfWork) -> None:
            for device_id, values in zip(ids, entries.values(), strict=True):
                await self._platform.attributes.save(
                    uow, "DEVICE", device_id, "CLIENT_SCOPE", values
                )

        await self.in_unit_of_work(save)

    async def _claim(self, payload: Any) -> None:
        entries = per_device_object(payload, "claim")
        for name in entries:
            await self.sub_device(name)
        platform = self._platform

        async def announce(uow: UnitOfWork) -> None:
            async def resolve(name: str) -> Device:
                return await platform.transport_access.current(uow, self._sub_devices[name])

            await platform.claiming.announce_from_gateway(uow, entries, resolve)

        await self.in_unit_of_work(announce)

    async def _attribute_request(self, payload: Any) -> None:
        name = device_name_of(payload)
        request_id = payload.get("id")
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            raise BadRequestError('A gateway attribute request needs an integer "id"')
        scope = "CLIENT_SCOPE" if payload.get("client") is True else "SHARED_SCOPE"
        keys = payload.get("keys")
        if keys is None and isinstance(payload.get("key"), str):
            keys = [payload["key"]]
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise BadRequestError('A gateway attribute request needs "keys": [names]')
        values = await self.read_attributes(await self.sub_device(name), scope, keys)
        answer: dict[str, Any] = {"id": request_id, "device": name}
        if len(keys) == 1:
            answer["value"] = values.get(keys[0])
        else:
            answer["values"] = values
        self._outbox("v1/gateway/attributes/response", compact_json(answer))

    async def _rpc_reply(self, payload: Any) -> None:
        device_name_of(payload)  # replies to server-side RPC: nothing is waiting for them yet

    def _allowed_filter(self, topic_filter: str) -> bool:
        return super()._allowed_filter(topic_filter) or topic_filter.startswith(
            GATEWAY_FILTER_PREFIX
        )

    def session_limits(self) -> dict[str, Any]:
        limits = super().session_limits()
        limits["gatewayRateLimits"] = dict(limits["rateLimits"])
        return limits
