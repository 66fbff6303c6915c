"""State the MQTT server shares with every connection (passed in, never global), and the
interfaces between the connection (protocol) and the application (device sessions)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gridlinks.kit.metrics import Metrics
from gridlinks.mqtt.protocol.packets import ConnectReturnCode, Publish, ReasonCode, Subscription

if TYPE_CHECKING:
    from gridlinks.mqtt.protocol.packets import Connect


class Refusal(enum.Enum):
    """Why a CONNECT is refused, with its CONNACK code at level 5 and at levels 3/4."""

    UNSUPPORTED_PROTOCOL_VERSION = (
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION,
    )
    CLIENT_ID_NOT_VALID = (
        ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
        ConnectReturnCode.IDENTIFIER_REJECTED,
    )
    BAD_CREDENTIALS = (
        ReasonCode.BAD_USER_NAME_OR_PASSWORD,
        ConnectReturnCode.BAD_USER_NAME_OR_PASSWORD,
    )
    NOT_AUTHORIZED = (ReasonCode.NOT_AUTHORIZED, ConnectReturnCode.NOT_AUTHORIZED)
    SERVER_UNAVAILABLE = (ReasonCode.SERVER_UNAVAILABLE, ConnectReturnCode.SERVER_UNAVAILABLE)
    SERVER_BUSY = (ReasonCode.SERVER_BUSY, ConnectReturnCode.SERVER_UNAVAILABLE)

    def code(self, protocol_level: int) -> int:
        v5, v3 = self.value
        return int(v5 if protocol_level == 5 else v3)


class ConnectRefused(Exception):
    """Raised by an ``Authenticator``: answer CONNACK with this refusal and close."""

    def __init__(self, refusal: Refusal, log_reason: str) -> None:
        super().__init__(log_reason)
        self.refusal = refusal
        self.log_reason = log_reason


class PublishFailed(Exception):
    """Raised by a session for a message it refuses: PUBACK/PUBREC carries ``reason_code``
    at level 5; below 5 the message is acknowledged and dropped (there is no way to say no,
    and not acknowledging would make the client send the same refused message forever)."""

    def __init__(self, reason_code: int, log_reason: str) -> None:
        super().__init__(log_reason)
        self.reason_code = reason_code
        self.log_reason = log_reason


# Called once the client acknowledged a QoS 1 message the server sent (its PUBACK).
Acknowledged = Callable[[], Awaitable[None]]


class Outbound(Protocol):
    """What a session may do to its connection: send messages, close it."""

    def publish(
        self, topic: str, payload: bytes, qos: int = 0, on_acknowledged: Acknowledged | None = None
    ) -> bool:
        """Send an application message; False when it was not sent (not connected, over the
        client's size limit or in-flight window, or the client does not read)."""
        ...

    def disconnect(self, reason_code: int) -> None:
        """Close the connection (DISCONNECT with ``reason_code`` at level 5)."""
        ...


class Session(Protocol):
    """The application side of one authenticated connection (a device or a gateway)."""

    @property
    def device_id(self) -> uuid.UUID: ...

    @property
    def description(self) -> str:
        """For log lines: what is connected (never a credential)."""
        ...

    async def on_publish(self, publish: Publish) -> None:
        """Process one message durably; raise ``PublishFailed`` to refuse it."""
        ...

    def independent(self, topic: str) -> bool:
        """Whether messages on ``topic`` may be processed concurrently with each other (their
        effects do not depend on order): the connection then batches them."""
        ...

    async def on_subscribe(self, subscriptions: tuple[Subscription, ...]) -> tuple[int, ...]:
        """Granted QoS (or a failure code at the connection's level) per subscription."""
        ...

    def on_unsubscribe(self, topic_filters: tuple[str, ...]) -> tuple[int, ...]: ...

    def on_connected(self) -> None:
        """CONNACK was sent: the session may now be reached (messages to the device)."""
        ...

    def on_close(self) -> None: ...


class Authenticator(Protocol):
    async def open_session(self, connect: Connect, outbound: Outbound) -> Session:
        """Authenticate CONNECT and return its session, or raise ``ConnectRefused``."""
        ...


class Closable(Protocol):
    def take_over(self) -> None:
        """Another connection of the same device arrived: close this one."""
        ...

    def stop_reading(self) -> None:
        """The server is stopping: read nothing more, finish what was received."""
        ...

    @property
    def busy(self) -> bool: ...

    def shut_down(self) -> None:
        """The server is stopping: tell the client and close."""
        ...

    @property
    def finished(self) -> bool: ...


@dataclass(frozen=True)
class ConnectionLimits:
    max_packet_bytes: int = 65536
    receive_maximum: int = 100
    connect_timeout_seconds: float = 10.0
    keep_alive_factor: float = 1.5


class TransportMetrics:
    """The MQTT metrics of a platform's ``Metrics``, with the labelled series of the hot path
    looked up once (``labels()`` takes a lock and a dict lookup)."""

    __slots__ = (
        "connections",
        "connects",
        "received_accepted",
        "received_failed",
        "received_refused",
        "sent",
        "sent_too_large",
    )

    def __init__(self, metrics: Metrics | None = None) -> None:
        metrics = metrics or Metrics()
        self.connections = metrics.mqtt_connections
        self.connects = metrics.mqtt_connects
        received = metrics.mqtt_messages_received
        self.received_accepted = received.labels("accepted")
        self.received_refused = received.labels("refused")
        self.received_failed = received.labels("failed")
        self.sent = metrics.mqtt_messages_sent.labels("sent")
        self.sent_too_large = metrics.mqtt_messages_sent.labels("too_large")


@dataclass
class ServerState:
    """Shared by all connections of one server."""

    limits: ConnectionLimits
    authenticator: Authenticator
    max_connections: int
    connections: set[Closable] = field(default_factory=set)
    by_device: dict[uuid.UUID, Closable] = field(default_factory=dict)
    metrics: TransportMetrics = field(default_factory=TransportMetrics)

    def register_device(self, device_id: uuid.UUID, connection: Closable) -> None:
        """The newest connection of a device wins; the older one is closed."""
        previous = self.by_device.get(device_id)
        self.by_device[device_id] = connection
        if previous is not None and previous is not connection:
            previous.take_over()

    def unregister_device(self, device_id: uuid.UUID, connection: Closable) -> None:
        if self.by_device.get(device_id) is connection:
            del self.by_device[device_id]
