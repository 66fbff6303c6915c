"""Claiming: customers claim and release devices by name (ThingsBoard's paths and answers)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.api.errors import error_response
from gridlinks.api.openapi import CLAIM_ANSWERS
from gridlinks.claiming.domain import ClaimResponse
from gridlinks.claiming.schemas import ClaimRequest
from gridlinks.claiming.service import ClaimResult
from gridlinks.devices.domain import normalize_device_name
from gridlinks.errors import (
    GridLinksError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from gridlinks.kit.ids import NULL_UUID

router = APIRouter(tags=["claiming"])


@router.post(
    "/api/customer/device/{device_name:path}/claim",
    openapi_extra=body_schema(ClaimRequest, required=False),
    responses=CLAIM_ANSWERS,
)
async def claim_device(
    request: Request,
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    actor: CurrentPrincipal,
    device_name: str,
    body: JsonBody,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    sub_customer_id: Annotated[uuid.UUID | None, Query(alias="subCustomerId")] = None,
) -> Any:
    """Claim a device of the caller's tenant with its secret key (customer users with
    ``CLAIM_DEVICES``). ``Idempotency-Key`` makes a retried successful claim answer 200 again."""
    if sub_customer_id is not None and sub_customer_id != NULL_UUID:
        raise InvalidArgumentError("subCustomerId is not supported; devices go to your customer")
    claim = validate_body(ClaimRequest, body if body is not None else {})
    # Spelled as names are stored (NFC, trimmed), so a name typed in NFD finds the device.
    result = await platform.claiming.claim(
        uow,
        actor,
        normalize_device_name(device_name),
        claim.secret_key or "",
        idempotency_key,
        client_address=request.client.host if request.client else None,
    )
    return claim_answer(result)


def claim_answer(result: ClaimResult) -> Any:
    """ThingsBoard's answers: 200 with the ClaimResult, else 400 with a bare JSON string.

    Refusals are returned, not raised: the audit entry and the lockout count a refused claim
    wrote must be committed by the request scope, and an exception would roll them back."""
    if result.response is ClaimResponse.SUCCESS:
        return result.body
    if result.response is ClaimResponse.LOCKED:
        return refusal(
            TooManyRequestsError(
                "Too many claim attempts; try again later", result.retry_after_seconds
            )
        )
    if result.response is ClaimResponse.DENIED:
        return refusal(PermissionDeniedError())
    if result.response is ClaimResponse.NOT_FOUND:
        return refusal(NotFoundError())
    return JSONResponse(result.response.value, status_code=400)


def refusal(error: GridLinksError) -> JSONResponse:
    """The error answer ``error`` would get if raised, without rolling the work back."""
    headers = None
    if isinstance(error, TooManyRequestsError):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return error_response(error.status, error.message, error.error_code, headers)


@router.delete("/api/customer/device/{device_name:path}/claim")
async def release_device(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, device_name: str
) -> Response:
    """Release (re-claim) a device: it returns to the tenant and can be claimed again.
    Tenant admins: any device of the tenant; customer users: their customer's devices."""
    await platform.claiming.release(uow, actor, device_name)
    return Response(status_code=200)
