"""Sans-IO MQTT codec: bytes to packets (``PacketDecoder``), packets to bytes (``encode``).

Protocol levels 3 (MQTT 3.1), 4 (3.1.1) and 5. No I/O and no asyncio: the transport feeds
whatever bytes arrived and gets whole packets back; every malformed input raises
``MalformedPacket`` (or a subclass) and leaves the decoder unusable, because the connection
must then be closed.
"""

from __future__ import annotations

from collections.abc import Callable

from gridlinks.mqtt.protocol import wire
from gridlinks.mqtt.protocol.encoding import encode
from gridlinks.mqtt.protocol.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
    Packet,
    PacketTooLarge,
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
    UnsupportedProtocolVersion,
    Will,
    protocol_error,
)
from gridlinks.mqtt.protocol.properties import PropertyId, PropertyScope, read_properties
from gridlinks.mqtt.protocol.rules import (
    PROTOCOL_NAMES,
    REQUIRED_FLAGS,
    validate_reason_code,
    validate_reason_codes,
)
from gridlinks.mqtt.protocol.topics import validate_topic_filter, validate_topic_name

__all__ = ["MAX_PACKET_BYTES", "PacketDecoder", "decode_packet", "encode"]

# Fixed header (1 byte + 4-byte remaining length) plus the largest remaining length.
MAX_PACKET_BYTES = 1 + 4 + wire.MAX_VARIABLE_BYTE_INTEGER
_Acknowledgement = type[Puback] | type[Pubrec] | type[Pubrel] | type[Pubcomp]


