"""Sign-in, tokens, activation and passwords over the REST API."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import build_platform
from gridlinks.config import Settings
from gridlinks.kit.clock import FixedClock
from tests.integration.factories import (
    PASSWORD,
    SYSADMIN_EMAIL,
    Api,
    activation_token,
    auth,
    create_pending_tenant_admin,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    sign_in_activated,
)

START_MS = 1_800_000_000_000


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START_MS)


@pytest.fixture
async def clocked_api(settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    """The API over a platform whose time only moves when a test moves it."""
    platform = build_platform(settings, clock)
    await platform.migrate()
    transport = httpx.ASGITransport(app=create_app(platform))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gridlinks.test") as http:
            yield await Api.start(http, platform)
    finally:
        await platform.close()


def claims_of(token: str) -> dict[str, Any]:
    """The claims, read the way tb-rest-client reads them: without checking the signature."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def unsigned(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and no signature."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def login(api: Api, email: str, password: str) -> httpx.Response:
    return await api.client.post("/api/auth/login", json={"username": email, "password": password})


async def current_user(api: Api, token: str) -> httpx.Response:
    return await api.client.get("/api/auth/user", headers=auth(token))


# --- login and tokens ---------------------------------------------------------------------


async def test_login_answers_a_token_and_a_refresh_token(api: Api) -> None:
    response = await login(api, SYSADMIN_EMAIL, PASSWORD)
    assert response.status_code == 200
    assert set(response.json()) >= {"token", "refreshToken"}


async def test_access_token_is_a_jwt_with_an_integer_expiry(api: Api) -> None:
    claims = claims_of(api.sysadmin.token)
    assert isinstance(claims["exp"], int)
    assert claims["exp"] > claims["iat"]
    assert claims["scopes"] == ["SYS_ADMIN"]


async def test_login_ignores_the_case_of_the_email(api: Api) -> None:
    response = await login(api, SYSADMIN_EMAIL.upper(), PASSWORD)
    assert response.status_code == 200


async def test_current_user_is_the_signed_in_user(api: Api) -> None:
    response = await current_user(api, api.sysadmin.token)
    assert response.status_code == 200
    assert (response.json()["email"], response.json()["authority"]) == (
        SYSADMIN_EMAIL,
        "SYS_ADMIN",
    )


async def test_refresh_token_is_traded_for_a_new_working_pair(api: Api) -> None:
    response = await api.client.post(
        "/api/auth/token", json={"refreshToken": api.sysadmin.refresh_token}
    )
    assert response.status_code == 200
    pair = response.json()
    assert claims_of(pair["refreshToken"])["scopes"] == ["REFRESH_TOKEN"]
    assert (await current_user(api, pair["token"])).status_code == 200


async def test_access_token_is_refused_as_refresh_token(api: Api) -> None:
    response = await api.client.post("/api/auth/token", json={"refreshToken": api.sysadmin.token})
    expect_error(response, 401, 10)


async def test_refresh_token_is_refused_as_access_token(api: Api) -> None:
    expect_error(await current_user(api, api.sysadmin.refresh_token), 401, 10)


async def test_plain_authorization_header_is_accepted_too(api: Api) -> None:
    response = await api.client.get(
        "/api/auth/user", headers={"Authorization": f"Bearer {api.sysadmin.token}"}
    )
    assert response.status_code == 200


async def test_request_without_a_bearer_token_is_refused(api: Api) -> None:
    # Examples of one behaviour in one test: each test pays for a database and an Argon2 hash.
    for headers in (
        {},
        {"X-Authorization": "Bearer"},
        {"X-Authorization": "Bearer   "},
        {"X-Authorization": f"Basic {api.sysadmin.token}"},
    ):
        response = await api.client.get("/api/auth/user", headers=headers)
        assert response.status_code == 401, headers
        expect_error(response, 401, 10)


# --- wrong credentials --------------------------------------------------------------------


async def test_wrong_password_is_refused_with_code_10(api: Api) -> None:
    expect_error(await login(api, SYSADMIN_EMAIL, "not-the-password"), 401, 10)


async def test_wrong_password_and_unknown_email_get_the_same_answer(api: Api) -> None:
    wrong_password = expect_error(await login(api, SYSADMIN_EMAIL, "nope-nope"), 401, 10)
    unknown_email = expect_error(await login(api, "nobody@nowhere.test", "nope-nope"), 401, 10)
    assert wrong_password["message"] == unknown_email["message"]
    assert "nobody" not in unknown_email["message"]


