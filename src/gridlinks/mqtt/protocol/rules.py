"""Per-packet rules shared by the decoder and the encoder: names, flags, allowed reason codes."""

from __future__ import annotations

from collections.abc import Iterable

from gridlinks.mqtt.protocol.packets import MalformedPacket, PacketType, protocol_error

PROTOCOL_NAMES: dict[int, str] = {3: "MQIsdp", 4: "MQTT", 5: "MQTT"}

# Fixed-header flags every packet type but PUBLISH must carry exactly (others carry 0).
REQUIRED_FLAGS: dict[PacketType, int] = {
    PacketType.PUBREL: 0b0010,
    PacketType.SUBSCRIBE: 0b0010,
    PacketType.UNSUBSCRIBE: 0b0010,
}

_ACKNOWLEDGEMENT_CODES = frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99})
_RELEASE_CODES = frozenset({0x00, 0x92})

# Reason codes each packet type may carry at level 5 (spec §3.x.2.1).
V5_REASON_CODES: dict[PacketType, frozenset[int]] = {
    PacketType.CONNACK: frozenset(
        {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C}
        | {0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}
    ),
    PacketType.PUBACK: _ACKNOWLEDGEMENT_CODES,
    PacketType.PUBREC: _ACKNOWLEDGEMENT_CODES,
    PacketType.PUBREL: _RELEASE_CODES,
    PacketType.PUBCOMP: _RELEASE_CODES,
    PacketType.SUBACK: frozenset(
        {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2}
    ),
    PacketType.UNSUBACK: frozenset({0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}),
    PacketType.DISCONNECT: frozenset(
        {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93}
        | {0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0}
        | {0xA1, 0xA2}
    ),
    PacketType.AUTH: frozenset({0x00, 0x18, 0x19}),
}

# Below level 5 only CONNACK (return codes 0-5) and SUBACK (granted QoS or 0x80) carry codes.
LEGACY_REASON_CODES: dict[PacketType, frozenset[int]] = {
    PacketType.CONNACK: frozenset(range(6)),
    PacketType.SUBACK: frozenset({0x00, 0x01, 0x02, 0x80}),
}


def validate_reason_code(packet_type: PacketType, reason_code: int, level: int) -> None:
    """Refuse a reason code ``packet_type`` cannot carry at protocol ``level``."""
    table = V5_REASON_CODES if level == 5 else LEGACY_REASON_CODES
    if reason_code not in table.get(packet_type, frozenset({0})):
        raise MalformedPacket(f"{packet_type.name} cannot carry reason code {reason_code:#04x}")


def validate_reason_codes(packet_type: PacketType, reason_codes: Iterable[int], level: int) -> None:
    """Refuse an empty list or any code ``packet_type`` cannot carry."""
    codes = tuple(reason_codes)
    if not codes:
        raise protocol_error(f"{packet_type.name} has no reason codes")
    for reason_code in codes:
        validate_reason_code(packet_type, reason_code, level)
