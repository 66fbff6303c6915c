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
    telemetry,
    tenants,
    users,
)
from gridlinks.api.routes.missing_features import MissingFeaturesRoute
from gridlinks.api.swagger_ui import install_swagger_ui
from gridlinks.bootstrap import Platform

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
        groups,
        users,
        tenants,
    )
    for module in (*routers, audit, device_api):
        app.include_router(module.router)
    install_swagger_ui(app)
    settings = platform.settings
    # Outermost last: every request is logged, and its body is whole before any route runs.
    app.add_middleware(
        BodyFirstMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        timeout_seconds=settings.http_body_timeout_seconds,
    )
    app.add_middleware(RequestLogMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class RequestLogMiddleware:
    """One log line per request: method, path (device tokens masked), status, duration.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs an extra task and
    stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            path = _TOKEN_IN_PATH.sub(r"\1***", scope["path"])
            log.info("%s %s -> %d (%.1f ms)", scope["method"], path, status, elapsed_ms)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if not app.openapi_schema:
        app.openapi_schema = build_document(app)
    return app.openapi_schema
