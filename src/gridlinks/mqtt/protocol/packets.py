"""MQTT packets (protocol levels 3, 4 and 5) as frozen dataclasses, reason codes and the error.

Every malformed input is reported as one typed error::

    ValueError
    └── MalformedPacket (reason 0x81 Malformed Packet or 0x82 Protocol Error)
        ├── PacketTooLarge (0x95)
        └── UnsupportedProtocolVersion (0x84; answer with CONNACK 1 on levels 3 and 4)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PropertyValue = int | str | bytes | tuple[str, str]
# (property identifier, value) in wire order; user properties (0x26) may repeat.
Properties = tuple[tuple[int, PropertyValue], ...]


class ReasonCode(enum.IntEnum):
    """MQTT 5 reason codes (spec §2.4); aliases share a value."""

    SUCCESS = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL_MESSAGE = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2


class ConnectReturnCode(enum.IntEnum):
    """CONNACK return codes of MQTT 3.1 and 3.1.1."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USER_NAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


class PacketType(enum.IntEnum):
    """The packet type in the high nibble of the fixed header."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class MalformedPacket(ValueError):
    """The bytes are not a valid MQTT packet; the connection must be closed.

    ``reason_code`` is what an MQTT 5 server puts in its DISCONNECT (or CONNACK) before closing.
    """

    def __init__(self, message: str, reason_code: int = ReasonCode.MALFORMED_PACKET) -> None:
        super().__init__(message)
        self.message = message
        self.reason_code = ReasonCode(reason_code)


class PacketTooLarge(MalformedPacket):
    """A packet is longer than the receiver's maximum packet size."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ReasonCode.PACKET_TOO_LARGE)


class UnsupportedProtocolVersion(MalformedPacket):
    """CONNECT names a protocol level other than 3, 4 or 5."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ReasonCode.UNSUPPORTED_PROTOCOL_VERSION)


def protocol_error(message: str) -> MalformedPacket:
    """A well-formed packet that breaks a protocol rule (reason 0x82)."""
    return MalformedPacket(message, ReasonCode.PROTOCOL_ERROR)


@dataclass(frozen=True)
class Will:
    """The will message carried in CONNECT."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = ()


@dataclass(frozen=True)
class Connect:
    """CONNECT; ``protocol_level`` is 3 (MQTT 3.1), 4 (3.1.1) or 5."""

    client_id: str
    protocol_level: int = 4
    clean_start: bool = True
    keep_alive_seconds: int = 0
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = ()


@dataclass(frozen=True)
class Connack:
    """CONNACK; ``reason_code`` is a ``ConnectReturnCode`` below level 5, a ``ReasonCode`` at 5."""

    session_present: bool = False
    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Publish:
    """PUBLISH; ``packet_id`` is None exactly when ``qos`` is 0."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = ()


@dataclass(frozen=True)
class Puback:
    """PUBACK (QoS 1 acknowledgement)."""

    packet_id: int
    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Pubrec:
    """PUBREC (QoS 2, step 1)."""

    packet_id: int
    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Pubrel:
    """PUBREL (QoS 2, step 2)."""

    packet_id: int
    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Pubcomp:
    """PUBCOMP (QoS 2, step 3)."""

    packet_id: int
    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Subscription:
    """One topic filter of SUBSCRIBE with its options (only ``qos`` exists below level 5)."""

    topic_filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE with at least one subscription."""

    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = ()


@dataclass(frozen=True)
class Suback:
    """SUBACK: one granted QoS or failure code per subscription."""

    packet_id: int
    reason_codes: tuple[int, ...]
    properties: Properties = ()


@dataclass(frozen=True)
class Unsubscribe:
    """UNSUBSCRIBE with at least one topic filter."""

    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = ()


@dataclass(frozen=True)
class Unsuback:
    """UNSUBACK; ``reason_codes`` is empty below level 5."""

    packet_id: int
    reason_codes: tuple[int, ...] = ()
    properties: Properties = ()


@dataclass(frozen=True)
class Pingreq:
    """PINGREQ."""


@dataclass(frozen=True)
class Pingresp:
    """PINGRESP."""


@dataclass(frozen=True)
class Disconnect:
    """DISCONNECT; reason code and properties exist at level 5 only."""

    reason_code: int = 0
    properties: Properties = ()


@dataclass(frozen=True)
class Auth:
    """AUTH (level 5 only)."""

    reason_code: int = 0
    properties: Properties = ()


Packet = (
    Connect
    | Connack
    | Publish
    | Puback
    | Pubrec
    | Pubrel
    | Pubcomp
    | Subscribe
    | Suback
    | Unsubscribe
    | Unsuback
    | Pingreq
    | Pingresp
    | Disconnect
    | Auth
)
