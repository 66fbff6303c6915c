"""MQTT 5 properties: identifiers, value types, where each may appear, and their wire form."""

from __future__ import annotations

import enum
from collections.abc import Callable

from gridlinks.mqtt.protocol import wire
from gridlinks.mqtt.protocol.packets import (
    MalformedPacket,
    Properties,
    PropertyValue,
    protocol_error,
)


class PropertyId(enum.IntEnum):
    """Property identifiers of MQTT 5 (spec §2.2.2.2)."""

    PAYLOAD_FORMAT_INDICATOR = 0x01
    MESSAGE_EXPIRY_INTERVAL = 0x02
    CONTENT_TYPE = 0x03
    RESPONSE_TOPIC = 0x08
    CORRELATION_DATA = 0x09
    SUBSCRIPTION_IDENTIFIER = 0x0B
    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    AUTHENTICATION_METHOD = 0x15
    AUTHENTICATION_DATA = 0x16
    REQUEST_PROBLEM_INFORMATION = 0x17
    WILL_DELAY_INTERVAL = 0x18
    REQUEST_RESPONSE_INFORMATION = 0x19
    RESPONSE_INFORMATION = 0x1A
    SERVER_REFERENCE = 0x1C
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A


class PropertyType(enum.Enum):
    """The wire type of a property value."""

    BYTE = "byte"
    TWO_BYTE_INT = "two-byte int"
    FOUR_BYTE_INT = "four-byte int"
    VARIABLE_BYTE_INT = "variable byte int"
    UTF8 = "UTF-8 string"
    UTF8_PAIR = "UTF-8 string pair"
    BINARY = "binary"


class PropertyScope(enum.Enum):
    """Where properties appear: a packet type, or the will inside CONNECT."""

    CONNECT = "CONNECT"
    CONNACK = "CONNACK"
    PUBLISH = "PUBLISH"
    WILL = "will"
    PUBACK = "PUBACK"
    PUBREC = "PUBREC"
    PUBREL = "PUBREL"
    PUBCOMP = "PUBCOMP"
    SUBSCRIBE = "SUBSCRIBE"
    SUBACK = "SUBACK"
    UNSUBSCRIBE = "UNSUBSCRIBE"
    UNSUBACK = "UNSUBACK"
    DISCONNECT = "DISCONNECT"
    AUTH = "AUTH"


_P = PropertyId
_T = PropertyType
_S = PropertyScope
_REASON_STRING_SCOPES = frozenset(
    {_S.CONNACK, _S.PUBACK, _S.PUBREC, _S.PUBREL, _S.PUBCOMP, _S.SUBACK, _S.UNSUBACK}
    | {_S.DISCONNECT, _S.AUTH}
)
_MESSAGE_SCOPES = frozenset({_S.PUBLISH, _S.WILL})

PROPERTY_TYPES: dict[PropertyId, PropertyType] = {
    _P.PAYLOAD_FORMAT_INDICATOR: _T.BYTE,
    _P.MESSAGE_EXPIRY_INTERVAL: _T.FOUR_BYTE_INT,
    _P.CONTENT_TYPE: _T.UTF8,
    _P.RESPONSE_TOPIC: _T.UTF8,
    _P.CORRELATION_DATA: _T.BINARY,
    _P.SUBSCRIPTION_IDENTIFIER: _T.VARIABLE_BYTE_INT,
    _P.SESSION_EXPIRY_INTERVAL: _T.FOUR_BYTE_INT,
    _P.ASSIGNED_CLIENT_IDENTIFIER: _T.UTF8,
    _P.SERVER_KEEP_ALIVE: _T.TWO_BYTE_INT,
    _P.AUTHENTICATION_METHOD: _T.UTF8,
    _P.AUTHENTICATION_DATA: _T.BINARY,
    _P.REQUEST_PROBLEM_INFORMATION: _T.BYTE,
    _P.WILL_DELAY_INTERVAL: _T.FOUR_BYTE_INT,
    _P.REQUEST_RESPONSE_INFORMATION: _T.BYTE,
    _P.RESPONSE_INFORMATION: _T.UTF8,
    _P.SERVER_REFERENCE: _T.UTF8,
    _P.REASON_STRING: _T.UTF8,
    _P.RECEIVE_MAXIMUM: _T.TWO_BYTE_INT,
    _P.TOPIC_ALIAS_MAXIMUM: _T.TWO_BYTE_INT,
    _P.TOPIC_ALIAS: _T.TWO_BYTE_INT,
    _P.MAXIMUM_QOS: _T.BYTE,
    _P.RETAIN_AVAILABLE: _T.BYTE,
    _P.USER_PROPERTY: _T.UTF8_PAIR,
    _P.MAXIMUM_PACKET_SIZE: _T.FOUR_BYTE_INT,
    _P.WILDCARD_SUBSCRIPTION_AVAILABLE: _T.BYTE,
    _P.SUBSCRIPTION_IDENTIFIER_AVAILABLE: _T.BYTE,
    _P.SHARED_SUBSCRIPTION_AVAILABLE: _T.BYTE,
}

