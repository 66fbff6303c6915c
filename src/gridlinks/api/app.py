"""The FastAPI application: routes, error rendering, request logging, OpenAPI and Swagger UI."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridlinks import __version__
from gridlinks.api.deps import refuse_unstorable_url_text
from gridlinks.api.errors import install_error_handlers
from gridlinks.api.openapi import build_document
from gridlinks.api.request_guard import BodyFirstMiddleware
from gridlinks.api.routes import (
    attributes,
    audit,
    auth,
    claiming,
    device_api,
    device_profiles,
    devices,
    groups,
    health,
    rpc,
    telemetry,
    tenants,
    users,
    ws,
)
from gridlinks.api.routes.health import PROBE_PATHS
from gridlinks.api.routes.missing_features import MissingFeaturesRoute
from gridlinks.api.swagger_ui import install_swagger_ui
from gridlinks.bootstrap import Platform
from gridlinks.kit.metrics import Metrics

log = logging.getLogger("gridlinks.http")

# Device tokens travel in paths (/api/v1/{token}/...): never write them to the log.
_TOKEN_IN_PATH = re.compile(r"^(/api/v1/)[^/]+")

DESCRIPTION = """GridLinks speaks ThingsBoard's REST API. Sign in with `POST /api/auth/login`,
then send `X-Authorization: Bearer <token>` on every call. Errors are ThingsBoard error JSON
`{status, message, errorCode, timestamp}`."""


def create_app(platform: Platform) -> FastAPI:
    """An app serving ``platform``; the caller owns the platform's lifetime."""
    app = FastAPI(
        title="GridLinks",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by install_swagger_ui, without a CDN
        redoc_url=None,
        openapi_url="/v3/api-docs",
        dependencies=[Depends(refuse_unstorable_url_text)],
    )
    app.state.platform = platform
    install_error_handlers(app)
    # Literal paths (/api/tenant/devices, /api/user/devices) before templated ones
    # (/api/tenant/{tenant_id}, /api/user/{user_id}): the first match wins. ThingsBoard paths
    # GridLinks lacks (/api/tenant/assets) come first of all: 404 naming the feature.
    app.router.routes.append(MissingFeaturesRoute())
    routers = (
        auth,
        claiming,
        devices,
        device_profiles,
        attributes,
        telemetry,
        rpc,
        groups,
        users,
        tenants,
    )
    for module in (*routers, audit, device_api, health):
        app.include_router(module.router)
    app.router.routes.extend(ws.routes)  # the live WebSocket API
    install_swagger_ui(app)
    if platform.settings.metrics_enabled:
        app.include_router(health.metrics_router)
    settings = platform.settings
    # Outermost last: every request is logged, and its body is whole before any route runs.
    app.add_middleware(
        BodyFirstMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        timeout_seconds=settings.http_body_timeout_seconds,
    )
    app.add_middleware(RequestLogMiddleware, metrics=platform.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class RequestLogMiddleware:
    """One log line per request: method, path (device tokens masked), status, duration, the
    client's address and who the request acted as (``user=<id>`` or ``device=<id>``, recorded
    in the request state by the auth dependency and the device API); and the HTTP metrics, by
    route template (never the raw path: device tokens travel in paths).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs an extra task and
    stream per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.requests = metrics.http_requests
        self.durations = metrics.http_request_duration

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # Created here, so what routes record in request.state is in this very dict.
        state = scope.setdefault("state", {})

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.durations.labels(scope["method"], route).observe(elapsed)
            _log_request(scope, state, status, elapsed * 1000)


UNMATCHED_ROUTE = "unmatched"


def _route_label(scope: Scope) -> str:
    """The matched route's template (``/api/v1/{token}/telemetry``), never the raw path."""
    route = scope.get("route")
    if route is not None:
        return str(route.path)
    if scope.get("root_path"):  # a mounted app (static files): its mount path
        return f"{scope['root_path']}/{{path}}"
    return UNMATCHED_ROUTE


def _log_request(scope: Scope, state: dict[str, Any], status: int, elapsed_ms: float) -> None:
    path = _TOKEN_IN_PATH.sub(r"\1***", scope["path"])
    client = scope.get("client")
    fields: dict[str, Any] = {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(elapsed_ms, 1),
        "client": f"{client[0]}:{client[1]}" if client else "-",
    }
    actor = ""
    for key, label in (("user_id", "user"), ("device_id", "device")):
        if state.get(key):
            fields[key] = str(state[key])
            actor += f" {label}={fields[key]}"
    level = logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO
    log.log(
        level,
        "%s %s -> %d (%.1f ms) client=%s%s",
        fields["method"],
        path,
        status,
        elapsed_ms,
        fields["client"],
        actor,
        extra=fields,
    )


def _openapi(app: FastAPI) -> dict[str, Any]:
    if not app.openapi_schema:
        app.openapi_schema = build_document(app)
    return app.openapi_schema
