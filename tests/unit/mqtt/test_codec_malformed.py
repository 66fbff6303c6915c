"""Every malformed input raises MalformedPacket with the right reason code, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridlinks.mqtt.protocol.codec import PacketDecoder, decode_packet, encode
from gridlinks.mqtt.protocol.packets import (
    Connect,
    MalformedPacket,
    Packet,
    PacketTooLarge,
    Publish,
    ReasonCode,
    UnsupportedProtocolVersion,
)

from .strategies import levelled_packets

MALFORMED = 0x81
PROTOCOL_ERROR = 0x82

# (description, hex bytes, protocol level, expected reason code)
MALFORMED_CASES = [
    ("reserved packet type 0", "0000", 4, MALFORMED),
    ("AUTH below MQTT 5", "f000", 4, MALFORMED),
    ("PUBREL with flags 0", "60020001", 4, MALFORMED),
    ("SUBSCRIBE with flags 0", "8006000100016100", 4, MALFORMED),
    ("UNSUBSCRIBE with flags 0", "a0050001000161", 4, MALFORMED),
    ("PINGREQ with flags", "c100", 4, MALFORMED),
    ("PUBLISH with QoS 3", "36050001610001", 4, MALFORMED),
    ("PUBLISH with DUP and QoS 0", "3803000161", 4, MALFORMED),
    ("PUBLISH with packet id 0", "32050001610000", 4, MALFORMED),
    ("PUBACK with packet id 0", "40020000", 4, MALFORMED),
    ("PUBLISH to a wildcard topic", "300300012b", 4, PROTOCOL_ERROR),
    ("PUBLISH to an empty topic", "30020000", 4, PROTOCOL_ERROR),
    ("topic that is not UTF-8", "30040002c328", 4, MALFORMED),
    ("topic with U+0000", "3003000100", 4, MALFORMED),
    ("topic with an encoded surrogate", "30050003eda080", 4, MALFORMED),
    ("remaining length over 4 bytes", "30ffffffff7f", 4, MALFORMED),
    ("remaining length not minimal", "c08000", 4, MALFORMED),
    ("PINGREQ with a trailing byte", "c00100", 4, MALFORMED),
    ("PUBACK cut short", "400100", 4, MALFORMED),
    ("SUBSCRIBE without topic filters", "82020001", 4, PROTOCOL_ERROR),
    ("SUBSCRIBE with reserved option bits below MQTT 5", "8206000100016104", 4, MALFORMED),
    ("SUBSCRIBE with QoS 3", "8206000100016103", 4, MALFORMED),
    ("SUBSCRIBE with retain handling 3", "820700010000016130", 5, MALFORMED),
    ("SUBSCRIBE with '#' not last", "820800010003232f6100", 4, PROTOCOL_ERROR),
    ("SUBSCRIBE with '+' inside a level", "820700010002612b00", 4, PROTOCOL_ERROR),
    ("UNSUBSCRIBE without topic filters", "a2020001", 4, PROTOCOL_ERROR),
    ("SUBACK with return code 3 below MQTT 5", "9003000103", 4, MALFORMED),
    ("SUBACK without codes", "90020001", 4, PROTOCOL_ERROR),
    ("CONNACK with reserved flags", "20020200", 4, MALFORMED),
    ("CONNACK with return code 6", "20020006", 4, MALFORMED),
    ("MQTT 5 CONNACK with a 3.1.1 code", "2003000500", 5, MALFORMED),
    ("refused CONNACK with session present", "20020104", 4, PROTOCOL_ERROR),
    ("MQTT 5 CONNACK without its property length", "20020000", 5, MALFORMED),
    ("duplicate payload format indicator", "30080001610401010101", 5, PROTOCOL_ERROR),
    ("session expiry in PUBLISH", "3009000161051100000001", 5, PROTOCOL_ERROR),
    ("unknown property identifier", "3006000161020500", 5, MALFORMED),
    ("payload format indicator 2", "3006000161020102", 5, PROTOCOL_ERROR),
    ("topic alias 0", "300700016103230000", 5, PROTOCOL_ERROR),
    ("property length beyond the packet", "300400016105", 5, MALFORMED),
    ("PUBACK with an unknown reason code", "4003000101", 5, MALFORMED),
    ("DISCONNECT with a CONNACK-only reason", "e0018c", 5, MALFORMED),
]


@pytest.mark.parametrize(
    ("wire", "level", "reason_code"),
    [case[1:] for case in MALFORMED_CASES],
    ids=[case[0] for case in MALFORMED_CASES],
)
def test_malformed_packet_is_refused_with_its_reason_code(
    wire: str, level: int, reason_code: int
) -> None:
    with pytest.raises(MalformedPacket) as refused:
        decode_packet(bytes.fromhex(wire), level)
    assert refused.value.reason_code == reason_code


def connect_wire(flags: int, payload_hex: str, level: int = 4) -> bytes:
    header = bytes.fromhex("00044d515454") + bytes((level, flags)) + b"\x00\x3c"
    body = header + bytes.fromhex(payload_hex)
    return bytes((0x10, len(body))) + body


@pytest.mark.parametrize(
    ("flags", "payload_hex"),
    [
        (0x03, "000161"),  # reserved bit set
        (0x0A, "000161"),  # will QoS without a will
        (0x22, "000161"),  # will retain without a will
        (0x1E, "0001610001740000"),  # will QoS 3
        (0x42, "00016100027077"),  # password without user name (3.1.1)
        (0x82, "000161"),  # user name flag without a user name
    ],
)
def test_connect_with_inconsistent_flags_is_malformed(flags: int, payload_hex: str) -> None:
    with pytest.raises(MalformedPacket) as refused:
        decode_packet(connect_wire(flags, payload_hex))
    assert refused.value.reason_code == MALFORMED


def test_mqtt_5_connect_may_carry_a_password_without_a_user_name() -> None:
    packet = decode_packet(connect_wire(0x42, "0000016100027077", level=5))
    assert packet == Connect("a", 5, True, 60, password=b"pw")


def test_connect_of_an_unknown_level_is_an_unsupported_protocol_version() -> None:
    with pytest.raises(UnsupportedProtocolVersion) as refused:
        decode_packet(connect_wire(0x02, "000161", level=6))
    assert refused.value.reason_code == ReasonCode.UNSUPPORTED_PROTOCOL_VERSION


def test_connect_with_an_unknown_protocol_name_is_a_protocol_error() -> None:
    body = bytes.fromhex("0004585858580402003c000161")
    with pytest.raises(MalformedPacket) as refused:
        decode_packet(bytes((0x10, len(body))) + body)
    assert refused.value.reason_code == PROTOCOL_ERROR


def test_server_decoder_refuses_a_first_packet_other_than_connect() -> None:
    with pytest.raises(MalformedPacket) as refused:
        PacketDecoder().feed(bytes.fromhex("c000"))
    assert refused.value.reason_code == PROTOCOL_ERROR


def test_oversized_packet_is_refused_as_soon_as_its_length_is_known() -> None:
    decoder = PacketDecoder(4, max_packet_bytes=100)
    with pytest.raises(PacketTooLarge) as refused:
        decoder.feed(bytes.fromhex("30e807"))  # 1000 bytes announced, none sent
    assert refused.value.reason_code == ReasonCode.PACKET_TOO_LARGE


def test_packet_of_exactly_the_maximum_size_is_accepted() -> None:
    wire = encode(Publish("t", b"x" * 10), 4)
    assert PacketDecoder(4, max_packet_bytes=len(wire)).feed(wire) == [Publish("t", b"x" * 10)]


def test_encoder_refuses_what_the_decoder_would_refuse() -> None:
    for packet, level in [
        (Publish("a/+"), 4),
        (Publish("a", qos=1), 4),
        (Publish("a", properties=((0x11, 1),)), 5),
        (Publish("a", properties=((0x01, 1),)), 4),
        (Connect("a", 4, password=b"pw"), 4),
        (Connect("a", 4), 5),
    ]:
        with pytest.raises(MalformedPacket):
            encode(packet, level)


def decode_or_refuse(data: bytes, level: int | None) -> list[Packet]:
    """Decode ``data``; a refusal must be MalformedPacket, and what decodes must re-encode."""
    decoder = PacketDecoder(level)
    try:
        packets = decoder.feed(data)
    except MalformedPacket:
        return []
    for packet in packets:
        packet_level = decoder.protocol_level or 4
        assert decode_packet(encode(packet, packet_level), packet_level) == packet
    return packets


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([None, 3, 4, 5]))
def test_random_bytes_decode_or_raise_malformed_packet(data: bytes, level: int | None) -> None:
    decode_or_refuse(data, level)


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[bytes, int]:
    level, packets = draw(levelled_packets)
    stream = bytearray(b"".join(encode(packet, level) for packet in packets))
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, stream)
    return bytes(stream), level


def _mutate(draw: st.DrawFn, stream: bytearray) -> None:
    position = draw(st.integers(0, max(len(stream) - 1, 0)))
    mutation = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
    if mutation == "insert" or not stream:
        stream.insert(position, draw(st.integers(0, 255)))
    elif mutation == "flip":
        stream[position] ^= draw(st.integers(1, 255))
    elif mutation == "delete":
        del stream[position]
    else:
        del stream[position:]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_streams())
def test_mutated_valid_encodings_decode_or_raise_malformed_packet(
    mutated: tuple[bytes, int],
) -> None:
    data, level = mutated
    decode_or_refuse(data, level)
