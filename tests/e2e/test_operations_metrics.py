"""``GET /metrics``: Prometheus counters move when devices publish and customers claim; the
endpoint can be protected by a token or switched off."""

from __future__ import annotations

import json

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.conftest import TEST_POOL_SIZE
from tests.e2e.claiming_helpers import (
    VALID_WINDOW_MS,
    announce,
    claim,
    create_device,
    ok,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    TELEMETRY_TOPIC,
    connected_paho,
    new_paho,
    paho_session,
    wait_until,
)
from tests.e2e.operations_helpers import sample, scrape
from tests.e2e.running_server import Server, StartServer

pytestmark = pytest.mark.e2e


def test_telemetry_published_over_mqtt_moves_the_mqtt_and_telemetry_metrics(
    server: Server,
) -> None:
    tenancy = set_up_claiming_tenancy(server)
    token = unique_token()
    create_device(tenancy.admin, unique("Meter"), token)
    before = scrape(server)
    with connected_paho(server.mqtt_address, token) as device:
        assert sample(scrape(server), "gridlinks_mqtt_connections") == 1
        reason = device.publish(TELEMETRY_TOPIC, json.dumps({"temperature": 21.5}))
        assert reason is not None and not reason.is_failure
    tenancy.close()
    wait_until(
        lambda: sample(scrape(server), "gridlinks_mqtt_connections") == 0,
        "the MQTT connection counted as closed",
    )
    after = scrape(server)
    assert sample(after, "gridlinks_mqtt_connects_total", outcome="accepted") == 1
    accepted = "gridlinks_mqtt_messages_received_total"
    assert sample(after, accepted, outcome="accepted") == 1
    assert sample(before, accepted, outcome="accepted") == 0
    assert sample(after, "gridlinks_telemetry_batches_total", outcome="stored") >= 1
    assert sample(after, "gridlinks_telemetry_batch_points_count") >= 1
    assert sample(after, "gridlinks_telemetry_commit_duration_seconds_count") >= 1


def test_a_refused_mqtt_connect_is_counted_by_its_reason(server: Server) -> None:
    refused = new_paho(mqtt.MQTTv5, unique_token())
    with paho_session(refused, server.mqtt_address):
        assert refused.connack is not None and refused.connack.is_failure
    samples = scrape(server)
    assert sample(samples, "gridlinks_mqtt_connects_total", outcome="bad_credentials") == 1
    assert sample(samples, "gridlinks_mqtt_connects_total", outcome="accepted") == 0


def test_claims_are_counted_by_outcome(server: Server) -> None:
    tenancy = set_up_claiming_tenancy(server)
    name, token = unique("Meter"), unique_token()
    create_device(tenancy.admin, name, token)
    ok(announce(server.base_url, token, {"secretKey": "right", "durationMs": VALID_WINDOW_MS}))
    assert claim(tenancy.buyer.client, name, {"secretKey": "wrong"}).status_code == 400
    assert claim(tenancy.buyer.client, name, {"secretKey": "right"}).status_code == 200
    tenancy.close()
    samples = scrape(server)
    assert sample(samples, "gridlinks_claims_total", outcome="wrong_key") == 1
    assert sample(samples, "gridlinks_claims_total", outcome="claimed") == 1


def test_http_requests_are_counted_by_route_template_never_by_token(server: Server) -> None:
    token = unique_token()
    response = httpx.post(f"{server.base_url}/api/v1/{token}/telemetry", json={"a": 1})
    assert response.status_code == 401
    response = httpx.get(f"{server.base_url}/no/such/{token}")
    assert response.status_code == 404
    samples = scrape(server)
    route = "/api/v1/{token}/telemetry"
    assert (
        sample(samples, "gridlinks_http_requests_total", method="POST", route=route, status="401")
        == 1
    )
    assert (
        sample(samples, "gridlinks_http_request_duration_seconds_count", method="POST", route=route)
        == 1
    )
    assert (
        sample(
            samples, "gridlinks_http_requests_total", method="GET", route="unmatched", status="404"
        )
        >= 1
    )
    assert not any(token in value for (_, labels) in samples for _, value in labels)


def test_database_pool_use_is_reported(server: Server) -> None:
    samples = scrape(server)
    # The configured GRIDLINKS_DATABASE_POOL_SIZE (server_env sets it), overflow as much again.
    assert sample(samples, "gridlinks_db_pool_size") == TEST_POOL_SIZE
    assert 0 <= sample(samples, "gridlinks_db_pool_checked_out") <= 2 * TEST_POOL_SIZE


def test_with_a_token_metrics_answer_only_its_bearer(start_server: StartServer) -> None:
    secret = "scrape-" + unique_token()
    server = start_server(metrics_token=secret)
    url = f"{server.base_url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert wrong.json()["errorCode"] == 10
    assert "gridlinks_http_requests_total" in str(scrape(server, token=secret))
    assert secret not in server.log_text()


def test_disabled_metrics_are_not_found(start_server: StartServer) -> None:
    server = start_server(metrics_enabled="false")
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 404
    assert response.json()["status"] == 404
