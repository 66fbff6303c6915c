"""Hypothesis strategies for valid MQTT packets at protocol levels 3, 4 and 5."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from hypothesis import strategies as st

from gridlinks.mqtt.protocol.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    PacketType,
    Pingreq,
    Pingresp,
    Properties,
    PropertyValue,
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
from gridlinks.mqtt.protocol.properties import (
    BOOLEAN_PROPERTIES,
    NONZERO_PROPERTIES,
    PROPERTY_SCOPES,
    PROPERTY_TYPES,
    PropertyId,
    PropertyScope,
    PropertyType,
)
from gridlinks.mqtt.protocol.rules import LEGACY_REASON_CODES, V5_REASON_CODES

LEVELS = (3, 4, 5)

mqtt_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)
topic_level = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00/+#"), max_size=6
)
topic_names = st.lists(topic_level, min_size=1, max_size=4).map("/".join).filter(bool)
topic_filters = st.builds(
    lambda levels, multi: "/".join([*levels, "#"] if multi else levels),
    st.lists(st.one_of(st.just("+"), topic_level), min_size=1, max_size=4),
    st.booleans(),
).filter(bool)
packet_ids = st.integers(1, 0xFFFF)
payloads = st.binary(max_size=40)


@cache
def property_values(property_id: PropertyId) -> st.SearchStrategy[PropertyValue]:
    lowest = 1 if property_id in NONZERO_PROPERTIES else 0
    if property_id in BOOLEAN_PROPERTIES:
        return st.integers(0, 1)
    by_type: dict[PropertyType, st.SearchStrategy[PropertyValue]] = {
        PropertyType.BYTE: st.integers(lowest, 0xFF),
        PropertyType.TWO_BYTE_INT: st.integers(lowest, 0xFFFF),
        PropertyType.FOUR_BYTE_INT: st.integers(lowest, 0xFFFF_FFFF),
        PropertyType.VARIABLE_BYTE_INT: st.integers(lowest, 268_435_455),
        PropertyType.UTF8: mqtt_text,
        PropertyType.UTF8_PAIR: st.tuples(mqtt_text, mqtt_text),
        PropertyType.BINARY: st.binary(max_size=12),
    }
    return by_type[PROPERTY_TYPES[property_id]]


@cache
def _property_choices(scope: PropertyScope) -> st.SearchStrategy[list[PropertyId]]:
    allowed = [
        p for p in PropertyId if scope in PROPERTY_SCOPES[p] and p != PropertyId.USER_PROPERTY
    ]
    return st.lists(st.sampled_from(allowed), unique=True, max_size=4) if allowed else st.just([])


@st.composite
def _v5_properties(draw: st.DrawFn, scope: PropertyScope) -> Properties:
    allowed = [
        p for p in PropertyId if scope in PROPERTY_SCOPES[p] and p != PropertyId.USER_PROPERTY
    ]
    chosen = draw(st.lists(st.sampled_from(allowed), unique=True, max_size=4)) if allowed else []
    users = draw(st.integers(0, 2)) * [PropertyId.USER_PROPERTY]
    ids = draw(st.permutations([*chosen, *users]))
    return tuple((int(p), draw(property_values(p))) for p in ids)


def properties(scope: PropertyScope, level: int) -> st.SearchStrategy[Properties]:
    return _v5_properties(scope) if level == 5 else st.just(())


def reason_codes(packet_type: PacketType, level: int) -> st.SearchStrategy[int]:
    table = V5_REASON_CODES if level == 5 else LEGACY_REASON_CODES
    return st.sampled_from(sorted(table.get(packet_type, frozenset({0}))))


def wills(level: int) -> st.SearchStrategy[Will]:
    return st.builds(
        Will,
        topic_names,
        payloads,
        st.integers(0, 2),
        st.booleans(),
        properties(PropertyScope.WILL, level),
    )


@st.composite
def connects(draw: st.DrawFn, level: int) -> Connect:
    username = draw(st.none() | mqtt_text)
    may_have_password = username is not None or level == 5
    return Connect(
        client_id=draw(mqtt_text),
        protocol_level=level,
        clean_start=draw(st.booleans()),
        keep_alive_seconds=draw(st.integers(0, 0xFFFF)),
        username=username,
        password=draw(st.none() | st.binary(max_size=12)) if may_have_password else None,
        will=draw(st.none() | wills(level)),
        properties=draw(properties(PropertyScope.CONNECT, level)),
    )


@st.composite
def connacks(draw: st.DrawFn, level: int) -> Connack:
    reason_code = draw(reason_codes(PacketType.CONNACK, level))
    session_present = draw(st.booleans()) and reason_code == 0
    return Connack(session_present, reason_code, draw(properties(PropertyScope.CONNACK, level)))


@st.composite
def publishes(draw: st.DrawFn, level: int) -> Publish:
    qos = draw(st.integers(0, 2))
    return Publish(
        topic=draw(topic_names),
        payload=draw(payloads),
        qos=qos,
        retain=draw(st.booleans()),
        dup=draw(st.booleans()) and qos > 0,
        packet_id=draw(packet_ids) if qos else None,
        properties=draw(properties(PropertyScope.PUBLISH, level)),
    )


def acknowledgements(
    packet_class: type[Puback | Pubrec | Pubrel | Pubcomp], packet_type: PacketType
) -> Callable[[int], st.SearchStrategy[Packet]]:
    def strategy(level: int) -> st.SearchStrategy[Packet]:
        scope = PropertyScope(packet_type.name)
        codes = reason_codes(packet_type, level)
        return st.builds(packet_class, packet_ids, codes, properties(scope, level))

    return strategy


def subscriptions(level: int) -> st.SearchStrategy[Subscription]:
    if level < 5:
        return st.builds(Subscription, topic_filters, st.integers(0, 2))
    return st.builds(
        Subscription,
        topic_filters,
        st.integers(0, 2),
        st.booleans(),
        st.booleans(),
        st.integers(0, 2),
    )


def subscribes(level: int) -> st.SearchStrategy[Packet]:
    return st.builds(
        Subscribe,
        packet_ids,
        st.lists(subscriptions(level), min_size=1, max_size=4).map(tuple),
        properties(PropertyScope.SUBSCRIBE, level),
    )


def subacks(level: int) -> st.SearchStrategy[Packet]:
    codes = st.lists(reason_codes(PacketType.SUBACK, level), min_size=1, max_size=4).map(tuple)
    return st.builds(Suback, packet_ids, codes, properties(PropertyScope.SUBACK, level))


def unsubscribes(level: int) -> st.SearchStrategy[Packet]:
    filters = st.lists(topic_filters, min_size=1, max_size=4).map(tuple)
    return st.builds(Unsubscribe, packet_ids, filters, properties(PropertyScope.UNSUBSCRIBE, level))


def unsubacks(level: int) -> st.SearchStrategy[Packet]:
    if level < 5:
        return st.builds(Unsuback, packet_ids)
    codes = st.lists(reason_codes(PacketType.UNSUBACK, 5), min_size=1, max_size=4).map(tuple)
    return st.builds(Unsuback, packet_ids, codes, properties(PropertyScope.UNSUBACK, 5))


def disconnects(level: int) -> st.SearchStrategy[Packet]:
    if level < 5:
        return st.just(Disconnect())
    codes = reason_codes(PacketType.DISCONNECT, 5)
    return st.builds(Disconnect, codes, properties(PropertyScope.DISCONNECT, 5))


def auths(level: int) -> st.SearchStrategy[Packet]:
    codes = reason_codes(PacketType.AUTH, 5)
    return st.builds(Auth, codes, properties(PropertyScope.AUTH, 5))


PACKET_STRATEGIES: dict[str, Callable[[int], st.SearchStrategy[Packet]]] = {
    "CONNECT": connects,
    "CONNACK": connacks,
    "PUBLISH": publishes,
    "PUBACK": acknowledgements(Puback, PacketType.PUBACK),
    "PUBREC": acknowledgements(Pubrec, PacketType.PUBREC),
    "PUBREL": acknowledgements(Pubrel, PacketType.PUBREL),
    "PUBCOMP": acknowledgements(Pubcomp, PacketType.PUBCOMP),
    "SUBSCRIBE": subscribes,
    "SUBACK": subacks,
    "UNSUBSCRIBE": unsubscribes,
    "UNSUBACK": unsubacks,
    "PINGREQ": lambda level: st.just(Pingreq()),
    "PINGRESP": lambda level: st.just(Pingresp()),
    "DISCONNECT": disconnects,
    "AUTH": auths,
}

# (packet type name, protocol level) for every packet type at every level where it exists.
PACKET_TYPES_AT_LEVELS = [
    (name, level) for name in PACKET_STRATEGIES for level in LEVELS if name != "AUTH" or level == 5
]


@cache
def packets_at(level: int) -> st.SearchStrategy[Packet]:
    """Any valid packet that exists at ``level``."""
    return st.one_of(
        [
            strategy(level)
            for name, strategy in PACKET_STRATEGIES.items()
            if (name, level) in PACKET_TYPES_AT_LEVELS
        ]
    )


levelled_packets = st.one_of(
    [
        st.tuples(st.just(level), st.lists(packets_at(level), min_size=1, max_size=3))
        for level in LEVELS
    ]
)
