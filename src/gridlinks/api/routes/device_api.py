"""The HTTP device API (``/api/v1/{token}/...``): the device authenticates with its token.
Each route records the device's id in the request state, for the request's log line."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gridlinks.api.deps import JsonBody, PlatformDep, UnitOfWorkDep, read_body
from gridlinks.api.openapi import CLAIM_ANNOUNCEMENT, UNKNOWN_DEVICE_TOKEN
from gridlinks.attributes.domain import CLIENT_SCOPE
from gridlinks.errors import BadRequestError
from gridlinks.telemetry.domain import EXPECTED_FORMS, parse_telemetry_bytes

router = APIRouter(tags=["device API"])

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {}}},
    }
}


@router.post(
    "/api/v1/{token}/claim", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=CLAIM_ANNOUNCEMENT
)
async def announce_claim(
    platform: PlatformDep, uow: UnitOfWorkDep, token: str, body: JsonBody, request: Request
) -> Response:
    """Open a claim window: optional body ``{"secretKey": "...", "durationMs": 60000}``
    (defaults: empty key, 24 h). 200 once the window is stored - or, for a device that is
    already claimed or not allowed to be claimed, once the refusal is audited."""
    device = await platform.devices.authenticate_access_token(uow, token)
    request.state.device_id = device.id
    await platform.claiming.announce(uow, device, body)
    await uow.commit()
    return Response(status_code=200)


@router.post("/api/v1/{token}/telemetry", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY)
async def post_telemetry(platform: PlatformDep, token: str, request: Request) -> Response:
    """Store telemetry: ``{"key": value}``, ``{"ts": <epoch ms>, "values": {...}}`` or an
    array of these (``{}`` stores nothing). 200 with an empty body once the points are
    committed; they go through the same batched writer as MQTT telemetry."""
    # No request unit of work here: on SQLite a write one would hold the single writer's lock
    # while the batch that has to commit these points waits for it.
    async with platform.unit_of_work(write=False) as uow:
        device = await platform.devices.authenticate_access_token(uow, token)
    request.state.device_id = device.id
    raw = await read_body(request)
    if not raw.strip():
        raise BadRequestError(f"Telemetry body is required: {EXPECTED_FORMS}")
    points = parse_telemetry_bytes(raw, platform.clock.now_ms())
    await platform.telemetry_writer.write(device.id, points)
    return Response(status_code=200)


@router.post("/api/v1/{token}/attributes", responses=UNKNOWN_DEVICE_TOKEN, openapi_extra=_JSON_BODY)
async def post_client_attributes(
    platform: PlatformDep, uow: UnitOfWorkDep, token: str, body: JsonBody, request: Request
) -> Response:
    """Store client-side attributes: body ``{"key": value}``. 200 with an empty body once
    committed."""
    device = await platform.devices.authenticate_access_token(uow, token)
    request.state.device_id = device.id
    await platform.attributes.save(uow, "DEVICE", device.id, CLIENT_SCOPE, body)
    await uow.commit()
    return Response(status_code=200)