PROPERTY_SCOPES: dict[PropertyId, frozenset[PropertyScope]] = {
    _P.PAYLOAD_FORMAT_INDICATOR: _MESSAGE_SCOPES,
    _P.MESSAGE_EXPIRY_INTERVAL: _MESSAGE_SCOPES,
    _P.CONTENT_TYPE: _MESSAGE_SCOPES,
    _P.RESPONSE_TOPIC: _MESSAGE_SCOPES,
    _P.CORRELATION_DATA: _MESSAGE_SCOPES,
    _P.SUBSCRIPTION_IDENTIFIER: frozenset({_S.PUBLISH, _S.SUBSCRIBE}),
    _P.SESSION_EXPIRY_INTERVAL: frozenset({_S.CONNECT, _S.CONNACK, _S.DISCONNECT}),
    _P.ASSIGNED_CLIENT_IDENTIFIER: frozenset({_S.CONNACK}),
    _P.SERVER_KEEP_ALIVE: frozenset({_S.CONNACK}),
    _P.AUTHENTICATION_METHOD: frozenset({_S.CONNECT, _S.CONNACK, _S.AUTH}),
    _P.AUTHENTICATION_DATA: frozenset({_S.CONNECT, _S.CONNACK, _S.AUTH}),
    _P.REQUEST_PROBLEM_INFORMATION: frozenset({_S.CONNECT}),
    _P.WILL_DELAY_INTERVAL: frozenset({_S.WILL}),
    _P.REQUEST_RESPONSE_INFORMATION: frozenset({_S.CONNECT}),
    _P.RESPONSE_INFORMATION: frozenset({_S.CONNACK}),
    _P.SERVER_REFERENCE: frozenset({_S.CONNACK, _S.DISCONNECT}),
    _P.REASON_STRING: _REASON_STRING_SCOPES,
    _P.RECEIVE_MAXIMUM: frozenset({_S.CONNECT, _S.CONNACK}),
    _P.TOPIC_ALIAS_MAXIMUM: frozenset({_S.CONNECT, _S.CONNACK}),
    _P.TOPIC_ALIAS: frozenset({_S.PUBLISH}),
    _P.MAXIMUM_QOS: frozenset({_S.CONNACK}),
    _P.RETAIN_AVAILABLE: frozenset({_S.CONNACK}),
    _P.USER_PROPERTY: frozenset(PropertyScope),
    _P.MAXIMUM_PACKET_SIZE: frozenset({_S.CONNECT, _S.CONNACK}),
    _P.WILDCARD_SUBSCRIPTION_AVAILABLE: frozenset({_S.CONNACK}),
    _P.SUBSCRIPTION_IDENTIFIER_AVAILABLE: frozenset({_S.CONNACK}),
    _P.SHARED_SUBSCRIPTION_AVAILABLE: frozenset({_S.CONNACK}),
}

# Byte properties that are booleans on the wire (any other value is a protocol error).
BOOLEAN_PROPERTIES = frozenset(
    {_P.PAYLOAD_FORMAT_INDICATOR, _P.REQUEST_PROBLEM_INFORMATION, _P.MAXIMUM_QOS}
    | {_P.REQUEST_RESPONSE_INFORMATION, _P.RETAIN_AVAILABLE, _P.WILDCARD_SUBSCRIPTION_AVAILABLE}
    | {_P.SUBSCRIPTION_IDENTIFIER_AVAILABLE, _P.SHARED_SUBSCRIPTION_AVAILABLE}
)
NONZERO_PROPERTIES = frozenset(
    {_P.SUBSCRIPTION_IDENTIFIER, _P.RECEIVE_MAXIMUM, _P.TOPIC_ALIAS, _P.MAXIMUM_PACKET_SIZE}
)

