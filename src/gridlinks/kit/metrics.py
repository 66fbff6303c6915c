"""The Prometheus metrics of one platform (``GET /metrics``), in a registry of its own.

``Metrics()`` builds a fresh ``CollectorRegistry`` each time (never prometheus-client's global
default registry), so several platforms in one process - tests, a second node - do not collide.
Bootstrap builds one per ``Platform`` and hands it to what records into it: the HTTP middleware,
the MQTT transport, claiming, the telemetry writer and the database pool. It sits in ``kit``, below
every feature, so any of them may record without importing the layers above.

Label values are a small closed set (route templates, outcomes), never raw paths or ids.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: 1 ms to 10 s, for HTTP answers and telemetry commits.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_POINT_BUCKETS = (1, 5, 10, 50, 100, 500, 1000, 2500, 5000, 10_000)


class Metrics:
    """Every metric GridLinks exports (names and labels are listed in docs/deployment.md)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.http_requests = Counter(
            "gridlinks_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_request_duration = Histogram(
            "gridlinks_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.mqtt_connections = Gauge(
            "gridlinks_mqtt_connections",
            "Open MQTT network connections",
            registry=registry,
        )
        self.mqtt_connects = Counter(
            "gridlinks_mqtt_connects",
            "MQTT CONNECTs by outcome (accepted, or the refusal)",
            ["outcome"],
            registry=registry,
        )
        self.mqtt_messages_received = Counter(
            "gridlinks_mqtt_messages_received",
            "MQTT PUBLISH messages from clients, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.mqtt_messages_sent = Counter(
            "gridlinks_mqtt_messages_sent",
            "MQTT PUBLISH messages to clients, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.claims = Counter(
            "gridlinks_claims",
            "Claim attempts by customers, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.telemetry_batch_points = Histogram(
            "gridlinks_telemetry_batch_points",
            "Data points per telemetry batch committed (or failed)",
            buckets=BATCH_POINT_BUCKETS,
            registry=registry,
        )
        self.telemetry_commit_duration = Histogram(
            "gridlinks_telemetry_commit_duration_seconds",
            "Time to store and commit one telemetry batch",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.telemetry_batches = Counter(
            "gridlinks_telemetry_batches",
            "Telemetry batches by outcome (stored, failed)",
            ["outcome"],
            registry=registry,
        )
        self.db_pool_checked_out = Gauge(
            "gridlinks_db_pool_checked_out",
            "Database connections in use",
            registry=registry,
        )
        self.db_pool_size = Gauge(
            "gridlinks_db_pool_size",
            "Database connections the pool keeps open (as many again may overflow)",
            registry=registry,
        )

    def watch_database_pool(self, checked_out: Callable[[], int], size: Callable[[], int]) -> None:
        """Read the pool's numbers when metrics are collected (nothing to do per request)."""
        self.db_pool_checked_out.set_function(checked_out)
        self.db_pool_size.set_function(size)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)


def outcome_label(text: str) -> str:
    """``"wrong key"`` -> ``"wrong_key"``: outcomes as Prometheus label values."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")
