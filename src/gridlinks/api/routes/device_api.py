"""The HTTP device API (``/api/v1/{token}/...``): the device authenticates with its token."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gridlinks.api.deps import JsonBody, PlatformDep, UnitOfWorkDep

router = APIRouter(tags=["device API"])


@router.post("/api/v1/{token}/claim", responses={401: {"description": "unknown token"}})
async def announce_claim(
    platform: PlatformDep, uow: UnitOfWorkDep, token: str, body: JsonBody
) -> Response:
    """Open a claim window: optional body ``{"secretKey": "...", "durationMs": 60000}``
    (defaults: empty key, 24 h). 200 once the window is stored - or, for a device that is
    already claimed or not allowed to be claimed, once the refusal is audited."""
    device = await platform.devices.authenticate_access_token(uow, token)
    await platform.claiming.announce(uow, device, body)
    await uow.commit()
    return Response(status_code=200)
