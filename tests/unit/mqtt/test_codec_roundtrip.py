"""The MQTT codec decodes what it encodes, and reads what real clients send byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridlinks.mqtt.protocol.codec import PacketDecoder, decode_packet, encode
from gridlinks.mqtt.protocol.packets import (
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Publish,
    Subscribe,
    Subscription,
)
from gridlinks.mqtt.protocol.properties import PropertyId

from .strategies import PACKET_STRATEGIES, PACKET_TYPES_AT_LEVELS, levelled_packets


def roundtrip(packet: Packet, level: int) -> Packet:
    return decode_packet(encode(packet, level), level)


@pytest.mark.parametrize(("packet_type", "level"), PACKET_TYPES_AT_LEVELS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_packet_type_decodes_to_what_was_encoded_at_every_level(
    packet_type: str, level: int, data: st.DataObject
) -> None:
    packet = data.draw(PACKET_STRATEGIES[packet_type](level))
    assert roundtrip(packet, level) == packet


@settings(max_examples=300, deadline=None)
@given(levelled_packets)
def test_a_stream_fed_byte_by_byte_yields_the_same_packets(
    levelled: tuple[int, list[Packet]],
) -> None:
    level, packets = levelled
    decoder = PacketDecoder(level)
    stream = b"".join(encode(packet, level) for packet in packets)
    decoded = [
        packet for index in range(len(stream)) for packet in decoder.feed(stream[index : index + 1])
    ]
    assert decoded == packets
    assert decoder.buffered_bytes == 0


def test_a_server_decoder_learns_the_protocol_level_from_connect() -> None:
    decoder = PacketDecoder()
    stream = encode(Connect("dev", 5), 5) + encode(Disconnect(0x04), 5)
    assert decoder.feed(stream) == [Connect("dev", 5), Disconnect(0x04)]
    assert decoder.protocol_level == 5


def test_mqtt_311_connect_with_user_name_only_decodes_as_paho_sends_it() -> None:
    wire = bytes.fromhex("101300044d5154540482003c0000000574656b656e")
    assert decode_packet(wire) == Connect("", 4, True, 60, username="teken")


def test_mqtt_31_connect_uses_the_mqisdp_protocol_name() -> None:
    wire = bytes.fromhex("101100064d51497364700302003c0003616263")
    assert decode_packet(wire) == Connect("abc", 3, True, 60)
    assert encode(Connect("abc", 3, True, 60), 3) == wire


def test_mqtt_5_connect_as_tb_mqtt_client_sends_it() -> None:
    token = b"A1_TEST_TOKEN"
    wire = bytes.fromhex("101c00044d51545405820078000000000d") + token
    assert decode_packet(wire) == Connect("", 5, True, 120, username=token.decode())
    assert encode(Connect("", 5, True, 120, username=token.decode()), 5) == wire


def test_tb_mqtt_client_reconnect_with_clean_start_0_and_empty_client_id_decodes() -> None:
    wire = bytes.fromhex("101200044d5154540580007800000000036b6579")
    assert decode_packet(wire) == Connect("", 5, False, 120, username="key")


def test_mqtt_5_connack_carries_an_empty_property_length() -> None:
    assert encode(Connack(), 5) == bytes.fromhex("2003000000")


def test_mqtt_311_connack_is_two_bytes() -> None:
    assert encode(Connack(False, 4), 4) == bytes.fromhex("20020004")


def test_pingreq_and_pingresp_are_two_bytes() -> None:
    assert decode_packet(bytes.fromhex("c000"), 4) == Pingreq()
    assert encode(Pingresp(), 5) == bytes.fromhex("d000")


def test_tb_mqtt_client_subscribe_decodes_with_qos_1_options() -> None:
    topic = b"v1/devices/me/attributes"
    wire = bytes.fromhex("821e0001000018") + topic + b"\x01"
    expected = Subscribe(1, (Subscription(topic.decode(), 1),))
    assert decode_packet(wire, 5) == expected
    assert encode(expected, 5) == wire


def test_mqtt_5_puback_with_success_and_no_properties_is_just_the_packet_id() -> None:
    assert encode(Puback(7), 5) == bytes.fromhex("40020007")
    assert decode_packet(bytes.fromhex("4003000700"), 5) == Puback(7)


def test_mqtt_5_disconnect_without_reason_is_two_bytes() -> None:
    assert encode(Disconnect(), 5) == bytes.fromhex("e000")


def test_server_publish_at_level_5_carries_a_property_length() -> None:
    publish = Publish("v1/devices/me/rpc/request/1", b"{}", qos=1, packet_id=2)
    wire = encode(publish, 5)
    assert wire[-3:] == b"\x00{}"
    assert roundtrip(publish, 5) == publish


def test_user_properties_may_repeat_and_keep_their_order() -> None:
    user = int(PropertyId.USER_PROPERTY)
    publish = Publish("t", properties=((user, ("a", "1")), (user, ("a", "2"))))
    assert roundtrip(publish, 5) == publish
