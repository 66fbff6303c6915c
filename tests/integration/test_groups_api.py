"""User groups, roles and group permissions (ThingsBoard PE model) over the REST API."""

from __future__ import annotations

from typing import Any

from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    unique,
)

CLAIM_ONLY = {"DEVICE": ["CLAIM_DEVICES"]}
PAGE = {"pageSize": 10, "page": 0}


async def find_group(api: Api, tenant: Account, customer: dict[str, Any], name: str) -> Any:
    return await api.ok(
        "GET", f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/{name}", tenant
    )


async def create_group(api: Api, tenant: Account, customer: dict[str, Any], name: str = "") -> Any:
    body = {"type": "USER", "name": name or unique("Group"), "ownerId": customer["id"]}
    return await api.ok("POST", "/api/entityGroup", tenant, json=body)


async def create_role(api: Api, tenant: Account, permissions: Any = CLAIM_ONLY) -> Any:
    body = {"name": unique("Role"), "type": "GENERIC", "permissions": permissions}
    return await api.ok("POST", "/api/role", tenant, json=body)


async def grant(api: Api, tenant: Account, group: dict[str, Any], role: dict[str, Any]) -> Any:
    body = {"userGroupId": group["id"], "roleId": role["id"]}
    return await api.ok("POST", "/api/groupPermission", tenant, json=body)


async def create_claimers_group(api: Api, tenant: Account, customer: dict[str, Any]) -> Any:
    """A customer's user group whose only right is ``DEVICE: CLAIM_DEVICES``."""
    group = await create_group(api, tenant, customer, "Claimers")
    await grant(api, tenant, group, await create_role(api, tenant))
    return group


async def generic_permissions(api: Api, account: Account) -> dict[str, list[str]]:
    allowed = await api.ok("GET", "/api/permissions/allowedPermissions", account)
    permissions: dict[str, list[str]] = allowed["userPermissions"]["genericPermissions"]
    return permissions


# --- built-in groups ----------------------------------------------------------------------


