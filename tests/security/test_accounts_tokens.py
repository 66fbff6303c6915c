"""Token revocation: after sign-out, a password change or disabling a user, no token issued
before works any more; the pair answered by the password change does."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.factories import (
    PASSWORD,
    Account,
    Api,
    activation_token,
    auth,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    login,
    sign_in_activated,
)

pytestmark = pytest.mark.security

NEW_PASSWORD = "a-brand-new-password"


async def me(api: Api, token: str) -> httpx.Response:
    return await api.client.get("/api/auth/user", headers=auth(token))


async def refreshed(api: Api, refresh_token: str) -> httpx.Response:
    return await api.client.post("/api/auth/token", json={"refreshToken": refresh_token})


async def change_password(api: Api, account: Account) -> dict[str, str]:
    pair: dict[str, str] = await api.ok(
        "POST",
        "/api/auth/changePassword",
        account,
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
    )
    return pair


async def assert_revoked(api: Api, account: Account) -> None:
    """Neither the access token nor the refresh token of ``account`` works any more."""
    expect_error(await me(api, account.token), 401, 11)
    expect_error(await refreshed(api, account.refresh_token), 401, 11)


async def test_old_tokens_are_refused_after_a_password_change(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    await change_password(api, tenant)
    await assert_revoked(api, tenant)


async def test_pair_answered_by_the_password_change_keeps_the_caller_signed_in(
    api: Api,
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    pair = await change_password(api, tenant)
    assert (await me(api, pair["token"])).status_code == 200
    again = await refreshed(api, pair["refreshToken"])
    assert again.status_code == 200
    assert (await me(api, again.json()["token"])).status_code == 200


async def test_old_tokens_are_refused_after_sign_out(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    await api.ok("POST", "/api/auth/logout", tenant)
    await assert_revoked(api, tenant)


async def test_refreshed_tokens_are_revoked_by_sign_out_too(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    pair = (await refreshed(api, tenant.refresh_token)).json()
    renewed = Account(pair["token"], pair["refreshToken"], tenant.email, tenant.user)
    await api.ok("POST", "/api/auth/logout", renewed)
    await assert_revoked(api, renewed)
    await assert_revoked(api, tenant)


async def test_sign_out_ends_every_session_of_the_user(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    second_device = await login(api.client, tenant.email, PASSWORD)
    await api.ok("POST", "/api/auth/logout", tenant)
    await assert_revoked(api, second_device)


async def test_user_signs_in_again_after_sign_out(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    await api.ok("POST", "/api/auth/logout", tenant)
    fresh = await login(api.client, tenant.email, PASSWORD)
    assert (await me(api, fresh.token)).status_code == 200
    assert (await refreshed(api, fresh.refresh_token)).status_code == 200


async def test_other_users_tokens_survive_a_sign_out_and_a_password_change(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    colleague = await sign_in_activated(
        api, tenant, await create_user(api, tenant, {"authority": "TENANT_ADMIN"})
    )
    await api.ok("POST", "/api/auth/logout", tenant)
    other = await create_tenant_admin_quickly(api)
    await change_password(api, other)
    for account in (colleague, api.sysadmin):
        assert (await me(api, account.token)).status_code == 200
        assert (await refreshed(api, account.refresh_token)).status_code == 200


async def test_tokens_of_a_disabled_user_stay_dead_after_it_is_enabled_again(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    path = f"/api/user/{buyer.user['id']['id']}/userCredentialsEnabled"
    await api.ok("POST", f"{path}?userCredentialsEnabled=false", tenant)
    expect_error(await me(api, buyer.token), 401, 10)  # disabled: not active
    await api.ok("POST", f"{path}?userCredentialsEnabled=true", tenant)
    await assert_revoked(api, buyer)
    assert (await login(api.client, buyer.email, PASSWORD)).token


async def test_tokens_of_a_deleted_user_are_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    colleague = await sign_in_activated(
        api, tenant, await create_user(api, tenant, {"authority": "TENANT_ADMIN"})
    )
    await api.ok("DELETE", f"/api/user/{colleague.user['id']['id']}", tenant)
    expect_error(await me(api, colleague.token), 401, 10)
    expect_error(await refreshed(api, colleague.refresh_token), 401, 10)


async def test_failed_password_change_revokes_nothing(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    response = await api.client.post(
        "/api/auth/changePassword",
        headers=tenant.headers,
        json={"currentPassword": "not-the-password", "newPassword": NEW_PASSWORD},
    )
    expect_error(response, 400, 30)
    assert (await me(api, tenant.token)).status_code == 200
    assert (await refreshed(api, tenant.refresh_token)).status_code == 200


async def test_sign_out_without_a_token_is_refused(api: Api) -> None:
    expect_error(await api.client.post("/api/auth/logout"), 401, 10)
    assert (await me(api, api.sysadmin.token)).status_code == 200


async def test_administrator_resets_a_password_by_disabling_and_a_new_activation_link(
    api: Api,
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    path = f"/api/user/{buyer.user['id']['id']}/userCredentialsEnabled"
    await api.ok("POST", f"{path}?userCredentialsEnabled=false", tenant)
    token = await activation_token(api, tenant, buyer.user)
    response = await api.client.post(
        "/api/noauth/activate", json={"activateToken": token, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert (await me(api, response.json()["token"])).status_code == 200
    await assert_revoked(api, buyer)
    old = {"username": buyer.email, "password": PASSWORD}
    expect_error(await api.client.post("/api/auth/login", json=old), 401, 10)
    assert (await login(api.client, buyer.email, NEW_PASSWORD)).token
