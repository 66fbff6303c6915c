"""A connected device: ThingsBoard's device topics mapped to GridLinks services.

Every message is processed durably before it is acknowledged: telemetry goes through the
batched ``TelemetryWriter`` (which returns after the commit), attributes and claims are
committed in their own unit of work. A refused message raises ``PublishFailed`` with the MQTT 5
reason code; the reason is logged, never the payload or the device's credentials.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gridlinks.bootstrap import Platform
from gridlinks.devices.domain import Device
from gridlinks.errors import (
    AuthenticationError,
    BadRequestError,
    GridLinksError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from gridlinks.kit.jsonvalue import parse_json
from gridlinks.mqtt.protocol.packets import Publish, ReasonCode, Subscription
from gridlinks.mqtt.transport.state import Outbox, PublishFailed
from gridlinks.telemetry.domain import parse_telemetry, parse_telemetry_bytes

log = logging.getLogger("gridlinks.mqtt")

TELEMETRY = "v1/devices/me/telemetry"
ATTRIBUTES = "v1/devices/me/attributes"
CLAIM = "v1/devices/me/claim"
ATTRIBUTE_REQUEST = "v1/devices/me/attributes/request/"
RPC_REQUEST = "v1/devices/me/rpc/request/"
RPC_RESPONSE = "v1/devices/me/rpc/response/"
DEVICE_FILTER_PREFIXES = ("v1/devices/me/", "v2/")
GATEWAY_FILTER_PREFIX = "v1/gateway/"
SUBSCRIPTION_REFUSED_V5 = ReasonCode.NOT_AUTHORIZED
SUBSCRIPTION_REFUSED_V3 = 0x80

T = TypeVar("T")


def refusal(exc: GridLinksError) -> PublishFailed:
    """A client's mistake as the MQTT 5 reason code for its acknowledgement."""
    if isinstance(exc, PayloadTooLargeError):
        code = ReasonCode.PACKET_TOO_LARGE
    elif isinstance(exc, BadRequestError):
        code = ReasonCode.PAYLOAD_FORMAT_INVALID
    elif isinstance(exc, AuthenticationError | PermissionDeniedError | NotFoundError):
        code = ReasonCode.NOT_AUTHORIZED
    elif isinstance(exc, TooManyRequestsError):
        code = ReasonCode.QUOTA_EXCEEDED
    else:
        raise exc  # a server-side failure: not acknowledged, the connection closes
    return PublishFailed(code, exc.message)


