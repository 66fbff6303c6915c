"""The FastAPI application: routes, error rendering, request logging, OpenAPI and Swagger UI."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse

from gridlinks import __version__
from gridlinks.api.deps import BODY_MODELS, REF_TEMPLATE, refuse_unstorable_url_text
from gridlinks.api.errors import install_error_handlers
from gridlinks.api.routes import (
    attributes,
    audit,
    auth,
    claiming,
    device_api,
    device_profiles,
    devices,
    groups,
    tenants,
    users,
)
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
        docs_url="/swagger-ui",
        redoc_url=None,
        openapi_url="/v3/api-docs",
        dependencies=[Depends(refuse_unstorable_url_text)],
    )
    app.state.platform = platform
    install_error_handlers(app)
    # Literal paths (/api/tenant/devices, /api/user/devices) before templated ones
    # (/api/tenant/{tenant_id}, /api/user/{user_id}): the first match wins.
    routers = (auth, claiming, devices, device_profiles, attributes, groups, users, tenants)
    for module in (*routers, audit, device_api):
        app.include_router(module.router)
    _add_docs_redirects(app)
    app.middleware("http")(_log_requests)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_docs_redirects(app: FastAPI) -> None:
    async def to_swagger() -> RedirectResponse:
        return RedirectResponse("/swagger-ui")

    for path in ("/docs", "/swagger-ui.html"):
        app.add_api_route(path, to_swagger, include_in_schema=False)


async def _log_requests(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    elapsed_ms = (time.perf_counter() - started) * 1000
    path = _TOKEN_IN_PATH.sub(r"\1***", request.url.path)
    log.info("%s %s -> %d (%.1f ms)", request.method, path, response.status_code, elapsed_ms)
    return response


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in BODY_MODELS.items():
        model_schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
        components.update(model_schema.pop("$defs", {}))
        components[name] = model_schema
    schema["components"]["securitySchemes"] = {
        "X-Authorization": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Authorization",
            "description": "Bearer <JWT from /api/auth/login>",
        }
    }
    schema["security"] = [{"X-Authorization": []}]
    app.openapi_schema = schema
    return schema