async def test_new_customer_has_the_two_built_in_user_groups(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    groups = await api.ok("GET", f"/api/entityGroups/CUSTOMER/{customer['id']['id']}/USER", tenant)
    assert sorted(g["name"] for g in groups) == ["Customer Administrators", "Customer Users"]
    assert all(g["ownerIds"] == [customer["id"]] for g in groups)


async def test_built_in_group_is_found_by_owner_and_name(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await find_group(api, tenant, customer, "Customer Users")
    assert (group["type"], group["name"], group["ownerId"]) == (
        "USER",
        "Customer Users",
        customer["id"],
    )


async def test_customer_users_group_holds_the_customer_user_role(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await find_group(api, tenant, customer, "Customer Users")
    permissions = await api.ok(
        "GET", f"/api/userGroup/{group['id']['id']}/groupPermissions", tenant
    )
    assert [p["role"]["name"] for p in permissions] == ["Customer User"]
    assert "CLAIM_DEVICES" in permissions[0]["role"]["permissions"]["DEVICE"]


async def test_built_in_group_cannot_be_deleted(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await find_group(api, tenant, customer, "Customer Users")
    expect_error(
        await api.client.delete(f"/api/entityGroup/{group['id']['id']}", headers=tenant.headers),
        400,
        30,
    )
    assert await api.ok("GET", f"/api/entityGroup/{group['id']['id']}", tenant) == group


async def test_built_in_group_cannot_be_renamed(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await find_group(api, tenant, customer, "Customer Users")
    response = await api.client.post(
        "/api/entityGroup", headers=tenant.headers, json={**group, "name": "Everyone"}
    )
    expect_error(response, 400, 30)
    await create_user(api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]})


async def test_built_in_role_cannot_be_deleted(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    roles = await api.ok("GET", "/api/roles", tenant, params={**PAGE, "type": "GENERIC"})
    built_in = next(r for r in roles["data"] if r["name"] == "Customer User")
    response = await api.client.delete(f"/api/role/{built_in['id']['id']}", headers=tenant.headers)
    expect_error(response, 400, 30)
    assert await api.ok("GET", f"/api/role/{built_in['id']['id']}", tenant) == built_in


# --- custom groups, roles and permissions -------------------------------------------------


async def test_user_group_owned_by_a_customer_answers_its_owner_ids(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await create_group(api, tenant, customer, "Claimers")
    assert (group["type"], group["name"]) == ("USER", "Claimers")
    assert group["ownerIds"] == [customer["id"]]
    assert group["id"]["entityType"] == "ENTITY_GROUP"


async def test_group_name_is_unique_per_owner(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    await create_group(api, tenant, customer, "Claimers")
    response = await api.client.post(
        "/api/entityGroup",
        headers=tenant.headers,
        json={"type": "USER", "name": "Claimers", "ownerId": customer["id"]},
    )
    expect_error(response, 400, 31)


async def test_generic_role_echoes_its_permissions(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    role = await create_role(api, tenant, CLAIM_ONLY)
    assert (role["type"], role["permissions"]) == ("GENERIC", CLAIM_ONLY)
    assert await api.ok("GET", f"/api/role/{role['id']['id']}", tenant) == role


async def test_role_with_invalid_permissions_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    invalid = [
        {"SPACESHIP": ["READ"]},  # unknown resource
        {"DEVICE": "CLAIM_DEVICES"},  # operations not a list
        {"DEVICE": ["FLY"]},  # unknown operation
        {"DEVICE": [1]},
        ["READ"],  # a list is for GROUP roles
        "ALL",
    ]
    for permissions in invalid:
        body = {"name": unique("Role"), "type": "GENERIC", "permissions": permissions}
        response = await api.client.post("/api/role", headers=tenant.headers, json=body)
        assert response.status_code == 400, permissions
        expect_error(response, 400, 30)
    roles = await api.ok("GET", "/api/roles", tenant, params=PAGE)
    assert sorted(r["name"] for r in roles["data"]) == ["Customer Administrator", "Customer User"]


async def test_role_of_an_unknown_type_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    body = {"name": "Odd", "type": "SPECIAL", "permissions": CLAIM_ONLY}
    expect_error(await api.client.post("/api/role", headers=tenant.headers, json=body), 400, 30)


async def test_role_for_a_customer_that_does_not_exist_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    body = {
        "name": "Ghost's",
        "type": "GENERIC",
        "permissions": CLAIM_ONLY,
        "customerId": {"entityType": "CUSTOMER", "id": "0b6f1a5e-0000-4000-8000-000000000000"},
    }
    expect_error(await api.client.post("/api/role", headers=tenant.headers, json=body), 404, 32)


async def test_role_with_the_null_customer_id_belongs_to_the_tenant(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    role = await create_role(api, tenant)
    saved = await api.ok(
        "POST", "/api/role", tenant, json={**role, "id": None, "name": unique("Copy")}
    )
    assert saved["ownerId"] == tenant.user["tenantId"]


async def test_group_permission_gives_a_role_to_a_user_group(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await create_group(api, tenant, customer)
    role = await create_role(api, tenant)
    permission = await grant(api, tenant, group, role)
    assert (permission["userGroupId"], permission["roleId"]) == (group["id"], role["id"])
    listed = await api.ok("GET", f"/api/userGroup/{group['id']['id']}/groupPermissions", tenant)
    assert [(p["id"], p["role"]["permissions"]) for p in listed] == [(permission["id"], CLAIM_ONLY)]


async def test_custom_group_and_role_can_be_deleted(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group, role = await create_group(api, tenant, customer), await create_role(api, tenant)
    await api.ok("DELETE", f"/api/entityGroup/{group['id']['id']}", tenant)
    await api.ok("DELETE", f"/api/role/{role['id']['id']}", tenant)
    expect_error(
        await api.client.get(f"/api/entityGroup/{group['id']['id']}", headers=tenant.headers),
        404,
        32,
    )
    expect_error(
        await api.client.get(f"/api/role/{role['id']['id']}", headers=tenant.headers), 404, 32
    )


# --- what membership grants ---------------------------------------------------------------


async def test_default_customer_user_may_read_and_claim_devices(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_customer_user_quickly(api, tenant, customer)
    device = (await generic_permissions(api, user))["DEVICE"]
    assert {"READ", "CLAIM_DEVICES"} <= set(device)


async def test_user_created_into_a_custom_group_gets_only_that_groups_permissions(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    claimers = await create_claimers_group(api, tenant, customer)
    user = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={claimers['id']['id']}"
    )
    assert await generic_permissions(api, user) == CLAIM_ONLY


async def test_user_with_only_the_claim_right_cannot_read_devices(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    device = await api.create_device(tenant, customerId=customer["id"])
    claimers = await create_claimers_group(api, tenant, customer)
    user = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={claimers['id']['id']}"
    )
    listed = await api.client.get(
        f"/api/customer/{customer['id']['id']}/devices", headers=user.headers, params=PAGE
    )
    expect_error(listed, 403, 20)
    one = await api.client.get(f"/api/device/{device['id']['id']}", headers=user.headers)
    assert device["name"] not in expect_error(one, 403, 20)["message"]


async def test_user_added_to_a_group_gains_its_permissions(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    claimers = await create_claimers_group(api, tenant, customer)
    user = await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={claimers['id']['id']}"
    )
    users_group = await find_group(api, tenant, customer, "Customer Users")
    await api.ok(
        "POST",
        f"/api/entityGroup/{users_group['id']['id']}/addEntities",
        tenant,
        json=[user.user["id"]["id"]],
    )
    assert "READ" in (await generic_permissions(api, user))["DEVICE"]


async def test_user_removed_from_a_group_loses_its_permissions(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_customer_user_quickly(api, tenant, customer)
    users_group = await find_group(api, tenant, customer, "Customer Users")
    await api.ok(
        "POST",
        f"/api/entityGroup/{users_group['id']['id']}/deleteEntities",
        tenant,
        json=[user.user["id"]["id"]],
    )
    assert await generic_permissions(api, user) == {}


async def test_another_customers_user_cannot_be_added_to_a_group(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer, other = await api.create_customer(tenant), await api.create_customer(tenant)
    group = await create_group(api, tenant, customer)
    outsider = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": other["id"]}
    )
    response = await api.client.post(
        f"/api/entityGroup/{group['id']['id']}/addEntities",
        headers=tenant.headers,
        json=[outsider["id"]["id"]],
    )
    expect_error(response, 404, 32)


async def test_group_members_must_be_given_as_a_list_of_ids(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    group = await create_group(api, tenant, customer)
    path = f"/api/entityGroup/{group['id']['id']}/addEntities"
    for body in ({"id": "x"}, ["not-a-uuid"], [1], None):
        response = await api.client.post(path, headers=tenant.headers, json=body)
        assert response.status_code == 400, body
        expect_error(response, 400, 31)


async def test_customer_user_cannot_create_user_groups(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_customer_user_quickly(api, tenant, customer)
    for owner in (customer["id"], tenant.user["tenantId"]):
        body = {"type": "USER", "name": unique("Mine"), "ownerId": owner}
        response = await api.client.post("/api/entityGroup", headers=user.headers, json=body)
        assert response.status_code == 403, owner
        expect_error(response, 403, 20)
    groups = await api.ok("GET", f"/api/entityGroups/CUSTOMER/{customer['id']['id']}/USER", tenant)
    assert len(groups) == 2
