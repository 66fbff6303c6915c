"""Packets to bytes for every packet type and protocol level (re-exported by ``codec``).

The encoder applies the decoder's rules, so whatever it produces decodes back to an equal packet;
a packet that cannot be sent at the requested level raises ``MalformedPacket``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gridlinks.mqtt.protocol import wire
from gridlinks.mqtt.protocol.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
    Packet,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from gridlinks.mqtt.protocol.properties import PropertyId, PropertyScope, encode_properties
from gridlinks.mqtt.protocol.rules import (
    PROTOCOL_NAMES,
    REQUIRED_FLAGS,
    validate_reason_code,
    validate_reason_codes,
)
from gridlinks.mqtt.protocol.topics import validate_topic_filter, validate_topic_name

_Body = tuple[int, bytes]  # (fixed-header flags, variable header + payload)


def encode(packet: Packet, protocol_level: int) -> bytes:
    """The wire form of ``packet`` at ``protocol_level`` (3, 4 or 5)."""
    if protocol_level not in PROTOCOL_NAMES:
        raise MalformedPacket(f"unsupported protocol level {protocol_level}")
    packet_type, encoder = _ENCODERS[type(packet)]
    flags, body = encoder(packet, protocol_level)
    first_byte = packet_type << 4 | (flags or REQUIRED_FLAGS.get(packet_type, 0))
    return bytes((first_byte,)) + wire.encode_variable_byte_int(len(body)) + body


def _encode_connect(packet: Connect, level: int) -> _Body:
    if packet.protocol_level != level:
        raise MalformedPacket(f"CONNECT of level {packet.protocol_level} encoded at {level}")
    if packet.password is not None and packet.username is None and level < 5:
        raise MalformedPacket("a password needs a user name below MQTT 5")
    variable_header = (
        wire.encode_utf8(PROTOCOL_NAMES[level])
        + wire.encode_byte(level)
        + wire.encode_byte(_connect_flags(packet))
        + wire.encode_two_byte_int(packet.keep_alive_seconds)
        + _v5_properties(packet.properties, PropertyScope.CONNECT, level)
    )
    payload = wire.encode_utf8(packet.client_id) + _encode_will(packet.will, level)
    if packet.username is not None:
        payload += wire.encode_utf8(packet.username)
    if packet.password is not None:
        payload += wire.encode_binary(packet.password)
    return 0, variable_header + payload


def _connect_flags(packet: Connect) -> int:
    flags = 0x02 if packet.clean_start else 0
    if packet.will is not None:
        if packet.will.qos not in (0, 1, 2):
            raise MalformedPacket(f"will QoS {packet.will.qos}")
        flags |= 0x04 | packet.will.qos << 3 | (0x20 if packet.will.retain else 0)
    flags |= 0x40 if packet.password is not None else 0
    return flags | (0x80 if packet.username is not None else 0)


def _encode_will(will: Will | None, level: int) -> bytes:
    if will is None:
        return b""
    validate_topic_name(will.topic)
    properties = _v5_properties(will.properties, PropertyScope.WILL, level)
    return properties + wire.encode_utf8(will.topic) + wire.encode_binary(will.payload)


def _encode_connack(packet: Connack, level: int) -> _Body:
    validate_reason_code(PacketType.CONNACK, packet.reason_code, level)
    if packet.session_present and packet.reason_code:
        raise MalformedPacket("a refused CONNACK cannot have session present")
    # MQTT 5 clients (paho, tb-mqtt-client) need the property length even when it is 0.
    properties = _v5_properties(packet.properties, PropertyScope.CONNACK, level)
    return 0, bytes((int(packet.session_present), packet.reason_code)) + properties


def _encode_publish(packet: Publish, level: int) -> _Body:
    if packet.qos not in (0, 1, 2):
        raise MalformedPacket(f"PUBLISH QoS {packet.qos}")
    if (packet.packet_id is None) != (packet.qos == 0) or (packet.dup and not packet.qos):
        raise MalformedPacket("PUBLISH packet id and DUP must match its QoS")
    has_alias = any(pid == PropertyId.TOPIC_ALIAS for pid, _ in packet.properties)
    validate_topic_name(packet.topic, may_be_empty=has_alias and level == 5)
    body = wire.encode_utf8(packet.topic)
    if packet.packet_id is not None:
        body += _packet_id(packet.packet_id)
    body += _v5_properties(packet.properties, PropertyScope.PUBLISH, level) + packet.payload
    flags = packet.dup << 3 | packet.qos << 1 | packet.retain
    return flags, body


def _acknowledgement_encoder(
    packet_type: PacketType, scope: PropertyScope
) -> Callable[[Any, int], _Body]:
    def encode_acknowledgement(packet: Puback | Pubrec | Pubrel | Pubcomp, level: int) -> _Body:
        validate_reason_code(packet_type, packet.reason_code, level)
        body = _packet_id(packet.packet_id)
        if level < 5:
            _refuse_properties(packet.properties, level)
        elif packet.properties:
            body += bytes((packet.reason_code,)) + encode_properties(packet.properties, scope)
        elif packet.reason_code:
            body += bytes((packet.reason_code,))
        return 0, body

    return encode_acknowledgement


def _encode_subscribe(packet: Subscribe, level: int) -> _Body:
    if not packet.subscriptions:
        raise MalformedPacket("SUBSCRIBE needs at least one subscription")
    body = _packet_id(packet.packet_id)
    body += _v5_properties(packet.properties, PropertyScope.SUBSCRIBE, level)
    for subscription in packet.subscriptions:
        validate_topic_filter(subscription.topic_filter)
        body += wire.encode_utf8(subscription.topic_filter)
        body += bytes((_subscription_options(subscription, level),))
    return 0, body


def _subscription_options(subscription: Subscription, level: int) -> int:
    options = (
        subscription.qos
        | subscription.no_local << 2
        | subscription.retain_as_published << 3
        | subscription.retain_handling << 4
    )
    valid = subscription.qos in (0, 1, 2) and subscription.retain_handling in (0, 1, 2)
    if not valid or (level < 5 and options > 2):
        raise MalformedPacket(f"subscription options {subscription} impossible at level {level}")
    return options


def _encode_suback(packet: Suback, level: int) -> _Body:
    validate_reason_codes(PacketType.SUBACK, packet.reason_codes, level)
    properties = _v5_properties(packet.properties, PropertyScope.SUBACK, level)
    return 0, _packet_id(packet.packet_id) + properties + bytes(packet.reason_codes)


def _encode_unsubscribe(packet: Unsubscribe, level: int) -> _Body:
    if not packet.topic_filters:
        raise MalformedPacket("UNSUBSCRIBE needs at least one topic filter")
    body = _packet_id(packet.packet_id)
    body += _v5_properties(packet.properties, PropertyScope.UNSUBSCRIBE, level)
    for topic_filter in packet.topic_filters:
        validate_topic_filter(topic_filter)
        body += wire.encode_utf8(topic_filter)
    return 0, body


def _encode_unsuback(packet: Unsuback, level: int) -> _Body:
    body = _packet_id(packet.packet_id)
    if level < 5:
        _refuse_properties(packet.properties, level)
        if packet.reason_codes:
            raise MalformedPacket("UNSUBACK has no reason codes below MQTT 5")
        return 0, body
    validate_reason_codes(PacketType.UNSUBACK, packet.reason_codes, level)
    properties = encode_properties(packet.properties, PropertyScope.UNSUBACK)
    return 0, body + properties + bytes(packet.reason_codes)


def _encode_empty(packet: Pingreq | Pingresp, level: int) -> _Body:
    return 0, b""


def _reason_and_properties_encoder(packet_type: PacketType) -> Callable[[Any, int], _Body]:
    def encode_reason_and_properties(packet: Disconnect | Auth, level: int) -> _Body:
        if level < 5:
            if packet_type is PacketType.AUTH:
                raise MalformedPacket("AUTH exists only in MQTT 5")
            _refuse_properties(packet.properties, level)
        validate_reason_code(packet_type, packet.reason_code, level)
        if level < 5 or (not packet.reason_code and not packet.properties):
            return 0, b""
        scope = PropertyScope(packet_type.name)
        return 0, bytes((packet.reason_code,)) + encode_properties(packet.properties, scope)

    return encode_reason_and_properties


def _packet_id(packet_id: int) -> bytes:
    if not 0 < packet_id <= wire.MAX_TWO_BYTE:
        raise MalformedPacket(f"packet identifier {packet_id}")
    return wire.encode_two_byte_int(packet_id)


def _v5_properties(properties: Properties, scope: PropertyScope, level: int) -> bytes:
    if level == 5:
        return encode_properties(properties, scope)
    _refuse_properties(properties, level)
    return b""


def _refuse_properties(properties: Properties, level: int) -> None:
    if properties:
        raise MalformedPacket(f"properties exist only in MQTT 5, not level {level}")


_ENCODERS: dict[type[Any], tuple[PacketType, Callable[[Any, int], _Body]]] = {
    Connect: (PacketType.CONNECT, _encode_connect),
    Connack: (PacketType.CONNACK, _encode_connack),
    Publish: (PacketType.PUBLISH, _encode_publish),
    Puback: (PacketType.PUBACK, _acknowledgement_encoder(PacketType.PUBACK, PropertyScope.PUBACK)),
    Pubrec: (PacketType.PUBREC, _acknowledgement_encoder(PacketType.PUBREC, PropertyScope.PUBREC)),
    Pubrel: (PacketType.PUBREL, _acknowledgement_encoder(PacketType.PUBREL, PropertyScope.PUBREL)),
    Pubcomp: (
        PacketType.PUBCOMP,
        _acknowledgement_encoder(PacketType.PUBCOMP, PropertyScope.PUBCOMP),
    ),
    Subscribe: (PacketType.SUBSCRIBE, _encode_subscribe),
    Suback: (PacketType.SUBACK, _encode_suback),
    Unsubscribe: (PacketType.UNSUBSCRIBE, _encode_unsubscribe),
    Unsuback: (PacketType.UNSUBACK, _encode_unsuback),
    Pingreq: (PacketType.PINGREQ, _encode_empty),
    Pingresp: (PacketType.PINGRESP, _encode_empty),
    Disconnect: (PacketType.DISCONNECT, _reason_and_properties_encoder(PacketType.DISCONNECT)),
    Auth: (PacketType.AUTH, _reason_and_properties_encoder(PacketType.AUTH)),
}
