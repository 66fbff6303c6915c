"""A connected gateway: its own device topics plus ThingsBoard's ``v1/gateway/*`` topics, on
which it speaks for sub-devices named in each message (``devicelink.gateway``: found by name in
the gateway's tenant, or created, owned by the gateway's customer, the first time).

Each sub-device the gateway names gets a ``DeviceLink`` on this node until the gateway sends
``v1/gateway/disconnect`` for it or the connection ends: RPC requests go out on
``v1/gateway/rpc`` and shared attributes on ``v1/gateway/attributes``, wrapped with the
device's name."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from gridlinks.delivery.messages import AttributePush, RpcCall, ToDevice
from gridlinks.devicelink.gateway import GatewayDevices, device_name_of, per_device_object
from gridlinks.devicelink.service import DeviceLinkService
from gridlinks.devices.domain import Device
from gridlinks.errors import BadRequestError
from gridlinks.mqtt.protocol.packets import ReasonCode
from gridlinks.mqtt.thingsboard.session import (
    GATEWAY_FILTER_PREFIX,
    DeviceSession,
    compact_json,
    json_payload,
)
from gridlinks.mqtt.thingsboard.subscriptions import filter_matches
from gridlinks.mqtt.transport.state import Outbound, PublishFailed

GATEWAY_PREFIX = "v1/gateway/"
GATEWAY_RPC = "v1/gateway/rpc"
GATEWAY_ATTRIBUTES = "v1/gateway/attributes"


class SubDeviceLink:
    """How this node reaches one sub-device: through its gateway's connection."""

    __slots__ = ("_gateway", "device_id", "name", "remove")

    def __init__(self, gateway: GatewaySession, name: str, device_id: uuid.UUID) -> None:
        self._gateway = gateway
        self.name = name
        self.device_id = device_id
        self.remove: Callable[[], None] = lambda: None

    def deliver(self, message: ToDevice) -> bool:
        if isinstance(message, RpcCall):
            data = {"id": message.request_id, "method": message.method, "params": message.params}
            body = {"device": self.name, "data": data}
            return self._gateway.send_rpc(self.device_id, message, GATEWAY_RPC, body)
        if isinstance(message, AttributePush):
            body = {"device": self.name, "data": message.body()}
            return self._gateway.send_if_subscribed(GATEWAY_ATTRIBUTES, body)
        self._gateway.forget(self.name)  # the sub-device was deleted or its access changed
        return True


class GatewaySession(DeviceSession):
    """A device flagged as gateway (``additionalInfo.gateway = true``)."""

    __slots__ = ("_links", "_sub_devices")

    def __init__(
        self, service: DeviceLinkService, device: Device, outbound: Outbound, level: int
    ) -> None:
        super().__init__(service, device, outbound, level)
        self._sub_devices = GatewayDevices(service, device, self._named)
        self._links: dict[str, SubDeviceLink] = {}

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
    async def _connect(self, payload: Any) -> None:
        device_type = payload.get("type") if isinstance(payload, dict) else None
        await self._sub_devices.resolve(device_name_of(payload), device_type)

    async def _disconnect(self, payload: Any) -> None:
        self.forget(device_name_of(payload))

    def _named(self, name: str, device_id: uuid.UUID) -> None:
        """A sub-device named for the first time on this connection: link it."""
        link = SubDeviceLink(self, name, device_id)
        link.remove = self._service.register_link(device_id, link)
        self._links[name] = link
        if self.subscriptions.qos_for(GATEWAY_RPC) is not None:
            self._service.report_connected(device_id)

    def forget(self, name: str) -> None:
        self._sub_devices.forget(name)
        link = self._links.pop(name, None)
        if link is not None:
            link.remove()

    # --- data for sub-devices -------------------------------------------------------------
    async def _telemetry(self, payload: Any) -> None:
        entries = per_device_object(payload, "telemetry")
        ids = await self._sub_devices.resolve_all(list(entries))
        await asyncio.gather(
            *(self._service.store_telemetry(ids[name], data) for name, data in entries.items())
        )

    async def _attributes(self, payload: Any) -> None:
        entries = per_device_object(payload, "attributes")
        ids = await self._sub_devices.resolve_all(list(entries))
        await self._service.save_client_attributes(
            {ids[name]: values for name, values in entries.items()}
        )

    async def _claim(self, payload: Any) -> None:
        entries = per_device_object(payload, "claim")
        ids = await self._sub_devices.resolve_all(list(entries))
        await self._service.announce_gateway_claims(entries, ids)

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
        device_id = await self._sub_devices.resolve(name)
        values = await self._service.read_attributes(device_id, scope, keys)
        answer: dict[str, Any] = {"id": request_id, "device": name}
        if len(keys) == 1:
            answer["value"] = values.get(keys[0])
        else:
            answer["values"] = values
        self._out.publish("v1/gateway/attributes/response", compact_json(answer))

    async def _rpc_reply(self, payload: Any) -> None:
        """``{"device": name, "id": n, "data": reply}``: a sub-device answered an RPC."""
        name = device_name_of(payload)
        request_id = payload.get("id")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
            raise BadRequestError('A gateway RPC reply needs an integer "id"')
        device_id = await self._sub_devices.resolve(name)
        await self._service.rpc_replied(device_id, request_id, payload.get("data"))

    # --- subscriptions ------------------------------------------------------------------
    def _allowed_filter(self, topic_filter: str) -> bool:
        return super()._allowed_filter(topic_filter) or topic_filter.startswith(
            GATEWAY_FILTER_PREFIX
        )

    def _subscribed(self, topic_filter: str) -> None:
        super()._subscribed(topic_filter)
        if filter_matches(topic_filter, GATEWAY_RPC):
            for link in self._links.values():
                self._service.report_connected(link.device_id)

    def on_close(self) -> None:
        for link in self._links.values():
            link.remove()
        self._links.clear()
        super().on_close()
