"""Privilege escalation inside a customer, and what a customer sees of its tenant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.factories import (
    PASSWORD,
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    unique,
)

pytestmark = pytest.mark.security

PAGE = {"pageSize": 10, "page": 0}


async def admins_group(api: Api, tenant: Account, customer: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/Customer Administrators"
    group: dict[str, Any] = await api.ok("GET", path, tenant)
    return group


async def pending_customer_admin(
    api: Api, tenant: Account, customer: dict[str, Any]
) -> dict[str, Any]:
    group = await admins_group(api, tenant, customer)
    body = {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    return await create_user(api, tenant, body, f"&entityGroupId={group['id']['id']}")


async def test_customer_user_cannot_read_administrators_activation_link(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    admin = await pending_customer_admin(api, tenant, customer)
    response = await api.client.get(
        f"/api/user/{admin['id']['id']}/activationLink", headers=buyer.headers
    )
    expect_error(response, 403, 20)
    assert "activateToken" not in response.text
    # The administrator is still pending, and its rightful manager still gets a link.
    link = await api.client.get(
        f"/api/user/{admin['id']['id']}/activationLink", headers=tenant.headers
    )
    assert link.status_code == 200 and "activateToken=" in link.text


async def test_customer_user_cannot_take_over_a_pending_administrator(api: Api) -> None:
    """The whole attack: link, activation with a password of one's choice, admin actions."""
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    admin = await pending_customer_admin(api, tenant, customer)
    link = await api.client.get(
        f"/api/user/{admin['id']['id']}/activationLink", headers=buyer.headers
    )
    stolen = link.text.rsplit("activateToken=", 1)[-1] if "activateToken=" in link.text else "x"
    activation = await api.client.post(
        "/api/noauth/activate", json={"activateToken": stolen, "password": "chosen-by-mallory"}
    )
    expect_error(activation, 404, 32)
    login = await api.client.post(
        "/api/auth/login", json={"username": admin["email"], "password": "chosen-by-mallory"}
    )
    expect_error(login, 401, 10)


async def test_user_who_may_create_users_cannot_create_them_into_the_administrators(
    api: Api,
) -> None:
    """Naming a group when creating a user is a membership change: it needs the group."""
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    creators = await api.ok(
        "POST",
        "/api/entityGroup",
        tenant,
        json={"type": "USER", "name": unique("Creators"), "ownerId": customer["id"]},
    )
    role = await api.ok(
        "POST",
        "/api/role",
        tenant,
        json={"name": unique("Creator"), "type": "GENERIC", "permissions": {"USER": ["ALL"]}},
    )
    await api.ok(
        "POST",
        "/api/groupPermission",
        tenant,
        json={"userGroupId": creators["id"], "roleId": role["id"]},
    )
    creator = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={creators['id']['id']}"
    )
    group = await admins_group(api, tenant, customer)
    body = {
        "email": f"{unique('puppet')}@x.test",
        "authority": "CUSTOMER_USER",
        "customerId": customer["id"],
    }
    refused = await api.client.post(
        f"/api/user?sendActivationMail=false&entityGroupId={group['id']['id']}",
        headers=creator.headers,
        json=body,
    )
    expect_error(refused, 403, 20)
    # Into the default group it works: the permission to create users is real.
    created = await api.client.post(
        "/api/user?sendActivationMail=false", headers=creator.headers, json=body
    )
    assert created.status_code == 200, created.text


async def test_customer_administrator_cannot_make_anyone_a_tenant_admin(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await admins_group(api, tenant, customer)
    admin = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={group['id']['id']}"
    )
    colleague = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    tenant_id = tenant.user["tenantId"]
    for body in (
        {"email": f"{unique('boss')}@x.test", "authority": "TENANT_ADMIN", "tenantId": tenant_id},
        {**colleague, "authority": "TENANT_ADMIN", "tenantId": tenant_id, "customerId": None},
        {**admin.user, "authority": "TENANT_ADMIN", "tenantId": tenant_id, "customerId": None},
    ):
        response = await api.client.post("/api/user", headers=admin.headers, json=body)
        expect_error(response, 403, 20)
    users = await api.ok("GET", "/api/users", tenant, params={**PAGE, "pageSize": 50})
    authorities = {u["email"]: u["authority"] for u in users["data"]}
    assert list(authorities.values()).count("TENANT_ADMIN") == 1


async def test_disabled_user_cannot_sign_in_until_enabled_again(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    path = f"/api/user/{buyer.user['id']['id']}/userCredentialsEnabled"
    await api.ok("POST", f"{path}?userCredentialsEnabled=false", tenant)
    credentials = {"username": buyer.email, "password": PASSWORD}
    expect_error(await api.client.post("/api/auth/login", json=credentials), 401, 10)
    await api.ok("POST", f"{path}?userCredentialsEnabled=true", tenant)
    assert (await api.client.post("/api/auth/login", json=credentials)).status_code == 200


async def test_pending_user_is_not_enabled_without_its_activation(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    pending = await create_user(api, tenant, {"authority": "TENANT_ADMIN"})
    path = f"/api/user/{pending['id']['id']}/userCredentialsEnabled?userCredentialsEnabled=true"
    expect_error(await api.client.post(path, headers=tenant.headers), 400, 30)
    link = await api.client.get(
        f"/api/user/{pending['id']['id']}/activationLink", headers=tenant.headers
    )
    assert link.status_code == 200


# --- what a customer sees of its tenant (defect 7) ----------------------------------------


async def test_customer_user_cannot_list_the_tenants_administrators(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    response = await api.client.get(
        f"/api/tenant/{tenant.user['tenantId']['id']}/users", headers=buyer.headers, params=PAGE
    )
    expect_error(response, 403, 20)
    assert tenant.email not in response.text


async def test_customer_administrator_cannot_list_the_tenants_administrators(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await admins_group(api, tenant, customer)
    admin = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={group['id']['id']}"
    )
    response = await api.client.get(
        f"/api/tenant/{tenant.user['tenantId']['id']}/users", headers=admin.headers, params=PAGE
    )
    expect_error(response, 403, 20)
    assert tenant.email not in response.text


async def test_customer_user_cannot_read_its_tenant(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    own = await api.ok("GET", f"/api/tenant/{tenant.user['tenantId']['id']}", tenant)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    response = await api.client.get(
        f"/api/tenant/{tenant.user['tenantId']['id']}", headers=buyer.headers
    )
    expect_error(response, 403, 20)
    assert own["title"] not in response.text


async def test_customer_user_reads_its_own_customer_and_itself(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    assert await api.ok("GET", f"/api/customer/{customer['id']['id']}", buyer) == customer
    me = await api.ok("GET", "/api/auth/user", buyer)
    assert me["id"] == buyer.user["id"]
    assert (await api.ok("GET", f"/api/user/{me['id']['id']}", buyer))["email"] == buyer.email


async def test_customer_users_allowed_permissions_name_no_tenant_resource(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await admins_group(api, tenant, customer)
    admin = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={group['id']['id']}"
    )
    allowed = await api.ok("GET", "/api/permissions/allowedPermissions", admin)
    assert "TENANT" not in allowed["allowedResources"]
    assert "ADMIN_SETTINGS" not in allowed["allowedResources"]
    assert "USER" in allowed["allowedResources"]