def json_payload(payload: bytes, what: str) -> Any:
    try:
        return parse_json(payload, what)
    except BadRequestError as exc:
        raise PublishFailed(ReasonCode.PAYLOAD_FORMAT_INVALID, exc.message) from None


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class DeviceSession:
    """One authenticated device connection (gateways extend it with ``v1/gateway/*``)."""

    __slots__ = ("_device_id", "_level", "_name", "_outbox", "_platform", "subscriptions")

    def __init__(self, platform: Platform, device: Device, outbox: Outbox, level: int) -> None:
        self._platform = platform
        self._device_id = device.id
        self._name = device.name
        self._outbox = outbox
        self._level = level
        self.subscriptions: set[str] = set()

    @property
    def device_id(self) -> uuid.UUID:
        return self._device_id

    @property
    def description(self) -> str:
        return f"device {self._device_id}"

    # --- incoming messages --------------------------------------------------------------
    async def on_publish(self, publish: Publish) -> None:
        try:
            await self._route(publish.topic, publish.payload)
        except GridLinksError as exc:
            raise refusal(exc) from None

    def independent(self, topic: str) -> bool:
        """Telemetry points are keyed by their timestamp, so order does not matter."""
        return topic == TELEMETRY

    async def _route(self, topic: str, payload: bytes) -> None:
        if topic == TELEMETRY:
            await self._store_raw_telemetry(payload)
        elif topic == ATTRIBUTES:
            await self._save_client_attributes(json_payload(payload, "attributes"))
        elif topic == CLAIM:
            await self._announce_claim(payload)
        elif topic.startswith(ATTRIBUTE_REQUEST):
            await self._answer_attribute_request(topic[len(ATTRIBUTE_REQUEST) :], payload)
        elif topic.startswith(RPC_REQUEST):
            self._answer_rpc_request(topic[len(RPC_REQUEST) :], payload)
        elif topic.startswith(RPC_RESPONSE):
            pass  # replies to server-side RPC: nothing is waiting for them yet
        else:
            raise PublishFailed(ReasonCode.TOPIC_NAME_INVALID, "unknown topic")

    async def _store_raw_telemetry(self, payload: bytes) -> None:
        """The hot path: JSON text straight to points (one validation pass)."""
        try:
            points = parse_telemetry_bytes(payload, self._platform.clock.now_ms())
        except BadRequestError as exc:
            raise PublishFailed(ReasonCode.PAYLOAD_FORMAT_INVALID, exc.message) from None
        if points:
            await self._platform.telemetry_writer.write(self._device_id, points)

    async def store_telemetry(self, device_id: uuid.UUID, payload: Any) -> None:
        points = parse_telemetry(payload, self._platform.clock.now_ms())
        if points:
            await self._platform.telemetry_writer.write(device_id, points)

    async def _save_client_attributes(self, values: Any) -> None:
        await self.in_unit_of_work(
            lambda uow: self._platform.attributes.save(
                uow, "DEVICE", self._device_id, "CLIENT_SCOPE", values
            )
        )

    async def _announce_claim(self, payload: bytes) -> None:
        body = json_payload(payload, "claim") if payload.strip() else {}
        platform = self._platform

        async def announce(uow: Any) -> bool:
            device = await platform.transport_access.current(uow, self._device_id)
            return await platform.claiming.announce(uow, device, body)

        await self.in_unit_of_work(announce)

    async def in_unit_of_work(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(uow)`` in a write unit of work and commit before returning."""
        async with self._platform.unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
        return result

    # --- requests answered on a response topic ----------------------------------------------
    async def _answer_attribute_request(self, request_id: str, payload: bytes) -> None:
        if not request_id.isdigit():
            raise PublishFailed(ReasonCode.TOPIC_NAME_INVALID, "request id must be a number")
        request = json_payload(payload, "attribute request") if payload.strip() else {}
        if not isinstance(request, dict):
            raise BadRequestError('An attribute request must be {"clientKeys", "sharedKeys"}')
        answer = {}
        for group, field, scope in (
            ("client", "clientKeys", "CLIENT_SCOPE"),
            ("shared", "sharedKeys", "SHARED_SCOPE"),
        ):
            if field in request or not ({"clientKeys", "sharedKeys"} & request.keys()):
                answer[group] = await self.read_attributes(
                    self._device_id, scope, key_list(request.get(field))
                )
        self._outbox(f"v1/devices/me/attributes/response/{request_id}", compact_json(answer))

    async def read_attributes(
        self, device_id: uuid.UUID, scope: str, keys: list[str] | None
    ) -> dict[str, Any]:
        async with self._platform.unit_of_work(write=False) as uow:
            values = await self._platform.attributes.read(uow, device_id, scope, keys)
        return {value.key: value.value for value in values}

    def _answer_rpc_request(self, request_id: str, payload: bytes) -> None:
        request = json_payload(payload, "RPC request")
        method = request.get("method") if isinstance(request, dict) else None
        if method == "getSessionLimits" and request_id.isdigit():
            self._outbox(f"{RPC_RESPONSE}{request_id}", compact_json(self.session_limits()))
        else:
            # Acknowledged and unanswered, like ThingsBoard without a rule for it. Not refused:
            # tb-mqtt-client slows its own sending down on a PUBACK with reason 0x83.
            log.debug("MQTT %s: client-side RPC without a handler, not answered", self.description)

    def session_limits(self) -> dict[str, Any]:
        """ThingsBoard's ``getSessionLimits`` answer (wire contract §1.4). GridLinks enforces
        no per-device message rates, so the rate limits are empty (= unlimited)."""
        settings = self._platform.settings
        return {
            "maxPayloadSize": settings.mqtt_max_payload_bytes,
            "maxInflightMessages": settings.mqtt_receive_maximum,
            "rateLimits": {"messages": "", "telemetryMessages": "", "telemetryDataPoints": ""},
        }

    # --- subscriptions ------------------------------------------------------------------
    def _allowed_filter(self, topic_filter: str) -> bool:
        return topic_filter.startswith(DEVICE_FILTER_PREFIXES)

    async def on_subscribe(self, subscriptions: tuple[Subscription, ...]) -> tuple[int, ...]:
        granted = []
        for subscription in subscriptions:
            if self._allowed_filter(subscription.topic_filter):
                self.subscriptions.add(sys.intern(subscription.topic_filter))
                granted.append(min(subscription.qos, 1))
            else:
                granted.append(
                    SUBSCRIPTION_REFUSED_V5 if self._level == 5 else SUBSCRIPTION_REFUSED_V3
                )
        return tuple(granted)

    def on_unsubscribe(self, topic_filters: tuple[str, ...]) -> tuple[int, ...]:
        codes = []
        for topic_filter in topic_filters:
            present = topic_filter in self.subscriptions
            self.subscriptions.discard(topic_filter)
            codes.append(ReasonCode.SUCCESS if present else ReasonCode.NO_SUBSCRIPTION_EXISTED)
        return tuple(codes)

    def on_close(self) -> None:
        log.debug("MQTT session of %s closed", self.description)


def key_list(value: Any) -> list[str] | None:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]``; missing -> None (all keys)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [key.strip() for key in value.split(",") if key.strip()]
    if isinstance(value, list) and all(isinstance(key, str) for key in value):
        return value
    raise BadRequestError("Attribute keys must be a comma-separated string or a list of strings")
