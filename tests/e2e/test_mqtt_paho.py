"""A plain MQTT client - the paho fork installed with tb-mqtt-client - at every protocol level
(3.1, 3.1.1, 5) against a real ``gridlinks serve``: device topics, QoS 0/1/2, attribute
requests, claims, CONNACK refusals and the MQTT 5 reason codes of refused messages.

A QoS 1 or 2 message is acknowledged only once it is durably stored, so after the
acknowledgement the REST reads below need no polling.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    claim,
    create_device,
    ok,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    ATTRIBUTE_REQUEST_TOPIC,
    ATTRIBUTE_RESPONSE_TOPIC,
    ATTRIBUTES_TOPIC,
    CLAIM_TOPIC,
    PROTOCOLS,
    TELEMETRY_TOPIC,
    attributes,
    connected_paho,
    new_paho,
    owner_id,
    paho_session,
    points_between,
    save_attributes,
    server_log_has,
    timeseries,
    wait_for_latest,
    wait_until,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

PAYLOAD_FORMAT_INVALID = 0x99
TOPIC_NAME_INVALID = 0x90
BAD_USER_NAME_OR_PASSWORD = 134
NOT_AUTHORIZED = 135


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def new_device(tenancy: ClaimingTenancy, prefix: str = "Meter") -> tuple[str, str, str]:
    """(name, token, device id) of a new unassigned device."""
    name, token = unique(prefix), unique_token()
    return name, token, create_device(tenancy.admin, name, token)["id"]["id"]


@pytest.mark.parametrize("level", ["3.1", "3.1.1", "5"])
def test_device_topics_at_every_protocol_level(
    server: Server, tenancy: ClaimingTenancy, level: str
) -> None:
    name, token, device_id = new_device(tenancy)
    admin = tenancy.admin

    with connected_paho(server.mqtt_address, token, PROTOCOLS[level]) as device:
        assert device.publish_json(TELEMETRY_TOPIC, {"qos0": 1}, qos=0) is None
        reason = device.publish_json(TELEMETRY_TOPIC, {"qos1": 2.5}, qos=1)
        assert reason is not None and not reason.is_failure
        # Acknowledged after storage: readable at once.
        assert timeseries(admin, device_id, ["qos1"])["qos1"][0]["value"] == "2.5"

        assert not device.publish_json(ATTRIBUTES_TOPIC, {"fw": "2.1", "on": True}).is_failure
        assert attributes(admin, device_id, "CLIENT_SCOPE") == {"fw": "2.1", "on": True}

        save_attributes(admin, device_id, "SHARED_SCOPE", {"interval": 30})
        device.subscribe(ATTRIBUTE_RESPONSE_TOPIC + "+")
        request = {"clientKeys": "fw", "sharedKeys": "interval"}
        device.publish_json(ATTRIBUTE_REQUEST_TOPIC + "7", request)
        answer = device.message_on(ATTRIBUTE_RESPONSE_TOPIC + "7")
        assert json.loads(answer.payload) == {"client": {"fw": "2.1"}, "shared": {"interval": 30}}

        claimed_window = {"secretKey": f"key-{level}", "durationMs": 60_000}
        assert not device.publish_json(CLAIM_TOPIC, claimed_window).is_failure

    wait_for_latest(admin, device_id, {"qos0": "1"})  # QoS 0 has no acknowledgement to wait for
    response = claim(tenancy.buyer.client, name, {"secretKey": f"key-{level}"})
    assert response.status_code == 200, response.text
    assert response.json()["response"] == "SUCCESS"
    assert owner_id(admin, device_id) == tenancy.buyer.customer_id


def test_refused_messages_carry_reason_codes_at_level_5_and_are_dropped_below(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    _, token5, device5 = new_device(tenancy)
    _, token3, device3 = new_device(tenancy)

    with connected_paho(server.mqtt_address, token5, mqtt.MQTTv5) as device:
        malformed = device.publish(TELEMETRY_TOPIC, b'{"temperature": 2')
        assert malformed is not None and malformed.value == PAYLOAD_FORMAT_INVALID
        wrong_form = device.publish(TELEMETRY_TOPIC, b"[1, 2]")
        assert wrong_form is not None and wrong_form.value == PAYLOAD_FORMAT_INVALID
        unknown = device.publish(TELEMETRY_TOPIC.replace("telemetry", "nonsense"), b"{}")
        assert unknown is not None and unknown.value == TOPIC_NAME_INVALID
        attributes_list = device.publish(ATTRIBUTES_TOPIC, b"[1]")
        assert attributes_list is not None and attributes_list.value == PAYLOAD_FORMAT_INVALID
        # The connection stays usable after refusals.
        good = device.publish_json(TELEMETRY_TOPIC, {"after": 5})
        assert good is not None and not good.is_failure
        assert device.disconnects == []
    assert timeseries(tenancy.admin, device5, ["temperature", "after"]) == {
        "after": [{"ts": pytest.approx(time.time() * 1000, abs=60_000), "value": "5"}]
    }

    with connected_paho(server.mqtt_address, token3, mqtt.MQTTv311) as device:
        # MQTT 3.1.1 has no way to say no: acknowledged, dropped, logged.
        malformed = device.publish(TELEMETRY_TOPIC, b'{"temperature": 2')
        assert malformed is not None and not malformed.is_failure
        good = device.publish_json(TELEMETRY_TOPIC, {"after": 3})
        assert good is not None and not good.is_failure
        assert device.disconnects == []
    assert set(timeseries(tenancy.admin, device3, ["temperature", "after"])) == {"after"}
    assert server_log_has(server, "message on 'v1/devices/me/telemetry' refused")
    assert "temperature" not in server.log_text()  # payloads are never logged


def test_qos_2_message_completes_and_is_stored_once(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    for level in ("3.1.1", "5"):
        _, token, device_id = new_device(tenancy)
        start = int(time.time() * 1000)
        with connected_paho(server.mqtt_address, token, PROTOCOLS[level]) as device:
            # No "ts": a second processing would store a second point at another time.
            reason = device.publish_json(TELEMETRY_TOPIC, {"exactlyOnce": level}, qos=2)
            assert reason is not None and not reason.is_failure
            stored = points_between(
                tenancy.admin, device_id, "exactlyOnce", start, int(time.time() * 1000)
            )
            assert [value for _, value in stored] == [level]
            # And the connection goes on at QoS 1.
            assert not device.publish_json(TELEMETRY_TOPIC, {"next": 1}).is_failure
        assert len(points_between(tenancy.admin, device_id, "exactlyOnce", 0, 2**62)) == 1


def test_connect_refusals_carry_the_right_code_at_each_level(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    for level in ("3.1", "3.1.1", "5"):
        with paho_session(new_paho(PROTOCOLS[level], unique_token()), server.mqtt_address) as d:
            assert d.connack is not None and d.connack.is_failure
            assert d.connack.getName() == "Bad user name or password"
            if level == "5":
                assert d.connack.value == BAD_USER_NAME_OR_PASSWORD
            else:  # paho maps 3.x codes to v5 names; the wire code is in its log
                assert "Received CONNACK (0, 4)" in d.log, d.log

    with paho_session(new_paho(mqtt.MQTTv5, None), server.mqtt_address) as anonymous:
        assert anonymous.connack is not None
        assert anonymous.connack.value == NOT_AUTHORIZED

    # MQTT basic credentials (client id, user name, password) instead of a token.
    _, _, device_id = new_device(tenancy)
    credentials = ok(tenancy.admin.get(f"/api/device/{device_id}/credentials"))
    basic = {"clientId": "meter-7", "userName": "meter", "password": "s3cret-pw"}
    credentials.update(credentialsType="MQTT_BASIC", credentialsValue=json.dumps(basic))
    ok(tenancy.admin.post("/api/device/credentials", json=credentials))
    for password, refused in (("s3cret-pw", False), ("wrong-pw", True)):
        client = new_paho(mqtt.MQTTv311, "meter", client_id="meter-7", password=password)
        with paho_session(client, server.mqtt_address) as device:
            assert device.connack is not None and device.connack.is_failure == refused
            if not refused:
                assert not device.publish_json(TELEMETRY_TOPIC, {"basic": 1}).is_failure
    assert timeseries(tenancy.admin, device_id, ["basic"])["basic"][0]["value"] == "1"
    assert "s3cret-pw" not in server.log_text()


def test_second_connection_of_a_device_replaces_the_first(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    _, token, device_id = new_device(tenancy)
    address = server.mqtt_address
    with (
        connected_paho(address, token, mqtt.MQTTv5) as first,
        connected_paho(address, token, mqtt.MQTTv5) as second,
    ):
        _, by_server = first.wait_for(
            lambda: first.disconnects and first.disconnects[0], "first replaced"
        )
        # The server sent DISCONNECT 0x8E; paho reads a DISCONNECT's reason code only when
        # properties follow it, so it reports "normal". The wire bytes are checked in
        # test_mqtt_robustness_e2e.py.
        assert by_server
        assert not second.publish_json(TELEMETRY_TOPIC, {"second": 2}).is_failure
        assert second.disconnects == []
    assert timeseries(tenancy.admin, device_id, ["second"])["second"][0]["value"] == "2"
    wait_until(
        lambda: server_log_has(server, "replaced by a newer connection of the same device"),
        "the takeover in the server log",
    )
