"""The real, unmodified ThingsBoard device SDK (``tb_device_mqtt.TBDeviceMqttClient``, MQTT 5
only) against a real ``gridlinks serve``: what it sends is stored and read back over REST.

The SDK's ``connect()`` returns before CONNACK (the helper waits for ``is_connected()``), and
its ``.get()`` on a publish returns after at most 1 s whether or not a PUBACK came, so the
tests check the acknowledgement themselves (``acknowledged``) and the outcome over REST.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tb_device_mqtt import TBDeviceMqttClient

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
    acknowledged,
    attributes,
    connected_tb_client,
    owner_id,
    points_between,
    save_attributes,
    server_log_has,
    stop_tb_client,
    timeseries,
    wait_for_attributes,
    wait_for_latest,
    wait_until,
)
from tests.e2e.running_server import Server, StartServer

pytestmark = pytest.mark.e2e

# The SDK applies 80 % of every limit the server announces (wire contract 1.4).
SDK_SHARE = 0.8


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def test_telemetry_in_every_form_is_stored_and_read_back_over_rest(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token = unique_token()
    device_id = create_device(tenancy.admin, unique("Thermostat"), token)["id"]["id"]
    ts1 = int(time.time() * 1000) - 60_000
    ts2, ts3 = ts1 + 1000, ts1 + 2000

    with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as client:
        plain = client.send_telemetry({"temperature": 21.5, "humidity": 40})
        stamped = client.send_telemetry({"ts": ts1, "values": {"pressure": 1001}})
        listed = client.send_telemetry(
            [
                {"ts": ts2, "values": {"pressure": 1002}},
                {"ts": ts3, "values": {"pressure": 1003, "door": True}},
            ]
        )
        for info in (plain, stamped, listed):
            assert info.get() == 0
            assert acknowledged(info)

    wait_for_latest(tenancy.admin, device_id, {"temperature": "21.5", "humidity": "40"})
    latest = wait_for_latest(tenancy.admin, device_id, {"pressure": "1003", "door": "true"})
    assert latest["pressure"] == [{"ts": ts3, "value": "1003"}]
    assert points_between(tenancy.admin, device_id, "pressure", ts1, ts3) == [
        (ts1, "1001"),
        (ts2, "1002"),
        (ts3, "1003"),
    ]
    assert points_between(tenancy.admin, device_id, "pressure", ts2, ts2) == [(ts2, "1002")]
    strict = timeseries(tenancy.admin, device_id, ["pressure", "door"], useStrictDataTypes="true")
    assert strict == {
        "pressure": [{"ts": ts3, "value": 1003}],
        "door": [{"ts": ts3, "value": True}],
    }
    # A user of another customer sees nothing of a device it does not own.
    response = tenancy.other.client.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
        params={"keys": "temperature"},
    )
    assert response.status_code in (403, 404), response.text


def test_client_attributes_are_stored_and_attribute_requests_answered(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token = unique_token()
    device_id = create_device(tenancy.admin, unique("Thermostat"), token)["id"]["id"]
    # Written before the device asks for them; not fw_title/fw_version, which would start
    # the SDK's firmware download.
    save_attributes(tenancy.admin, device_id, "SHARED_SCOPE", {"targetTemp": 22, "mode": "eco"})
    answers: list[tuple[Any, Any]] = []
    answered = threading.Event()

    def on_answer(content: Any, exception: Any) -> None:
        answers.append((content, exception))
        answered.set()

    with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as client:
        info = client.send_attributes({"build": "1.0.3", "batteryOk": True, "slots": [1, 2]})
        assert info.get() == 0
        assert acknowledged(info)
        wait_for_attributes(
            tenancy.admin,
            device_id,
            "CLIENT_SCOPE",
            {"build": "1.0.3", "batteryOk": True, "slots": [1, 2]},
        )

        client.request_attributes(
            client_keys=["build", "batteryOk"],
            shared_keys=["targetTemp", "mode"],
            callback=on_answer,
        )
        assert answered.wait(timeout=10), "no attribute response"

    assert answers == [
        (
            {
                "client": {"build": "1.0.3", "batteryOk": True},
                "shared": {"targetTemp": 22, "mode": "eco"},
            },
            None,
        )
    ]
    # Client attributes are the device's own: they did not land in another scope.
    assert "build" not in attributes(tenancy.admin, device_id, "SHARED_SCOPE")


def test_device_claim_over_mqtt_then_the_customer_claims_over_rest(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    token, name = unique_token(), unique("Thermostat")
    device = create_device(tenancy.admin, name, token)
    buyer = tenancy.buyer

    with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as client:
        info = client.claim(secret_key="K7Q4-M2XD", duration=60_000)
        assert info.get() == 0
        # The PUBACK comes once the window is stored: the REST claim below cannot race it.
        assert acknowledged(info)

    wrong = claim(buyer.client, name, {"secretKey": "K7Q4-XXXX"})
    assert (wrong.status_code, wrong.content) == (400, b'"FAILURE"'), wrong.text
    claimed = claim(buyer.client, name, {"secretKey": "K7Q4-M2XD"})
    assert claimed.status_code == 200, claimed.text
    result = claimed.json()
    assert result["response"] == "SUCCESS"
    assert result["device"]["id"] == device["id"]
    assert result["device"]["customerId"] == {"entityType": "CUSTOMER", "id": buyer.customer_id}
    assert owner_id(tenancy.admin, device["id"]["id"]) == buyer.customer_id
    # The new owner's user now reads the device.
    assert ok(buyer.client.get(f"/api/device/{device['id']['id']}"))["name"] == name


def test_wrong_token_never_connects_and_the_server_keeps_serving_others(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    host, port = server.mqtt_address
    wrong_token = unique_token()
    intruder = TBDeviceMqttClient(host, port, username=wrong_token)
    try:
        intruder.connect()
        wait_until(
            lambda: server_log_has(server, "connection refused: unknown credentials"),
            "the refusal in the server log",
        )
        # The CONNACK said 134 (bad user name or password): the SDK retries, never connected.
        assert not intruder.is_connected()
    finally:
        assert not stop_tb_client(intruder)
    assert wrong_token not in server.log_text()  # credentials never reach the log

    token = unique_token()
    device_id = create_device(tenancy.admin, unique("Thermostat"), token)["id"]["id"]
    with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as client:
        assert client.send_telemetry({"after": 1}).get() == 0
    wait_for_latest(tenancy.admin, device_id, {"after": "1"})
    assert ok(tenancy.admin.get("/api/auth/user"))["authority"] == "TENANT_ADMIN"


def test_get_session_limits_is_answered_and_the_sdk_applies_it(
    start_server: StartServer,
) -> None:
    """The SDK asks ``getSessionLimits`` right after connecting; the answer carries the
    server's limits, of which the SDK keeps 80 %."""
    server = start_server(mqtt_max_packet_bytes="32768", mqtt_receive_maximum="50")
    tenancy = set_up_claiming_tenancy(server)
    try:
        token = unique_token()
        device_id = create_device(tenancy.admin, unique("Thermostat"), token)["id"]["id"]
        with connected_tb_client(TBDeviceMqttClient, server.mqtt_address, token) as client:
            wait_until(lambda: client.rate_limits_received, "rate_limits_received", timeout=3)
            # maxPayloadSize = packet limit - 512 bytes of room for header, topic, properties.
            assert client.max_payload_size == int((32_768 - 512) * SDK_SHARE)
            assert client._client._max_inflight_messages == int(50 * SDK_SHARE)
            # Above the new split threshold: the SDK sends several PUBLISHes, all stored.
            big = {f"key{i:04d}": "v" * 100 for i in range(300)}  # ~33 kB of JSON
            info = client.send_telemetry(big)
            assert info.get() == 0
            assert len(info.message_info) > 1
            assert acknowledged(info)
        stored = wait_until(
            lambda: len(timeseries(tenancy.admin, device_id, list(big))) == len(big),
            "all 300 keys stored",
        )
        assert stored
    finally:
        tenancy.close()
