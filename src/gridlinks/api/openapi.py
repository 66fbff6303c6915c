"""The OpenAPI document: what each operation really answers, so a generated client works.

FastAPI documents the happy path of what it validates itself. GridLinks reads bodies itself and
renders every failure as ThingsBoard error JSON, so the document is completed here, from what the
routes depend on (the same facts that decide the answers):

- every operation can answer 400 (a bad parameter, or NUL characters anywhere in the URL) and
  503 (the database pool or Redis is exhausted or down);
- an operation behind ``CurrentPrincipal`` can answer 401 and 403, and 404 when it names an
  item (path parameters, a body, a required lookup parameter);
- an operation that reads a body can answer 408 (it stalled) and 413 (it is too large);
- FastAPI's 422 never happens (validation errors are rendered as 400) and is removed;
- routes returning a bare ``Response`` answer 200 with an empty body (ThingsBoard's void
  operations: deletes, attribute writes, logout...), listings ThingsBoard's ``PageData``;
  ``response_schemas.SUCCESS_SCHEMAS`` names the entity each other operation answers.

Anything else (rate limits, claim answers) is declared on the route with the helpers below;
sign-in operations, which have no caller to go by, are declared in ``_SIGN_IN_ANSWERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from gridlinks.api.deps import (
    BODY_MODELS,
    REF_TEMPLATE,
    get_principal,
    get_principal_briefly,
    json_body,
    read_body,
)
from gridlinks.api.response_schemas import ENTITY_SCHEMAS, PAGE_SCHEMAS, SUCCESS_SCHEMAS, ref

ERROR_SCHEMA = "ThingsboardErrorResponse"
PAGE_SCHEMA = "PageData"
JWT_PAIR_SCHEMA = "JwtPair"

_ERROR_DESCRIPTIONS = {
    400: "Bad request: a malformed or invalid parameter or body (errorCode 30 or 31)",
    401: "Authentication failed: no, expired or invalid credentials (errorCode 10 or 11)",
    403: "The caller may not do this (errorCode 20)",
    404: "The item does not exist or is not visible to the caller (errorCode 32)",
    408: "The request body did not arrive in time; the connection is closed (errorCode 31)",
    413: "The request body is larger than the configured limit (errorCode 31)",
    429: "Too many requests: try again after Retry-After seconds (errorCode 33)",
    503: "The server is overloaded or a backing service is down; try again later",
}

_SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR_SCHEMA: {
        "type": "object",
        "description": "ThingsBoard error JSON; every failure is answered with it.",
        "required": ["status", "message", "errorCode", "timestamp"],
        "properties": {
            "status": {"type": "integer", "description": "the HTTP status"},
            "message": {"type": "string"},
            "errorCode": {
                "type": "integer",
                "description": "2 general, 10 authentication, 11 token expired, 20 permission"
                " denied, 30 invalid arguments, 31 bad request parameters, 32 item not found,"
                " 33 too many requests",
            },
            "timestamp": {"type": "integer", "description": "epoch milliseconds"},
        },
    },
    PAGE_SCHEMA: {
        "type": "object",
        "description": "One page of a listing.",
        "required": ["data", "totalPages", "totalElements", "hasNext"],
        "properties": {
            "data": {"type": "array", "items": {"type": "object"}},
            "totalPages": {"type": "integer", "minimum": 0},
            "totalElements": {"type": "integer", "minimum": 0},
            "hasNext": {"type": "boolean"},
        },
    },
    JWT_PAIR_SCHEMA: {
        "type": "object",
        "required": ["token", "refreshToken"],
        "properties": {"token": {"type": "string"}, "refreshToken": {"type": "string"}},
    },
}


def error_response(status: int, description: str | None = None) -> dict[str, Any]:
    """An error answer carrying ThingsBoard error JSON (with Retry-After for 429)."""
    declared: dict[str, Any] = {
        "description": description or _ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": ref(ERROR_SCHEMA)}},
    }
    if status == 429:
        declared["headers"] = {
            "Retry-After": {
                "description": "seconds to wait",
                "required": True,
                "schema": {"type": "integer"},
            }
        }
    return declared


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: error_response(429)}
UNKNOWN_DEVICE_TOKEN: dict[int | str, dict[str, Any]] = {
    401: error_response(401, "The device access token is unknown (errorCode 10)")
}
JWT_PAIR: dict[int | str, dict[str, Any]] = {
    200: json_response(ref(JWT_PAIR_SCHEMA), "An access token and a refresh token")
}
CLAIM_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: json_response(
        {
            "type": "object",
            "required": ["device", "response"],
            "properties": {
                "device": ref("Device"),
                "response": {"const": "SUCCESS"},
            },
        },
        "ThingsBoard's ClaimResult: the device is the caller's customer's now",
    ),
    400: json_response(
        {
            "anyOf": [
                {"type": "string", "enum": ["FAILURE", "CLAIMED"]},
                ref(ERROR_SCHEMA),
            ]
        },
        'A bare JSON string: "FAILURE" (no open window or a wrong key) or "CLAIMED" (another'
        " customer has it); or error JSON for a malformed request",
    ),
    **RATE_LIMITED,
}


# Operations without a signed-in caller whose answers the general rules cannot know.
_SIGN_IN_ANSWERS: dict[tuple[str, str], dict[int | str, dict[str, Any]]] = {
    ("POST", "/api/auth/login"): {
        **JWT_PAIR,
        401: error_response(401, "Wrong e-mail or password, or the user is not active"),
    },
    ("POST", "/api/auth/token"): {
        **JWT_PAIR,
        401: error_response(401, "The refresh token is invalid or expired"),
    },
    ("POST", "/api/noauth/activate"): {
        **JWT_PAIR,
        404: error_response(404, "The activation token is invalid or expired"),
    },
    ("POST", "/api/auth/changePassword"): JWT_PAIR,
}


CLAIM_ANNOUNCEMENT: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "Without a body: an empty key and the default duration.",
                    "properties": {
                        "secretKey": {"type": "string", "maxLength": 1024},
                        "durationMs": {"type": "integer", "minimum": -(2**62), "maximum": 2**62},
                    },
                }
            }
        },
    }
}


def build_document(app: FastAPI) -> dict[str, Any]:
    """The complete OpenAPI document of ``app`` (built once, then cached by the caller)."""
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in BODY_MODELS.items():
        model_schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
        components.update(model_schema.pop("$defs", {}))
        components[name] = model_schema
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components.update(_SCHEMAS | ENTITY_SCHEMAS | PAGE_SCHEMAS)
    schema["components"]["securitySchemes"] = {
        "X-Authorization": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Authorization",
            "description": "Bearer <JWT from /api/auth/login>",
        }
    }
    schema["security"] = [{"X-Authorization": []}]
    for route in api_routes(app.routes):
        if route.include_in_schema:
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                _complete_operation(operation, route, (method, route.path))
    return schema


def _complete_operation(operation: dict[str, Any], route: APIRoute, key: tuple[str, str]) -> None:
    calls = set(_dependency_calls(route.dependant))
    signed_in = get_principal in calls or get_principal_briefly in calls
    if not signed_in:
        operation["security"] = []
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    _declare_success(responses, route, calls)
    if key in SUCCESS_SCHEMAS:
        responses["200"]["content"] = {"application/json": {"schema": SUCCESS_SCHEMAS[key]}}
    answers = _SIGN_IN_ANSWERS.get(key, {})
    responses.update({str(status): answer for status, answer in answers.items()})
    for error_status in _error_statuses(operation, signed_in, calls):
        responses.setdefault(str(error_status), error_response(error_status))
    for status, declared in responses.items():
        if int(status) >= 400 and "content" not in declared:
            declared["content"] = error_response(int(status))["content"]
    operation["responses"] = dict(sorted(responses.items()))


def _declare_success(responses: dict[str, Any], route: APIRoute, calls: set[Any]) -> None:
    success = responses.get("200")
    if success is None or route.responses.get(200) or route.responses.get("200"):
        return  # declared on the route
    # Route modules use postponed annotations: the return type is the text written.
    returns = getattr(route.endpoint, "__annotations__", {}).get("return", "")
    if returns == "Response":
        success.pop("content", None)
        success["description"] = "An empty body"
    elif any(_is_paging(call) for call in calls):
        success["content"] = {"application/json": {"schema": ref(PAGE_SCHEMA)}}
        success["description"] = "One page (ThingsBoard PageData)"


def _error_statuses(operation: dict[str, Any], signed_in: bool, calls: set[Any]) -> Iterator[int]:
    yield 400
    has_body = "requestBody" in operation or json_body in calls or read_body in calls
    if signed_in:
        yield 401
        yield 403
        if has_body or any(_names_an_item(p) for p in operation.get("parameters", [])):
            yield 404
    if has_body:
        yield 408
        yield 413
    yield 503


def _names_an_item(parameter: dict[str, Any]) -> bool:
    """A path parameter, or a query parameter naming an item (``deviceName``, ``entityGroupId``,
    ``customerTitle``): an unknown one is a 404."""
    name: str = parameter["name"]
    return parameter["in"] == "path" or name.endswith(("Name", "Title", "Id", "Ids"))


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """The API routes, also inside routers that newer FastAPI versions include lazily."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def _is_paging(call: Callable[..., Any] | None) -> bool:
    return getattr(call, "__qualname__", "").startswith("page_dependency.")


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependency_calls(dependency)
