"""Pure parts of the outbound path: topic filter matching, granted QoS per topic, and the
in-flight table of QoS 1 messages the server sent."""

from __future__ import annotations

import pytest

from gridlinks.mqtt.thingsboard.subscriptions import Subscriptions, filter_matches
from gridlinks.mqtt.transport.in_flight import MAX_PACKET_ID, InFlight


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("v1/devices/me/rpc/request/+", "v1/devices/me/rpc/request/7", True),
        ("v1/devices/me/rpc/request/+", "v1/devices/me/rpc/request/7/x", False),
        ("v1/devices/me/rpc/request/+", "v1/devices/me/rpc/request", False),
        ("v1/devices/me/#", "v1/devices/me/rpc/request/7", True),
        ("v1/devices/me/#", "v1/devices/me", True),
        ("v1/+/me/attributes", "v1/devices/me/attributes", True),
        ("v1/devices/me/attributes", "v1/devices/me/attributes", True),
        ("v1/devices/me/attributes", "v1/devices/me/attributes/response/1", False),
        ("v1/gateway/rpc", "v1/devices/me/rpc/request/1", False),
        ("#", "anything/at/all", True),
    ],
)
def test_a_filter_matches_topics_as_mqtt_says(topic_filter: str, topic: str, matches: bool) -> None:
    assert filter_matches(topic_filter, topic) is matches


def test_the_highest_granted_qos_of_the_matching_filters_applies() -> None:
    subscriptions = Subscriptions()
    subscriptions.add("v1/devices/me/#", 0)
    subscriptions.add("v1/devices/me/rpc/request/+", 1)
    assert subscriptions.qos_for("v1/devices/me/rpc/request/3") == 1
    assert subscriptions.qos_for("v1/devices/me/attributes") == 0
    assert subscriptions.qos_for("v1/gateway/rpc") is None
    assert subscriptions.remove("v1/devices/me/#") and not subscriptions.remove("never")
    assert subscriptions.qos_for("v1/devices/me/attributes") is None


def test_packet_ids_are_not_reused_while_in_flight_and_wrap_around() -> None:
    in_flight = InFlight()
    first = in_flight.add(None)
    ids = {in_flight.add(None) for _ in range(MAX_PACKET_ID - 1)}
    assert first == 1 and len(ids) == MAX_PACKET_ID - 1 and first not in ids
    assert in_flight.add(None) is None  # every id is in flight
    assert in_flight.acknowledged(1) == (True, None)
    assert in_flight.add(None) == 1


def test_no_more_than_the_clients_receive_maximum_are_in_flight() -> None:
    in_flight = InFlight(receive_maximum=2)
    assert in_flight.add(None) == 1 and in_flight.add(None) == 2
    assert in_flight.add(None) is None
    assert in_flight.acknowledged(2) == (True, None)
    assert in_flight.acknowledged(2) == (False, None)  # a second PUBACK releases nothing
    assert in_flight.add(None) == 3
