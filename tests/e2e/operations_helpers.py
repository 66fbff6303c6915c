"""Reading ``/metrics`` and ``/readyz`` of a running server, as Prometheus and a probe would."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.running_server import Server

TIMEOUT_SECONDS = 10.0


def scrape(
    server: Server, token: str | None = None
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``, parsed by prometheus-client's own parser:
    ``{(sample name, frozenset of labels): value}``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value; 0 when the series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def readyz(server: Server) -> httpx.Response:
    return httpx.get(f"{server.base_url}/readyz", timeout=TIMEOUT_SECONDS)
