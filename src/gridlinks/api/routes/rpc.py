"""Server-side RPC (ThingsBoard's paths): live and persistent calls, and the stored calls.

The call endpoints take no request-scoped unit of work: a two-way call may wait for its
device for minutes, and must not hold a database connection meanwhile. The caller is read in
a short transaction of its own; the RPC service opens the others it needs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from gridlinks.accounts.domain import Principal
from gridlinks.api import openapi
from gridlinks.api.deps import (
    BriefPrincipal,
    CurrentPrincipal,
    JsonBody,
    PageDep,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
)
from gridlinks.api.errors import error_response
from gridlinks.kit.pagination import Page
from gridlinks.rpc.domain import RpcOutcome, parse_status, rpc_json
from gridlinks.rpc.schemas import RpcRequestBody
from gridlinks.rpc.service import RpcResult

router = APIRouter(tags=["rpc"])

# ThingsBoard's answers when a live call fails: the older /api/plugins/rpc paths answer 408
# (no reply in time) and 409 (device not connected); the /api/rpc paths 504 for both.
PLUGIN_FAILURES = {RpcOutcome.TIMEOUT: 408, RpcOutcome.OFFLINE: 409}
V2_FAILURES = {RpcOutcome.TIMEOUT: 504, RpcOutcome.OFFLINE: 504}
FAILURE_MESSAGES = {
    RpcOutcome.TIMEOUT: "The device did not answer the RPC within its timeout",
    RpcOutcome.OFFLINE: "The device is not connected; send a persistent RPC to queue it",
}
CALL_DOC = body_schema(RpcRequestBody)
_ANSWERED = openapi.json_response(
    {
        "anyOf": [
            {"description": "two-way: the device's answer, as it sent it"},
            {
                "type": "object",
                "required": ["rpcId"],
                "properties": {"rpcId": {"type": "string", "format": "uuid"}},
            },
        ]
    },
    'Two-way: the device\'s answer; persistent: {"rpcId"}; one-way: an empty body',
)
PLUGIN_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: _ANSWERED,
    408: openapi.error_response(
        408, "Two-way: the device did not answer in time (or the body did not arrive in time)"
    ),
    409: openapi.error_response(409, "The device is not connected"),
}
V2_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: _ANSWERED,
    504: openapi.error_response(504, "The device is not connected, or did not answer in time"),
}
Caller = BriefPrincipal


async def _call(
    platform: PlatformDep,
    actor: Principal,
    device_id: uuid.UUID,
    body: Any,
    *,
    oneway: bool,
    failures: dict[RpcOutcome, int],
) -> Response:
    result = await platform.rpc.call(actor, device_id, body, oneway=oneway)
    return _answer(result, failures)


def _answer(result: RpcResult, failures: dict[RpcOutcome, int]) -> Response:
    """``{"rpcId"}`` for a persistent call; the device's reply as-is for a two-way call; an
    empty 200 for a delivered one-way call; ThingsBoard's status codes for failures."""
    if result.rpc_id is not None:
        return JSONResponse({"rpcId": str(result.rpc_id)})
    if result.outcome is RpcOutcome.REPLIED and result.reply is not None:
        return JSONResponse(result.reply)
    if result.outcome in failures:
        assert result.outcome is not None
        return error_response(failures[result.outcome], FAILURE_MESSAGES[result.outcome], 2)
    return Response(status_code=200)


@router.post(
    "/api/plugins/rpc/oneway/{device_id}", openapi_extra=CALL_DOC, responses=PLUGIN_ANSWERS
)
async def plugin_oneway(
    platform: PlatformDep, actor: Caller, device_id: uuid.UUID, body: JsonBody
) -> Any:
    """One-way RPC: 200 once the device's connection took it; 409 when not connected."""
    return await _call(platform, actor, device_id, body, oneway=True, failures=PLUGIN_FAILURES)


@router.post(
    "/api/plugins/rpc/twoway/{device_id}", openapi_extra=CALL_DOC, responses=PLUGIN_ANSWERS
)
async def plugin_twoway(
    platform: PlatformDep, actor: Caller, device_id: uuid.UUID, body: JsonBody
) -> Any:
    """Two-way RPC: the device's reply; 408 without a reply in time, 409 when not connected.
    With ``"persistent": true``: ``{"rpcId"}`` at once (see ``/api/rpc/persistent``)."""
    return await _call(platform, actor, device_id, body, oneway=False, failures=PLUGIN_FAILURES)


@router.post("/api/rpc/oneway/{device_id}", openapi_extra=CALL_DOC, responses=V2_ANSWERS)
async def oneway(platform: PlatformDep, actor: Caller, device_id: uuid.UUID, body: JsonBody) -> Any:
    """One-way RPC (ThingsBoard 3.3+ path): as the plugin path, but 504 when not connected."""
    return await _call(platform, actor, device_id, body, oneway=True, failures=V2_FAILURES)


@router.post("/api/rpc/twoway/{device_id}", openapi_extra=CALL_DOC, responses=V2_ANSWERS)
async def twoway(platform: PlatformDep, actor: Caller, device_id: uuid.UUID, body: JsonBody) -> Any:
    """Two-way RPC (ThingsBoard 3.3+ path): 504 for no reply in time and not connected."""
    return await _call(platform, actor, device_id, body, oneway=False, failures=V2_FAILURES)


@router.get("/api/rpc/persistent/device/{device_id}")
async def device_persistent_rpcs(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_id: uuid.UUID,
    page: PageDep,
    rpc_status: Annotated[str | None, Query(alias="rpcStatus", max_length=16)] = None,
) -> dict[str, Any]:
    """The device's persistent RPCs (PageData), optionally of one ``rpcStatus``; sort by
    ``createdTime`` (default), ``expirationTime``, ``status`` or ``request`` (the method)."""
    items, total = await platform.rpc.page_persistent(
        uow, actor, device_id, parse_status(rpc_status), page
    )
    return Page(items, total, page).to_json(rpc_json)


@router.get("/api/rpc/persistent/{rpc_id}")
async def persistent_rpc(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, rpc_id: uuid.UUID
) -> dict[str, Any]:
    """One persistent RPC with its state and the device's response."""
    return rpc_json(await platform.rpc.get_persistent(uow, actor, rpc_id))


@router.delete("/api/rpc/persistent/{rpc_id}")
async def delete_persistent_rpc(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, rpc_id: uuid.UUID
) -> Response:
    """Delete a persistent RPC (a queued one is then never sent)."""
    await platform.rpc.delete_persistent(uow, actor, rpc_id)
    return Response(status_code=200)
