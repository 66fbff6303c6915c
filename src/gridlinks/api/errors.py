"""Render every failure as ThingsBoard error JSON ``{status, message, errorCode, timestamp}``.

A client's mistake is never a 500; an unexpected exception is logged (without request bodies)
and answered with a generic 500 that names no internals.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridlinks.api.openapi import api_routes
from gridlinks.errors import GridLinksError, ServiceUnavailableError, TooManyRequestsError

log = logging.getLogger("gridlinks.api")

# The path itself is not repeated: device API paths carry access tokens.
UNKNOWN_PATH_MESSAGE = (
    "GridLinks has no endpoint at this path; the endpoints are listed at /swagger-ui"
)
_HTTP_ERROR_CODES = {401: 10, 403: 20, 404: 32, 405: 31, 413: 31, 429: 33}


def error_response(
    status: int, message: str, error_code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "status": status,
        "message": message,
        "errorCode": error_code,
        "timestamp": time.time_ns() // 1_000_000,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid value')}")
    return "Invalid request: " + "; ".join(parts)


async def _on_gridlinks_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GridLinksError)
    headers = None
    if isinstance(exc, TooManyRequestsError | ServiceUnavailableError):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    if isinstance(exc, ServiceUnavailableError):
        log.warning("request refused: %s", exc.message)
    elif exc.status >= 500:
        log.error("request failed: %s", exc.message)
    return error_response(exc.status, exc.message, exc.error_code, headers)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, _validation_message(exc), 31)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own answers: no route for the path (404), or not for the method (405)."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404:
        message = UNKNOWN_PATH_MESSAGE
    elif exc.status_code == 405:
        # Starlette names the methods of the first route on the path; there may be more.
        allowed = _allowed_methods(request) or (headers or {}).get("Allow", "GET, HEAD")
        headers = {**(headers or {}), "Allow": allowed}
        message = f"Request method '{request.method[:16]}' is not supported here; use {allowed}"
    else:
        message = str(exc.detail)
    return error_response(
        exc.status_code, message, _HTTP_ERROR_CODES.get(exc.status_code, 2), headers
    )


def _allowed_methods(request: Request) -> str:
    """The methods of the routes on this path, the most literal ones only: ``/api/tenant/devices``
    is GET, although ``DELETE /api/tenant/{tenant_id}`` would take it (and refuse the id)."""
    path = request.scope["path"]
    routes = [r for r in api_routes(request.app.routes) if r.path_regex.fullmatch(path)]
    fewest = min((len(r.param_convertors) for r in routes), default=0)
    allowed = {m for r in routes if len(r.param_convertors) == fewest for m in r.methods or ()}
    return ", ".join(sorted(allowed))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error", 2)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GridLinksError, _on_gridlinks_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
