"""Sign-in, token refresh, the current user, activation and password change."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from gridlinks.accounts.schemas import (
    ActivateRequest,
    ChangePasswordRequest,
    LoginRequest,
    RefreshRequest,
    user_json,
)
from gridlinks.api.deps import (
    CurrentPrincipal,
    JsonBody,
    PlatformDep,
    UnitOfWorkDep,
    body_schema,
    validate_body,
)
from gridlinks.errors import AuthenticationError

router = APIRouter(tags=["auth"])
log = logging.getLogger("gridlinks.auth")


@router.post("/api/auth/login", openapi_extra=body_schema(LoginRequest))
async def login(
    platform: PlatformDep, uow: UnitOfWorkDep, body: JsonBody, request: Request
) -> dict[str, Any]:
    """Sign in with e-mail and password; answers ``{token, refreshToken}``."""
    data = validate_body(LoginRequest, body)
    try:
        pair = await platform.accounts.login(uow, data.username, data.password)
    except AuthenticationError as exc:
        _log_failed_sign_in(request, data.username, exc.message)
        raise
    return pair.to_json()


def _log_failed_sign_in(request: Request, account: str, reason: str) -> None:
    """Which account and from where; never the password."""
    client = request.client
    address = f"{client.host}:{client.port}" if client else "-"
    log.warning(
        "sign-in failed for %s: %s client=%s",
        account,
        reason,
        address,
        extra={"account": account, "reason": reason, "client": address},
    )


@router.post("/api/auth/token", openapi_extra=body_schema(RefreshRequest))
async def refresh(platform: PlatformDep, uow: UnitOfWorkDep, body: JsonBody) -> dict[str, Any]:
    """Trade a refresh token for a new pair."""
    data = validate_body(RefreshRequest, body)
    return (await platform.accounts.refresh(uow, data.refresh_token)).to_json()


@router.get("/api/auth/user")
async def current_user(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    """The signed-in user."""
    return user_json(await platform.accounts.get_user(uow, actor, actor.user_id))


@router.post("/api/auth/logout")
async def logout(platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal) -> Response:
    """Sign out: every access and refresh token of the caller stops working, on every device
    it is signed in on."""
    await platform.accounts.logout(uow, actor)
    return Response()


@router.post("/api/noauth/activate", openapi_extra=body_schema(ActivateRequest))
async def activate(
    platform: PlatformDep,
    uow: UnitOfWorkDep,
    body: JsonBody,
) -> dict[str, Any]:
    """Set the password of a new user from its activation token and sign it in."""
    data = validate_body(ActivateRequest, body)
    pair = await platform.activation.activate(uow, data.activate_token, data.password)
    return pair.to_json()


@router.post("/api/auth/changePassword", openapi_extra=body_schema(ChangePasswordRequest))
async def change_password(
    platform: PlatformDep, uow: UnitOfWorkDep, actor: CurrentPrincipal, body: JsonBody
) -> dict[str, Any]:
    """Change the signed-in user's password; answers a fresh token pair, and every token
    issued before (on any device) stops working."""
    data = validate_body(ChangePasswordRequest, body)
    pair = await platform.activation.change_password(
        uow, actor, data.current_password, data.new_password
    )
    return pair.to_json()
