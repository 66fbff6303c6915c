"""The log lines an operator reads (docs/deployment.md, "Operations: logs, health, metrics"):
each HTTP request with the client's address and the user or device it acted as, failed sign-ins
with the account, MQTT connects and disconnects with the device and the reason - as escaped
text lines or as one JSON object per line, and never a secret."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    create_device,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import CLAIM_TOPIC, connected_paho, wait_until
from tests.e2e.running_server import SECRET_KEY, Server, StartServer

pytestmark = pytest.mark.e2e

FORGED_EMAIL = "nobody\n\x1b[31m@e2e.test"
CLIENT = r"127\.0\.0\.1:\d+"


@dataclass
class Session:
    """What the scenario did, and every secret it used."""

    server: Server
    user_id: str
    admin_email: str
    device_id: str
    secrets: list[str]


def run_scenario(server: Server) -> Session:
    """A user's request, a device's HTTP request, two failed sign-ins (one with control
    characters in the e-mail), an MQTT connection that announces a claim code and disconnects."""
    tenancy: ClaimingTenancy = set_up_claiming_tenancy(server)
    try:
        token, claim_code = unique_token(), f"code-{uuid.uuid4().hex}"
        device = create_device(tenancy.admin, unique("Meter"), token)
        assert tenancy.buyer.client.get("/api/auth/user").status_code == 200
        telemetry = httpx.post(f"{server.base_url}/api/v1/{token}/telemetry", json={"t": 1})
        assert telemetry.status_code == 200
        wrong_password = f"wrong-{uuid.uuid4().hex}"
        for email in (tenancy.admin_email, FORGED_EMAIL):
            body = {"username": email, "password": wrong_password}
            assert httpx.post(f"{server.base_url}/api/auth/login", json=body).status_code == 401
        with connected_paho(server.mqtt_address, token) as mqtt:
            mqtt.publish(CLAIM_TOPIC, json.dumps({"secretKey": claim_code}))
        wait_until(lambda: "disconnected" in server.log_text(), "the disconnect logged")
        jwt = tenancy.admin.headers["X-Authorization"].removeprefix("Bearer ")
        secrets = [token, claim_code, wrong_password, jwt, SECRET_KEY, server.sysadmin_password]
        return Session(
            server, tenancy.buyer.user_id, tenancy.admin_email, device["id"]["id"], secrets
        )
    finally:
        tenancy.close()


def assert_no_secret(log: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in log, f"a secret is in the log: {secret[:6]}..."
    assert "\x1b" not in log


# --- text --------------------------------------------------------------------------------------
@pytest.fixture
def text_session(start_server: StartServer) -> Session:
    return run_scenario(start_server(log_format="text"))


def lines_matching(log: str, pattern: str) -> list[str]:
    return [line for line in log.splitlines() if re.search(pattern, line)]


def test_text_lines_carry_client_and_actor_and_are_escaped(text_session: Session) -> None:
    log = text_session.server.log_text()
    user, device = text_session.user_id, text_session.device_id
    assert lines_matching(
        log,
        rf"INFO +gridlinks\.http: GET /api/auth/user -> 200 \(\d+\.\d ms\) client={CLIENT} "
        rf"user={user}$",
    )
    assert lines_matching(
        log, rf"POST /api/v1/\*\*\*/telemetry -> 200 \(.*\) client={CLIENT} device={device}$"
    )
    email = re.escape(text_session.admin_email)
    assert lines_matching(
        log,
        rf"WARNING gridlinks\.auth: sign-in failed for {email}: Invalid username or "
        rf"password client={CLIENT}$",
    )
    assert lines_matching(log, r"sign-in failed for nobody\\n\\x1b\[31m@e2e\.test: ")
    assert lines_matching(
        log, rf"gridlinks\.mqtt: MQTT {CLIENT} \(device {device}\): connected \(MQTT level 5\)$"
    )
    assert lines_matching(
        log, rf"MQTT {CLIENT} \(device {device}\): disconnected: client sent DISCONNECT$"
    )
    assert_no_secret(log, text_session.secrets)


# --- json --------------------------------------------------------------------------------------
@pytest.fixture
def json_session(start_server: StartServer) -> Session:
    return run_scenario(start_server(log_format="json"))


def records(log: str) -> list[dict[str, Any]]:
    """Every line of the log as JSON (fails on any line that is not one object)."""
    parsed = [json.loads(line) for line in log.splitlines()]
    assert all(isinstance(record, dict) for record in parsed)
    return parsed


def one(found: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    matching = [r for r in found if all(r.get(k) == v for k, v in fields.items())]
    assert len(matching) == 1, f"{fields}: {len(matching)} records"
    return matching[0]


def test_json_log_is_one_object_per_line_with_fields_as_keys(json_session: Session) -> None:
    log = json_session.server.log_text()
    found = records(log)
    assert all({"timestamp", "level", "logger", "message"} <= r.keys() for r in found)
    request = one(found, path="/api/auth/user", user_id=json_session.user_id)
    assert (request["method"], request["status"], request["logger"]) == (
        "GET",
        200,
        "gridlinks.http",
    )
    assert isinstance(request["duration_ms"], float)
    assert re.fullmatch(CLIENT, request["client"])
    device_request = one(found, path="/api/v1/***/telemetry", device_id=json_session.device_id)
    assert device_request["status"] == 200
    failed = one(found, account=json_session.admin_email)
    assert (failed["level"], failed["reason"]) == ("warning", "Invalid username or password")
    assert one(found, account=FORGED_EMAIL)["logger"] == "gridlinks.auth"
    connected = one(found, device_id=json_session.device_id, logger="gridlinks.mqtt", reason=None)
    assert "connected" in connected["message"]
    assert re.fullmatch(CLIENT, connected["client"])
    gone = one(found, device_id=json_session.device_id, reason="client sent DISCONNECT")
    assert gone["client"] == connected["client"]
    assert_no_secret(log, json_session.secrets)