async def test_user_not_yet_activated_cannot_log_in(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    user = await create_user(api, tenant, {"authority": "TENANT_ADMIN"})
    body = expect_error(await login(api, user["email"], PASSWORD), 401, 10)
    unknown = expect_error(await login(api, "nobody@nowhere.test", PASSWORD), 401, 10)
    assert body["message"] == unknown["message"]


async def test_login_without_a_password_is_a_bad_request(api: Api) -> None:
    response = await api.client.post("/api/auth/login", json={"username": SYSADMIN_EMAIL})
    expect_error(response, 400, 31)


# --- forged and expired tokens ------------------------------------------------------------


async def test_token_signed_with_another_key_is_refused_with_code_10(api: Api) -> None:
    forged = jwt.encode(claims_of(api.sysadmin.token), "another-key-" + "k" * 40, "HS256")
    expect_error(await current_user(api, forged), 401, 10)


async def test_unsigned_token_is_refused_with_code_10(api: Api) -> None:
    expect_error(await current_user(api, unsigned(claims_of(api.sysadmin.token))), 401, 10)


async def test_token_with_altered_claims_is_refused_with_code_10(api: Api) -> None:
    header, _payload, signature = api.sysadmin.token.split(".")
    claims = {**claims_of(api.sysadmin.token), "scopes": ["TENANT_ADMIN"]}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    expect_error(await current_user(api, f"{header}.{payload}.{signature}"), 401, 10)


async def test_garbage_token_is_refused_with_code_10(api: Api) -> None:
    for garbage in ("garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "x" * 5000):
        response = await current_user(api, garbage)
        assert response.status_code == 401, garbage[:40]
        expect_error(response, 401, 10)


async def test_expired_access_token_is_refused_with_code_11(
    clocked_api: Api, clock: FixedClock, settings: Settings
) -> None:
    clock.advance((settings.access_token_lifetime_seconds + 1) * 1000)
    expect_error(await current_user(clocked_api, clocked_api.sysadmin.token), 401, 11)


async def test_access_token_works_until_it_expires(
    clocked_api: Api, clock: FixedClock, settings: Settings
) -> None:
    clock.advance((settings.access_token_lifetime_seconds - 1) * 1000)
    assert (await current_user(clocked_api, clocked_api.sysadmin.token)).status_code == 200


async def test_expired_refresh_token_is_refused_with_code_11(
    clocked_api: Api, clock: FixedClock, settings: Settings
) -> None:
    clock.advance((settings.refresh_token_lifetime_seconds + 1) * 1000)
    response = await clocked_api.client.post(
        "/api/auth/token", json={"refreshToken": clocked_api.sysadmin.refresh_token}
    )
    expect_error(response, 401, 11)


async def test_token_of_a_deleted_user_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    colleague = await sign_in_activated(
        api, tenant, await create_user(api, tenant, {"authority": "TENANT_ADMIN"})
    )
    await api.ok("DELETE", f"/api/user/{colleague.user['id']['id']}", tenant)
    expect_error(await current_user(api, colleague.token), 401, 10)


# --- activation ---------------------------------------------------------------------------


async def test_activation_link_is_plain_text_ending_in_the_activation_token(api: Api) -> None:
    user = await create_pending_tenant_admin(api)
    response = await api.client.get(
        f"/api/user/{user['id']['id']}/activationLink", headers=api.sysadmin.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    link = response.text
    assert link.startswith("http://gridlinks.test/")
    assert "?activateToken=" in link and len(link.rsplit("activateToken=", 1)[1]) >= 20


async def test_activation_answers_a_working_token_pair(api: Api) -> None:
    user = await create_pending_tenant_admin(api)
    account = await sign_in_activated(api, api.sysadmin, user)
    me = await current_user(api, account.token)
    assert me.status_code == 200 and me.json()["email"] == user["email"]


async def test_activation_token_works_only_once(api: Api) -> None:
    user = await create_pending_tenant_admin(api)
    token = await activation_token(api, api.sysadmin, user)
    body = {"activateToken": token, "password": PASSWORD}
    assert (await api.client.post("/api/noauth/activate", json=body)).status_code == 200
    expect_error(await api.client.post("/api/noauth/activate", json=body), 404, 32)


async def test_new_activation_link_invalidates_the_previous_one(api: Api) -> None:
    user = await create_pending_tenant_admin(api)
    first = await activation_token(api, api.sysadmin, user)
    second = await activation_token(api, api.sysadmin, user)
    old = await api.client.post(
        "/api/noauth/activate", json={"activateToken": first, "password": PASSWORD}
    )
    expect_error(old, 404, 32)
    new = await api.client.post(
        "/api/noauth/activate", json={"activateToken": second, "password": PASSWORD}
    )
    assert new.status_code == 200


async def test_activation_with_a_too_short_password_changes_nothing(api: Api) -> None:
    user = await create_pending_tenant_admin(api)
    token = await activation_token(api, api.sysadmin, user)
    short = await api.client.post(
        "/api/noauth/activate", json={"activateToken": token, "password": "123"}
    )
    expect_error(short, 400, 30)
    expect_error(await login(api, user["email"], "123"), 401, 10)
    retry = await api.client.post(
        "/api/noauth/activate", json={"activateToken": token, "password": PASSWORD}
    )
    assert retry.status_code == 200


async def test_activated_user_gets_no_new_activation_link(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    response = await api.client.get(
        f"/api/user/{tenant.user['id']['id']}/activationLink", headers=api.sysadmin.headers
    )
    expect_error(response, 400, 30)


async def test_expired_activation_link_is_refused(
    clocked_api: Api, clock: FixedClock, settings: Settings
) -> None:
    api = clocked_api
    user = await create_pending_tenant_admin(api)
    token = await activation_token(api, api.sysadmin, user)
    clock.advance((settings.activation_token_lifetime_seconds + 1) * 1000)
    response = await api.client.post(
        "/api/noauth/activate", json={"activateToken": token, "password": PASSWORD}
    )
    expect_error(response, 404, 32)


# --- password change ----------------------------------------------------------------------


async def test_changed_password_replaces_the_old_one(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    response = await api.client.post(
        "/api/auth/changePassword",
        headers=tenant.headers,
        json={"currentPassword": PASSWORD, "newPassword": "a-new-long-password"},
    )
    assert response.status_code == 200 and set(response.json()) >= {"token", "refreshToken"}
    expect_error(await login(api, tenant.email, PASSWORD), 401, 10)
    assert (await login(api, tenant.email, "a-new-long-password")).status_code == 200


async def test_password_change_needs_the_current_password(api: Api) -> None:
    response = await api.client.post(
        "/api/auth/changePassword",
        headers=api.sysadmin.headers,
        json={"currentPassword": "not-it", "newPassword": "a-new-long-password"},
    )
    expect_error(response, 400, 30)
    assert (await login(api, SYSADMIN_EMAIL, PASSWORD)).status_code == 200