_READERS: dict[PropertyType, Callable[[wire.Reader], PropertyValue]] = {
    _T.BYTE: wire.Reader.byte,
    _T.TWO_BYTE_INT: wire.Reader.two_byte_int,
    _T.FOUR_BYTE_INT: wire.Reader.four_byte_int,
    _T.VARIABLE_BYTE_INT: wire.Reader.variable_byte_int,
    _T.UTF8: wire.Reader.utf8,
    _T.UTF8_PAIR: wire.Reader.utf8_pair,
    _T.BINARY: wire.Reader.binary,
}


def read_properties(reader: wire.Reader, scope: PropertyScope) -> Properties:
    """Read a property length and the properties after it, validating them for ``scope``."""
    body = wire.Reader(reader.take(reader.variable_byte_int()))
    properties: list[tuple[int, PropertyValue]] = []
    while body.remaining:
        property_id = _known_property_id(body.variable_byte_int())
        properties.append((property_id, _READERS[PROPERTY_TYPES[property_id]](body)))
    validate_properties(tuple(properties), scope)
    return tuple(properties)


def encode_properties(properties: Properties, scope: PropertyScope) -> bytes:
    """The property length followed by the properties, after validating them for ``scope``."""
    validate_properties(properties, scope)
    body = b"".join(_encode_property(_known_property_id(pid), value) for pid, value in properties)
    return wire.encode_variable_byte_int(len(body)) + body


def validate_properties(properties: Properties, scope: PropertyScope) -> None:
    """Refuse properties foreign to ``scope``, repeated ones, and out-of-range values."""
    seen: set[int] = set()
    for property_id, value in properties:
        known_id = _known_property_id(property_id)
        if scope not in PROPERTY_SCOPES[known_id]:
            raise protocol_error(f"property {known_id.name} is not allowed in {scope.value}")
        if known_id in seen and not _may_repeat(known_id, scope):
            raise protocol_error(f"property {known_id.name} appears twice")
        seen.add(known_id)
        _validate_value(known_id, value)


def _may_repeat(property_id: PropertyId, scope: PropertyScope) -> bool:
    if property_id is PropertyId.USER_PROPERTY:
        return True
    return property_id is PropertyId.SUBSCRIPTION_IDENTIFIER and scope is PropertyScope.PUBLISH


def _known_property_id(value: int) -> PropertyId:
    try:
        return PropertyId(value)
    except ValueError:
        raise MalformedPacket(f"unknown property identifier {value:#x}") from None


def _validate_value(property_id: PropertyId, value: PropertyValue) -> None:
    if property_id in BOOLEAN_PROPERTIES and value not in (0, 1):
        raise protocol_error(f"property {property_id.name} must be 0 or 1")
    if property_id in NONZERO_PROPERTIES and value == 0:
        raise protocol_error(f"property {property_id.name} must not be 0")


def _encode_property(property_id: PropertyId, value: PropertyValue) -> bytes:
    return wire.encode_variable_byte_int(property_id) + _encode_value(
        PROPERTY_TYPES[property_id], value
    )


def _encode_value(property_type: PropertyType, value: PropertyValue) -> bytes:
    if property_type is PropertyType.UTF8_PAIR and isinstance(value, tuple):
        return wire.encode_utf8(value[0]) + wire.encode_utf8(value[1])
    if property_type is PropertyType.UTF8 and isinstance(value, str):
        return wire.encode_utf8(value)
    if property_type is PropertyType.BINARY and isinstance(value, bytes):
        return wire.encode_binary(value)
    int_encoder = _INT_ENCODERS.get(property_type)
    if int_encoder is not None and isinstance(value, int) and not isinstance(value, bool):
        return int_encoder(value)
    raise MalformedPacket(f"a {property_type.value} property cannot hold {type(value).__name__}")


_INT_ENCODERS: dict[PropertyType, Callable[[int], bytes]] = {
    _T.BYTE: wire.encode_byte,
    _T.TWO_BYTE_INT: wire.encode_two_byte_int,
    _T.FOUR_BYTE_INT: wire.encode_four_byte_int,
    _T.VARIABLE_BYTE_INT: wire.encode_variable_byte_int,
}
