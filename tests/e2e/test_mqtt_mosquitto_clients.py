"""Eclipse Mosquitto's command-line clients (``mosquitto_pub``, ``mosquitto_sub``,
``mosquitto_rr``, Debian's mosquitto-clients 2.0) against a real ``gridlinks serve``: what a
firmware developer types first.

``mosquitto_pub -q 1`` exits after the PUBACK, which GridLinks sends once the message is
stored, so the REST reads after it need no polling. Two connections of one device cannot be
open at once (the newer one replaces the older), so a request and its response go through one
connection with ``mosquitto_rr``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    claim,
    create_device,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    ATTRIBUTES_TOPIC,
    CLAIM_TOPIC,
    TELEMETRY_TOPIC,
    owner_id,
    save_attributes,
    timeseries,
    wait_for_latest,
    wait_until,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

TOOL_TIMEOUT_SECONDS = 20


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def new_device(tenancy: ClaimingTenancy) -> tuple[str, str, str]:
    """(name, token, device id) of a new unassigned device."""
    name, token = unique("Meter"), unique_token()
    return name, token, create_device(tenancy.admin, name, token)["id"]["id"]


def tool(server: Server, program: str, token: str, *args: str) -> list[str]:
    """The command line of a mosquitto client connecting to the server with ``token``."""
    host, port = server.mqtt_address
    return [program, "-h", host, "-p", str(port), "-u", token, *args]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )


def publish(server: Server, token: str, topic: str, message: str, *args: str) -> str:
    """``mosquitto_pub`` at QoS 1; it must exit 0. Its output (warnings) is returned."""
    result = run(tool(server, "mosquitto_pub", token, "-t", topic, "-m", message, "-q", "1", *args))
    assert result.returncode == 0, f"mosquitto_pub exited {result.returncode}: {result.stderr}"
    return result.stdout + result.stderr


def test_mosquitto_pub_telemetry_at_every_protocol_level_is_stored(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    for version, extra, value in (
        ("mqttv311", (), 25),
        ("mqttv5", (), 26),
        ("mqttv31", ("-i", "someid"), 27),  # MQTT 3.1 needs a client id
    ):
        _, token, device_id = new_device(tenancy)
        publish(server, token, TELEMETRY_TOPIC, f'{{"temperature":{value}}}', "-V", version, *extra)
        latest = timeseries(tenancy.admin, device_id, ["temperature"])
        assert latest["temperature"][0]["value"] == str(value), version

    # QoS 0: mosquitto_pub does not wait for anything, so poll.
    _, token, device_id = new_device(tenancy)
    result = run(tool(server, "mosquitto_pub", token, "-t", TELEMETRY_TOPIC, "-m", '{"q0":1}'))
    assert result.returncode == 0, result.stderr
    wait_for_latest(tenancy.admin, device_id, {"q0": "1"})

    # MQTT 5 tells the client why a message was refused; the tool still exits 0.
    output = publish(server, token, TELEMETRY_TOPIC, '{"temperature":', "-V", "mqttv5")
    assert "Publish 1 failed: Payload format invalid." in output


def test_mosquitto_pub_with_a_wrong_token_exits_non_zero_and_others_go_on(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    for version, code, message in (
        ("mqttv31", 4, "Connection Refused: bad user name or password."),
        ("mqttv311", 4, "Connection Refused: bad user name or password."),
        ("mqttv5", 134, "Bad User Name or Password"),
    ):
        command = tool(server, "mosquitto_pub", unique_token(), "-i", "intruder", "-V", version)
        result = run([*command, "-t", TELEMETRY_TOPIC, "-m", '{"t":1}', "-q", "1"])
        assert result.returncode == code, (version, result.returncode, result.stderr)
        assert f"Connection error: {message}" in result.stderr, result.stderr
    assert server.log_text().count("connection refused: unknown credentials") == 3

    _, token, device_id = new_device(tenancy)
    publish(server, token, TELEMETRY_TOPIC, '{"after":1}')
    assert timeseries(tenancy.admin, device_id, ["after"])["after"][0]["value"] == "1"


def test_mosquitto_rr_requests_attributes_over_one_connection(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    _, token, device_id = new_device(tenancy)
    publish(server, token, ATTRIBUTES_TOPIC, '{"fw":"1.2","battery":87}')
    save_attributes(tenancy.admin, device_id, "SHARED_SCOPE", {"interval": 30})

    for version in ("mqttv311", "mqttv5"):
        request = '{"clientKeys":"fw,battery","sharedKeys":"interval"}'
        command = tool(server, "mosquitto_rr", token, "-V", version, "-W", "10", "-m", request)
        command += ["-t", "v1/devices/me/attributes/request/1"]
        command += ["-e", "v1/devices/me/attributes/response/1"]
        result = run(command)
        assert result.returncode == 0, (version, result.stderr)
        assert json.loads(result.stdout) == {
            "client": {"fw": "1.2", "battery": 87},
            "shared": {"interval": 30},
        }


def test_mosquitto_sub_is_refused_foreign_topics_and_replaced_by_a_newer_connection(
    server: Server, tenancy: ClaimingTenancy, tmp_path: Path
) -> None:
    _, token, _ = new_device(tenancy)
    for version in ("mqttv311", "mqttv5"):
        result = run(tool(server, "mosquitto_sub", token, "-V", version, "-t", "#", "-W", "10"))
        assert "All subscription requests were denied." in result.stderr, result.stderr

    # A subscriber, then a publisher with the same token: the subscriber is told (MQTT 5
    # DISCONNECT 0x8E, "session taken over") and exits.
    output = tmp_path / "mosquitto_sub.out"
    response_topic = "v1/devices/me/attributes/response/+"
    command = tool(server, "mosquitto_sub", token, "-V", "mqttv5", "-d", "-q", "1")
    command += ["-t", response_topic]
    with output.open("w") as sink:  # stdbuf: line by line, as on a terminal
        subscriber = subprocess.Popen(
            ["stdbuf", "-oL", *command], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: "Subscribed (mid: 1): 1" in output.read_text(), "the subscription")
        publish(server, token, TELEMETRY_TOPIC, '{"x":1}', "-V", "mqttv5")
        assert subscriber.wait(timeout=TOOL_TIMEOUT_SECONDS) == 0
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait()
    assert "Received DISCONNECT (142)" in output.read_text()


def test_mosquitto_pub_claim_then_the_customer_claims_over_rest(
    server: Server, tenancy: ClaimingTenancy
) -> None:
    name, token, device_id = new_device(tenancy)

    publish(server, token, CLAIM_TOPIC, '{"secretKey":"AB12-CD34","durationMs":600000}')

    response = claim(tenancy.buyer.client, name, {"secretKey": "AB12-CD34"})
    assert response.status_code == 200, response.text
    assert response.json()["response"] == "SUCCESS"
    assert owner_id(tenancy.admin, device_id) == tenancy.buyer.customer_id
