"""Probes and metrics for operators: ``/healthz``, ``/readyz``, ``/metrics``.

They are not ThingsBoard API and stay out of the OpenAPI document (docs/deployment.md,
"Operations: logs, health, metrics", describes them). ``/metrics`` exists only while
``GRIDLINKS_METRICS_ENABLED`` is true (else 404) and, with ``GRIDLINKS_METRICS_TOKEN``, answers
only ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gridlinks.api.deps import PlatformDep
from gridlinks.api.errors import error_response
from gridlinks.errors import AuthenticationError
from gridlinks.kit.metrics import EXPOSITION_CONTENT_TYPE

router = APIRouter(include_in_schema=False)
metrics_router = APIRouter(include_in_schema=False)
# Probe and scrape requests are logged at DEBUG: they come every few seconds.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP: always 200."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(platform: PlatformDep) -> JSONResponse:
    """200 when the database answers (and Redis, when configured, and MQTT listens, when
    enabled); else 503 naming what failed."""
    failures = await platform.readiness_failures()
    checks = {name: "ok" for name in platform.readiness_checks()}
    checks.update(failures)
    body = {"status": "unavailable" if failures else "ready", "checks": checks}
    return JSONResponse(body, status_code=503 if failures else 200)


@metrics_router.get("/metrics")
async def metrics(request: Request, platform: PlatformDep) -> Response:
    """Prometheus text format; with a token configured, only for its bearer."""
    token = platform.settings.metrics_token
    if token and not _bearer_matches(request.headers.get("authorization", ""), token):
        error = AuthenticationError()
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return error_response(error.status, error.message, error.error_code, headers)
    return Response(platform.metrics.exposition(), media_type=EXPOSITION_CONTENT_TYPE)


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, presented = header.partition(" ")
    # Constant time: the comparison must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )
