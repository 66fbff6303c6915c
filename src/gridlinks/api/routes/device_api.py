"""The HTTP device API (``/api/v1/{token}/...``): a thin adapter over ``DeviceLinkService``.

The device authenticates with its token; each route records the device's id in the request
state, for the request's log line. No route takes the request's unit of work: the service
runs (and commits) its own per call, and the long-polls hold no database connection while
they wait."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from gridlinks.api.deps import JsonBody, PlatformDep, read_body
from gridlinks.api.openapi import CLAIM_ANNOUNCEMENT, UNKNOWN_DEVICE_TOKEN, error_response
from gridlinks.delivery.messages import AttributePush, CloseConnection, RpcCall, ToDevice
from gridlinks.devicelink.ids import request_id_from_text
from gridlinks.devicelink.polls import ATTRIBUTES, RPC, poll_timeout_seconds
from gridlinks.devicelink.service import DeviceLinkService
from gridlinks.devices.domain import Device
from gridlinks.errors import AuthenticationError, BadRequestError, RequestTimeoutError
from gridlinks.telemetry.domain import EXPECTED_FORMS

router = APIRouter(tags=["device API"])

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {}}},
    }
}
_POLL_ANSWERS: dict[int | str, dict[str, Any]] = {
    **UNKNOWN_DEVICE_TOKEN,
    400: error_response(400, "timeout is not a whole number of milliseconds from 0 to 300000"),
    408: error_response(408, "Nothing arrived within the timeout: poll again"),
}
TimeoutQuery = Annotated[
    str | None,
    Query(
        alias="timeout",
        max_length=16,
        description="How long to wait, in ms (0 or none: 60000; at most 300000)",
    ),
]
KeysQuery = Annotated[
    list[str] | None,
    Query(description="Comma-separated attribute names (may repeat); none: all of them"),
]


async def _device(request: Request, service: DeviceLinkService, token: str) -> Device:
    device = await service.authenticate_token(token)
    request.state.device_id = device.id
    return device


async def _client_gone(request: Request) -> None:
    """Returns when the client closes its connection (ASGI ``http.disconnect``)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _ended(message: ToDevice | None, what: str) -> None:
    if isinstance(message, CloseConnection):
        raise AuthenticationError("The device was deleted or its credentials changed")
    raise RequestTimeoutError(f"No {what} arrived within the timeout; poll again")


@router.post(
    "/api/v1/{token}/claim", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=CLAIM_ANNOUNCEMENT
)
async def announce_claim(
    platform: PlatformDep, token: str, body: JsonBody, request: Request
) -> Response:
    """Open a claim window: optional body ``{"secretKey": "...", "durationMs": 60000}``
    (defaults: empty key, 24 h). 200 once the window is stored - or, for a device that is
    already claimed or not allowed to be claimed, once the refusal is audited."""
    device = await _device(request, platform.device_link, token)
    await platform.device_link.announce_claim(device.id, body)
    return Response(status_code=200)


@router.post("/api/v1/{token}/telemetry", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY)
async def post_telemetry(platform: PlatformDep, token: str, request: Request) -> Response:
    """Store telemetry: ``{"key": value}``, ``{"ts": <epoch ms>, "values": {...}}`` or an
    array of these (``{}`` stores nothing). 200 with an empty body once the points are
    committed; they go through the same batched writer as MQTT telemetry."""
    device = await _device(request, platform.device_link, token)
    raw = await read_body(request)
    if not raw.strip():
        raise BadRequestError(f"Telemetry body is required: {EXPECTED_FORMS}")
    await platform.device_link.store_telemetry_bytes(device.id, raw)
    return Response(status_code=200)


@router.post("/api/v1/{token}/attributes", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY)
async def post_client_attributes(
    platform: PlatformDep, token: str, body: JsonBody, request: Request
) -> Response:
    """Store client-side attributes: body ``{"key": value}``. 200 with an empty body once
    committed."""
    device = await _device(request, platform.device_link, token)
    await platform.device_link.save_client_attributes({device.id: body})
    return Response(status_code=200)


@router.get("/api/v1/{token}/attributes", responses=UNKNOWN_DEVICE_TOKEN)
async def get_attributes(
    platform: PlatformDep,
    token: str,
    request: Request,
    client_keys: Annotated[KeysQuery, Query(alias="clientKeys")] = None,
    shared_keys: Annotated[KeysQuery, Query(alias="sharedKeys")] = None,
) -> dict[str, Any]:
    """The device's attributes: ``{"client": {...}, "shared": {...}}``. With ``clientKeys``
    and/or ``sharedKeys`` only the groups and keys named; without either, every attribute."""
    device = await _device(request, platform.device_link, token)
    named = client_keys is not None or shared_keys is not None
    return await platform.device_link.read_attribute_groups(
        device.id,
        _keys(client_keys),
        _keys(shared_keys),
        client=client_keys is not None or not named,
        shared=shared_keys is not None or not named,
    )


def _keys(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [key.strip() for value in values for key in value.split(",") if key.strip()]


@router.get("/api/v1/{token}/attributes/updates", responses=_POLL_ANSWERS)
async def poll_attribute_updates(
    platform: PlatformDep, token: str, request: Request, timeout_ms: TimeoutQuery = None
) -> dict[str, Any]:
    """Long-poll for the next change of the device's shared attributes: ``{"key": value}``
    or ``{"deleted": ["key"]}``; 408 when nothing changed within ``timeout`` ms."""
    timeout_seconds = poll_timeout_seconds(timeout_ms)
    device = await _device(request, platform.device_link, token)
    message = await platform.device_link.poll(
        device.id, ATTRIBUTES, timeout_seconds, _client_gone(request)
    )
    if not isinstance(message, AttributePush):
        _ended(message, "attribute update")
    assert isinstance(message, AttributePush)
    return message.body()


@router.get("/api/v1/{token}/rpc", responses=_POLL_ANSWERS)
async def poll_rpc(
    platform: PlatformDep, token: str, request: Request, timeout_ms: TimeoutQuery = None
) -> dict[str, Any]:
    """Long-poll for the next server-side RPC request: ``{"id", "method", "params"}``; 408
    when none arrived within ``timeout`` ms. Answer it with ``POST .../rpc/{id}``."""
    timeout_seconds = poll_timeout_seconds(timeout_ms)
    device = await _device(request, platform.device_link, token)
    message = await platform.device_link.poll(
        device.id, RPC, timeout_seconds, _client_gone(request)
    )
    if not isinstance(message, RpcCall):
        _ended(message, "RPC request")
    assert isinstance(message, RpcCall)
    return {"id": message.request_id, "method": message.method, "params": message.params}


@router.post(
    "/api/v1/{token}/rpc/{request_id}", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY
)
async def reply_to_rpc(
    platform: PlatformDep, token: str, request_id: str, body: JsonBody, request: Request
) -> Response:
    """The device's reply (any JSON) to server-side RPC request ``request_id``."""
    number = request_id_from_text(request_id)
    if number is None:
        raise BadRequestError("The RPC request id must be an integer from 0 to 2147483647")
    if body is None:
        raise BadRequestError("The RPC reply body is required (any JSON value)")
    device = await _device(request, platform.device_link, token)
    await platform.device_link.rpc_replied(device.id, number, body)
    return Response(status_code=200)


@router.post("/api/v1/{token}/rpc", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY)
async def client_side_rpc(
    platform: PlatformDep, token: str, body: JsonBody, request: Request
) -> dict[str, Any]:
    """Client-side RPC ``{"method", "params"}``: ``getSessionLimits``, ``getCurrentTime``
    (``{"currentTime": <epoch ms>}``); any other method -> ``{"error": "Unsupported ..."}``."""
    device = await _device(request, platform.device_link, token)
    return platform.device_link.answer_client_rpc(body, gateway=device.is_gateway)
