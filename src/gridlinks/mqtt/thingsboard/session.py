"""A connected device: ThingsBoard's device topics, a thin adapter over ``DeviceLinkService``.

Inbound, each topic's payload is parsed and handed to the service, which commits before it
returns, so PUBACK means stored. A refused message raises ``PublishFailed`` with the MQTT 5
reason code; the reason is logged, never the payload or the device's credentials.

Outbound, the session is the device's ``DeviceLink`` on this node while it is connected: RPC
requests and shared-attribute pushes go out on the topics the device subscribed to, at the
QoS it was granted; a ``CloseConnection`` ends the connection (DISCONNECT 0x87 at level 5).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from gridlinks.delivery.messages import AttributePush, RpcCall, ToDevice
from gridlinks.devicelink.ids import request_id_from_text
from gridlinks.devicelink.service import DeviceLinkService
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
from gridlinks.mqtt.thingsboard.subscriptions import Subscriptions, filter_matches
from gridlinks.mqtt.transport.state import Outbound, PublishFailed

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


def request_id_of(text: str) -> int:
    """The ``{n}`` of a request/response topic: a non-negative 32-bit integer."""
    number = request_id_from_text(text)
    if number is None:
        raise PublishFailed(ReasonCode.TOPIC_NAME_INVALID, "request id must be a number")
    return number


class DeviceSession:
    """One authenticated device connection (gateways extend it with ``v1/gateway/*``)."""

    __slots__ = (
        "_device",
        "_level",
        "_out",
        "_remove_link",
        "_service",
        "subscriptions",
    )

    def __init__(
        self, service: DeviceLinkService, device: Device, outbound: Outbound, level: int
    ) -> None:
        self._service = service
        self._device = device
        self._out = outbound
        self._level = level
        self._remove_link: Callable[[], None] | None = None
        self.subscriptions = Subscriptions()

    @property
    def device_id(self) -> uuid.UUID:
        return self._device.id

    @property
    def description(self) -> str:
        return f"device {self._device.id}"

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
        service, device_id = self._service, self._device.id
        if topic == TELEMETRY:
            await service.store_telemetry_bytes(device_id, payload)
        elif topic == ATTRIBUTES:
            values = json_payload(payload, "attributes")
            await service.save_client_attributes({device_id: values})
        elif topic == CLAIM:
            body = json_payload(payload, "claim") if payload.strip() else {}
            await service.announce_claim(device_id, body)
        elif topic.startswith(ATTRIBUTE_REQUEST):
            await self._answer_attribute_request(topic[len(ATTRIBUTE_REQUEST) :], payload)
        elif topic.startswith(RPC_REQUEST):
            self._answer_rpc_request(topic[len(RPC_REQUEST) :], payload)
        elif topic.startswith(RPC_RESPONSE):
            request_id = request_id_of(topic[len(RPC_RESPONSE) :])
            reply = json_payload(payload, "RPC reply")
            await service.rpc_replied(device_id, request_id, reply)
        else:
            raise PublishFailed(ReasonCode.TOPIC_NAME_INVALID, "unknown topic")

    # --- requests answered on a response topic ----------------------------------------------
    async def _answer_attribute_request(self, request_id: str, payload: bytes) -> None:
        number = request_id_of(request_id)
        request = json_payload(payload, "attribute request") if payload.strip() else {}
        if not isinstance(request, dict):
            raise BadRequestError('An attribute request must be {"clientKeys", "sharedKeys"}')
        named = {"clientKeys", "sharedKeys"} & request.keys()
        answer = await self._service.read_attribute_groups(
            self._device.id,
            key_list(request.get("clientKeys")),
            key_list(request.get("sharedKeys")),
            client="clientKeys" in request or not named,
            shared="sharedKeys" in request or not named,
        )
        self._out.publish(f"v1/devices/me/attributes/response/{number}", compact_json(answer))

    def _answer_rpc_request(self, request_id: str, payload: bytes) -> None:
        number = request_id_of(request_id)
        answer = self._service.answer_client_rpc(
            json_payload(payload, "RPC request"), gateway=self._device.is_gateway
        )
        self._out.publish(f"{RPC_RESPONSE}{number}", compact_json(answer))

    # --- subscriptions ------------------------------------------------------------------
    def _allowed_filter(self, topic_filter: str) -> bool:
        return topic_filter.startswith(DEVICE_FILTER_PREFIXES)

    async def on_subscribe(self, subscriptions: tuple[Subscription, ...]) -> tuple[int, ...]:
        granted = []
        for subscription in subscriptions:
            if self._allowed_filter(subscription.topic_filter):
                qos = min(subscription.qos, 1)
                self.subscriptions.add(subscription.topic_filter, qos)
                self._subscribed(subscription.topic_filter)
                granted.append(qos)
            else:
                granted.append(
                    SUBSCRIPTION_REFUSED_V5 if self._level == 5 else SUBSCRIPTION_REFUSED_V3
                )
        return tuple(granted)

    def _subscribed(self, topic_filter: str) -> None:
        """A filter covering RPC requests: RPCs queued for the device can go out now (after
        the SUBACK: the report runs once this packet is answered)."""
        if filter_matches(topic_filter, f"{RPC_REQUEST}0"):
            self._service.report_connected(self._device.id)

    def on_unsubscribe(self, topic_filters: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(
            ReasonCode.SUCCESS
            if self.subscriptions.remove(topic_filter)
            else ReasonCode.NO_SUBSCRIPTION_EXISTED
            for topic_filter in topic_filters
        )

    # --- messages to the device ----------------------------------------------------------------
    def on_connected(self) -> None:
        self._remove_link = self._service.register_link(self._device.id, self)

    def deliver(self, message: ToDevice) -> bool:
        if isinstance(message, RpcCall):
            topic = f"{RPC_REQUEST}{message.request_id}"
            return self.send_rpc(self._device.id, message, topic, message.body())
        if isinstance(message, AttributePush):
            return self.send_if_subscribed(ATTRIBUTES, message.body())
        log.info("MQTT %s: access changed (%s); closing", self.description, message.reason)
        self._out.disconnect(ReasonCode.NOT_AUTHORIZED)
        return True

    def send_if_subscribed(self, topic: str, body: Any) -> bool:
        qos = self.subscriptions.qos_for(topic)
        return qos is not None and self._out.publish(topic, compact_json(body), qos)

    def send_rpc(self, device_id: uuid.UUID, call: RpcCall, topic: str, body: Any) -> bool:
        """Publish an RPC request at the granted QoS; delivery is reported on PUBACK (QoS 1)
        or once written (QoS 0). Not subscribed, or past its expiration -> False."""
        qos = self.subscriptions.qos_for(topic)
        if qos is None or self._service.rpc_is_void(call):
            return False
        payload = compact_json(body)
        if qos == 0:
            sent = self._out.publish(topic, payload)
            if sent:
                self._service.report_delivered(device_id, call.request_id)
            return sent
        acknowledged = partial(self._service.rpc_delivered, device_id, call.request_id)
        return self._out.publish(topic, payload, 1, acknowledged)

    def on_close(self) -> None:
        if self._remove_link is not None:
            self._remove_link()
            self._remove_link = None
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