class PacketDecoder:
    """Incremental decoder for one connection's byte stream.

    With ``protocol_level=None`` (a server) the first packet must be CONNECT, whose level is then
    used for the rest of the stream. A packet longer than ``max_packet_bytes`` raises
    ``PacketTooLarge`` as soon as its remaining length is known, before its body is buffered.
    """

    __slots__ = ("_buffer", "_consumed", "max_packet_bytes", "protocol_level")

    def __init__(
        self, protocol_level: int | None = None, max_packet_bytes: int = MAX_PACKET_BYTES
    ) -> None:
        self.protocol_level = protocol_level
        self.max_packet_bytes = max_packet_bytes
        self._buffer = bytearray()
        self._consumed = 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes received that do not yet make a whole packet."""
        return len(self._buffer) - self._consumed

    def feed(self, data: bytes) -> list[Packet]:
        """Buffer ``data`` and return every packet it completes, in order."""
        self._buffer += data
        packets: list[Packet] = []
        try:
            while (packet := self._next_packet()) is not None:
                packets.append(packet)
        finally:
            # Drop consumed bytes once per feed, not once per packet.
            del self._buffer[: self._consumed]
            self._consumed = 0
        return packets

    def _next_packet(self) -> Packet | None:
        start = self._consumed
        if start >= len(self._buffer):
            return None
        remaining_length, length_bytes = wire.decode_variable_byte_int(self._buffer, start + 1)
        if length_bytes is None:
            return None
        total_bytes = 1 + length_bytes + remaining_length
        if total_bytes > self.max_packet_bytes:
            raise PacketTooLarge(f"packet of {total_bytes} bytes exceeds {self.max_packet_bytes}")
        if len(self._buffer) - start < total_bytes:
            return None
        first_byte = self._buffer[start]
        body = bytes(self._buffer[start + 1 + length_bytes : start + total_bytes])
        self._consumed = start + total_bytes
        packet = decode_body(first_byte, body, self.protocol_level)
        if isinstance(packet, Connect) and self.protocol_level is None:
            self.protocol_level = packet.protocol_level
        return packet


def decode_packet(data: bytes, protocol_level: int | None = None) -> Packet:
    """Decode ``data`` holding exactly one whole packet."""
    decoder = PacketDecoder(protocol_level)
    packets = decoder.feed(data)
    if len(packets) != 1 or decoder.buffered_bytes:
        raise MalformedPacket("expected exactly one whole packet")
    return packets[0]


def decode_body(first_byte: int, body: bytes, protocol_level: int | None) -> Packet:
    """Decode one packet from its first byte and its body (after the remaining length)."""
    packet_type = _packet_type(first_byte >> 4, protocol_level)
    flags = first_byte & 0x0F
    if packet_type is not PacketType.PUBLISH and flags != REQUIRED_FLAGS.get(packet_type, 0):
        raise MalformedPacket(f"{packet_type.name} has invalid fixed header flags {flags:#06b}")
    reader = wire.Reader(body)
    if packet_type is PacketType.CONNECT:
        packet: Packet = _decode_connect(reader)
    elif protocol_level is None:
        raise protocol_error("the first packet must be CONNECT")
    else:
        packet = _DECODERS[packet_type](reader, flags, protocol_level)
    reader.expect_end()
    return packet


def _packet_type(value: int, protocol_level: int | None) -> PacketType:
    if value == 0 or (value == PacketType.AUTH and protocol_level != 5):
        raise MalformedPacket(f"reserved packet type {value}")
    return PacketType(value)


def _decode_connect(reader: wire.Reader) -> Connect:
    level = _protocol_level(reader.utf8(), reader.byte())
    flags = reader.byte()
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag is set")
    keep_alive_seconds = reader.two_byte_int()
    properties = _read_v5_properties(reader, PropertyScope.CONNECT, level)
    client_id = reader.utf8()
    will = _read_will(reader, flags, level)
    username = reader.utf8() if flags & 0x80 else None
    if flags & 0x40 and username is None and level < 5:
        raise MalformedPacket("CONNECT has a password without a user name")
    password = reader.binary() if flags & 0x40 else None
    clean_start = bool(flags & 0x02)
    return Connect(
        client_id, level, clean_start, keep_alive_seconds, username, password, will, properties
    )


def _protocol_level(name: str, level: int) -> int:
    if name not in PROTOCOL_NAMES.values():
        raise protocol_error(f"unknown protocol name {name[:16]!r}")
    if PROTOCOL_NAMES.get(level) != name:
        raise UnsupportedProtocolVersion(f"unsupported protocol {name} level {level}")
    return level


def _read_will(reader: wire.Reader, flags: int, level: int) -> Will | None:
    qos, retain = (flags >> 3) & 0x03, bool(flags & 0x20)
    if not flags & 0x04:
        if qos or retain:
            raise MalformedPacket("CONNECT has will QoS or retain without a will")
        return None
    if qos == 3:
        raise MalformedPacket("CONNECT has will QoS 3")
    properties = _read_v5_properties(reader, PropertyScope.WILL, level)
    topic = reader.utf8()
    validate_topic_name(topic)
    return Will(topic, reader.binary(), qos, retain, properties)


def _decode_connack(reader: wire.Reader, flags: int, level: int) -> Connack:
    acknowledge_flags, reason_code = reader.byte(), reader.byte()
    if acknowledge_flags & 0xFE:
        raise MalformedPacket("CONNACK reserved flags are set")
    validate_reason_code(PacketType.CONNACK, reason_code, level)
    if acknowledge_flags and reason_code:
        raise protocol_error("a refused CONNACK cannot have session present")
    properties = _read_v5_properties(reader, PropertyScope.CONNACK, level)
    return Connack(bool(acknowledge_flags), reason_code, properties)


def _decode_publish(reader: wire.Reader, flags: int, level: int) -> Publish:
    qos, dup, retain = (flags >> 1) & 0x03, bool(flags & 0x08), bool(flags & 0x01)
    if qos == 3:
        raise MalformedPacket("PUBLISH has QoS 3")
    if dup and not qos:
        raise MalformedPacket("PUBLISH has DUP set with QoS 0")
    topic = reader.utf8()
    packet_id = _read_packet_id(reader) if qos else None
    properties = _read_v5_properties(reader, PropertyScope.PUBLISH, level)
    has_alias = any(pid == PropertyId.TOPIC_ALIAS for pid, _ in properties)
    validate_topic_name(topic, may_be_empty=has_alias)
    return Publish(topic, reader.rest(), qos, retain, dup, packet_id, properties)


def _acknowledgement_decoder(
    packet_class: _Acknowledgement, packet_type: PacketType, scope: PropertyScope
) -> Callable[[wire.Reader, int, int], Packet]:
    def decode(reader: wire.Reader, flags: int, level: int) -> Packet:
        packet_id = _read_packet_id(reader)
        reason_code = reader.byte() if level == 5 and reader.remaining else 0
        validate_reason_code(packet_type, reason_code, level)
        has_properties = level == 5 and reader.remaining
        properties = read_properties(reader, scope) if has_properties else ()
        return packet_class(packet_id, reason_code, properties)

    return decode


def _decode_subscribe(reader: wire.Reader, flags: int, level: int) -> Subscribe:
    packet_id = _read_packet_id(reader)
    properties = _read_v5_properties(reader, PropertyScope.SUBSCRIBE, level)
    subscriptions: list[Subscription] = []
    while reader.remaining:
        topic_filter = reader.utf8()
        validate_topic_filter(topic_filter)
        subscriptions.append(_subscription(topic_filter, reader.byte(), level))
    if not subscriptions:
        raise protocol_error("SUBSCRIBE has no topic filters")
    return Subscribe(packet_id, tuple(subscriptions), properties)


def _subscription(topic_filter: str, options: int, level: int) -> Subscription:
    reserved_mask = 0xC0 if level == 5 else 0xFC
    if options & reserved_mask or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
        raise MalformedPacket(f"invalid subscription options {options:#04x}")
    no_local, retain_as_published = bool(options & 0x04), bool(options & 0x08)
    return Subscription(topic_filter, options & 0x03, no_local, retain_as_published, options >> 4)


def _decode_suback(reader: wire.Reader, flags: int, level: int) -> Suback:
    packet_id = _read_packet_id(reader)
    properties = _read_v5_properties(reader, PropertyScope.SUBACK, level)
    reason_codes = tuple(reader.rest())
    validate_reason_codes(PacketType.SUBACK, reason_codes, level)
    return Suback(packet_id, reason_codes, properties)


def _decode_unsubscribe(reader: wire.Reader, flags: int, level: int) -> Unsubscribe:
    packet_id = _read_packet_id(reader)
    properties = _read_v5_properties(reader, PropertyScope.UNSUBSCRIBE, level)
    topic_filters: list[str] = []
    while reader.remaining:
        topic_filters.append(reader.utf8())
        validate_topic_filter(topic_filters[-1])
    if not topic_filters:
        raise protocol_error("UNSUBSCRIBE has no topic filters")
    return Unsubscribe(packet_id, tuple(topic_filters), properties)


def _decode_unsuback(reader: wire.Reader, flags: int, level: int) -> Unsuback:
    packet_id = _read_packet_id(reader)
    if level < 5:
        return Unsuback(packet_id)
    properties = read_properties(reader, PropertyScope.UNSUBACK)
    reason_codes = tuple(reader.rest())
    validate_reason_codes(PacketType.UNSUBACK, reason_codes, level)
    return Unsuback(packet_id, reason_codes, properties)


def _decode_pingreq(reader: wire.Reader, flags: int, level: int) -> Pingreq:
    return Pingreq()


def _decode_pingresp(reader: wire.Reader, flags: int, level: int) -> Pingresp:
    return Pingresp()


def _decode_disconnect(reader: wire.Reader, flags: int, level: int) -> Disconnect:
    if level < 5:
        return Disconnect()
    reason_code, properties = _read_reason_and_properties(reader, PacketType.DISCONNECT)
    return Disconnect(reason_code, properties)


def _decode_auth(reader: wire.Reader, flags: int, level: int) -> Auth:
    reason_code, properties = _read_reason_and_properties(reader, PacketType.AUTH)
    return Auth(reason_code, properties)


def _read_reason_and_properties(
    reader: wire.Reader, packet_type: PacketType
) -> tuple[int, Properties]:
    reason_code = reader.byte() if reader.remaining else 0
    validate_reason_code(packet_type, reason_code, 5)
    scope = PropertyScope(packet_type.name)
    return reason_code, read_properties(reader, scope) if reader.remaining else ()


def _read_packet_id(reader: wire.Reader) -> int:
    packet_id = reader.two_byte_int()
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")
    return packet_id


def _read_v5_properties(reader: wire.Reader, scope: PropertyScope, level: int) -> Properties:
    return read_properties(reader, scope) if level == 5 else ()


_DECODERS: dict[PacketType, Callable[[wire.Reader, int, int], Packet]] = {
    PacketType.CONNACK: _decode_connack,
    PacketType.PUBLISH: _decode_publish,
    PacketType.PUBACK: _acknowledgement_decoder(Puback, PacketType.PUBACK, PropertyScope.PUBACK),
    PacketType.PUBREC: _acknowledgement_decoder(Pubrec, PacketType.PUBREC, PropertyScope.PUBREC),
    PacketType.PUBREL: _acknowledgement_decoder(Pubrel, PacketType.PUBREL, PropertyScope.PUBREL),
    PacketType.PUBCOMP: _acknowledgement_decoder(
        Pubcomp, PacketType.PUBCOMP, PropertyScope.PUBCOMP
    ),
    PacketType.SUBSCRIBE: _decode_subscribe,
    PacketType.SUBACK: _decode_suback,
    PacketType.UNSUBSCRIBE: _decode_unsubscribe,
    PacketType.UNSUBACK: _decode_unsuback,
    PacketType.PINGREQ: _decode_pingreq,
    PacketType.PINGRESP: _decode_pingresp,
    PacketType.DISCONNECT: _decode_disconnect,
    PacketType.AUTH: _decode_auth,
}
