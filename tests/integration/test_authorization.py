"""Object-level authorization: another tenant's ids and another customer's objects stay out
of reach, and answers never carry their data."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    unique,
)

PAGE = {"pageSize": 10, "page": 0}


def refused_without(response: httpx.Response, *secrets: str) -> None:
    """403 or 404 as ThingsBoard error JSON, and none of ``secrets`` in the answer."""
    assert response.status_code in (403, 404), (response.status_code, response.text)
    expect_error(response, response.status_code, 20 if response.status_code == 403 else 32)
    for secret in secrets:
        assert secret not in response.text


async def attempts(
    api: Api, intruder: Account, calls: list[tuple[str, str, Any]]
) -> list[httpx.Response]:
    return [
        await api.client.request(method, path, headers=intruder.headers, json=body)
        for method, path, body in calls
    ]


# --- another tenant's objects -------------------------------------------------------------


async def test_another_tenants_device_is_out_of_reach(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(intruder)
    device = await api.create_device(owner, name=unique("Secret Meter"))
    device_id = device["id"]["id"]
    calls = [
        ("GET", f"/api/device/{device_id}", None),
        ("GET", f"/api/device/{device_id}/credentials", None),
        ("GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes", None),
        ("POST", f"/api/plugins/telemetry/{device_id}/SERVER_SCOPE", {"stolen": True}),
        ("POST", "/api/device", {"id": device["id"], "name": "Taken Over"}),
        ("POST", "/api/device/credentials", {"deviceId": device["id"], "credentialsId": "mine"}),
        ("POST", f"/api/customer/{customer['id']['id']}/device/{device_id}", None),
        ("DELETE", f"/api/device/{device_id}", None),
    ]
    for response in await attempts(api, intruder, calls):
        refused_without(response, device["name"])
    kept = await api.ok("GET", f"/api/device/{device_id}", owner)
    assert (kept["name"], kept["customerId"]) == (device["name"], device["customerId"])
    attributes = await api.ok(
        "GET", f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes", owner
    )
    assert attributes == []


async def test_another_tenants_device_is_not_found_by_name(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    device = await api.create_device(owner, name=unique("Secret Meter"))
    for path in ("/api/tenant/device", "/api/tenant/devices"):
        response = await api.client.get(
            path, headers=intruder.headers, params={"deviceName": device["name"]}
        )
        refused_without(response, device["id"]["id"])


async def test_another_tenants_customer_is_out_of_reach(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    customer_id = customer["id"]["id"]
    calls = [
        ("GET", f"/api/customer/{customer_id}", None),
        ("GET", f"/api/customer/{customer_id}/users?pageSize=10&page=0", None),
        ("GET", f"/api/customer/{customer_id}/devices?pageSize=10&page=0", None),
        ("POST", "/api/customer", {"id": customer["id"], "title": "Taken Over"}),
        (
            "POST",
            "/api/user?sendActivationMail=false",
            {"email": "mole@x.test", "authority": "CUSTOMER_USER", "customerId": customer["id"]},
        ),
        ("DELETE", f"/api/customer/{customer_id}", None),
    ]
    for response in await attempts(api, intruder, calls):
        refused_without(response, customer["title"])
    kept = await api.ok("GET", f"/api/customer/{customer_id}", owner)
    assert kept["title"] == customer["title"]
    assert (await api.ok("GET", f"/api/customer/{customer_id}/users", owner, params=PAGE))[
        "data"
    ] == []


async def test_another_tenants_customer_is_not_found_by_title(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    response = await api.client.get(
        "/api/tenant/customers",
        headers=intruder.headers,
        params={"customerTitle": customer["title"]},
    )
    refused_without(response, customer["id"]["id"])


async def test_another_tenants_user_is_out_of_reach(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    user = await create_user(
        api, owner, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    user_id = user["id"]["id"]
    calls = [
        ("GET", f"/api/user/{user_id}", None),
        ("GET", f"/api/user/{user_id}/activationLink", None),
        ("POST", "/api/user?sendActivationMail=false", {**user, "firstName": "Mallory"}),
        ("DELETE", f"/api/user/{user_id}", None),
    ]
    for response in await attempts(api, intruder, calls):
        refused_without(response, user["email"], "activateToken")
    kept = await api.ok("GET", f"/api/user/{user_id}", owner)
    assert kept["firstName"] is None


async def test_another_tenants_group_is_out_of_reach(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    name = unique("Secret Group")
    group = await api.ok(
        "POST",
        "/api/entityGroup",
        owner,
        json={"type": "USER", "name": name, "ownerId": customer["id"]},
    )
    own_role = await api.ok(
        "POST",
        "/api/role",
        intruder,
        json={"name": "r", "type": "GENERIC", "permissions": {"ALL": ["ALL"]}},
    )
    group_id = group["id"]["id"]
    calls = [
        ("GET", f"/api/entityGroup/{group_id}", None),
        ("GET", f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/{name}", None),
        ("GET", f"/api/userGroup/{group_id}/groupPermissions", None),
        ("POST", "/api/entityGroup", {**group, "name": "Renamed"}),
        ("POST", f"/api/entityGroup/{group_id}/addEntities", [intruder.user["id"]["id"]]),
        ("POST", "/api/groupPermission", {"userGroupId": group["id"], "roleId": own_role["id"]}),
        ("DELETE", f"/api/entityGroup/{group_id}", None),
    ]
    for response in await attempts(api, intruder, calls):
        refused_without(response, name)
    listed = await api.client.get(
        f"/api/entityGroups/CUSTOMER/{customer['id']['id']}/USER", headers=intruder.headers
    )
    assert listed.status_code == 200 and listed.json() == []
    assert (await api.ok("GET", f"/api/entityGroup/{group_id}", owner))["name"] == name


async def test_group_cannot_be_created_for_another_tenants_customer(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    for owner_id in (customer["id"], owner.user["tenantId"]):
        body = {"type": "USER", "name": unique("Mole"), "ownerId": owner_id}
        response = await api.client.post("/api/entityGroup", headers=intruder.headers, json=body)
        refused_without(response, customer["title"])
    groups = await api.ok("GET", f"/api/entityGroups/CUSTOMER/{customer['id']['id']}/USER", owner)
    assert len(groups) == 2


async def test_another_tenants_role_is_out_of_reach(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    name = unique("Secret Role")
    role = await api.ok(
        "POST",
        "/api/role",
        owner,
        json={"name": name, "type": "GENERIC", "permissions": {"DEVICE": ["READ"]}},
    )
    customer = await api.create_customer(intruder)
    own_group = await api.ok(
        "GET", f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/Customer Users", intruder
    )
    role_id = role["id"]["id"]
    calls = [
        ("GET", f"/api/role/{role_id}", None),
        ("POST", "/api/role", {**role, "permissions": {"ALL": ["ALL"]}}),
        ("POST", "/api/groupPermission", {"userGroupId": own_group["id"], "roleId": role["id"]}),
        ("DELETE", f"/api/role/{role_id}", None),
    ]
    for response in await attempts(api, intruder, calls):
        refused_without(response, name)
    roles = await api.ok("GET", "/api/roles", intruder, params=PAGE)
    assert name not in str(roles)
    assert (await api.ok("GET", f"/api/role/{role_id}", owner))["permissions"] == {
        "DEVICE": ["READ"]
    }


async def test_role_cannot_be_made_for_another_tenants_customer(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    customer = await api.create_customer(owner)
    body = {
        "name": unique("Mole"),
        "type": "GENERIC",
        "permissions": {},
        "customerId": customer["id"],
    }
    refused_without(
        await api.client.post("/api/role", headers=intruder.headers, json=body), customer["title"]
    )


async def test_tenant_admin_cannot_read_another_tenant(api: Api) -> None:
    owner, intruder = await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)
    tenant_id = owner.user["tenantId"]["id"]
    for path in (f"/api/tenant/{tenant_id}", f"/api/tenant/{tenant_id}/users?pageSize=10&page=0"):
        refused_without(await api.client.get(path, headers=intruder.headers), owner.email)


# --- a customer user sees only its own customer -------------------------------------------


async def customer_setup(api: Api) -> tuple[Account, dict[str, Any], dict[str, Any], Account]:
    """A tenant admin, its customer, another customer of it, and a user of the first."""
    tenant = await create_tenant_admin_quickly(api)
    customer, other = await api.create_customer(tenant), await api.create_customer(tenant)
    return tenant, customer, other, await create_customer_user_quickly(api, tenant, customer)


async def test_customer_user_reads_a_device_of_its_customer(api: Api) -> None:
    tenant, customer, _other, user = await customer_setup(api)
    device = await api.create_device(tenant, customerId=customer["id"])
    assert await api.ok("GET", f"/api/device/{device['id']['id']}", user) == device


async def test_customer_user_cannot_read_an_unassigned_device(api: Api) -> None:
    tenant, _customer, _other, user = await customer_setup(api)
    device = await api.create_device(tenant, name=unique("Spare"))
    response = await api.client.get(f"/api/device/{device['id']['id']}", headers=user.headers)
    expect_error(response, 403, 20)
    assert device["name"] not in response.text


async def test_customer_user_cannot_read_another_customers_device(api: Api) -> None:
    tenant, _customer, other, user = await customer_setup(api)
    device = await api.create_device(tenant, name=unique("Theirs"), customerId=other["id"])
    for path in (
        f"/api/device/{device['id']['id']}",
        f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/attributes",
    ):
        response = await api.client.get(path, headers=user.headers)
        expect_error(response, 403, 20)
        assert device["name"] not in response.text


async def test_customer_user_cannot_list_another_customers_devices(api: Api) -> None:
    tenant, _customer, other, user = await customer_setup(api)
    device = await api.create_device(tenant, name=unique("Theirs"), customerId=other["id"])
    response = await api.client.get(
        f"/api/customer/{other['id']['id']}/devices", headers=user.headers, params=PAGE
    )
    expect_error(response, 403, 20)
    assert device["name"] not in response.text


async def test_customer_user_cannot_list_tenant_devices(api: Api) -> None:
    tenant, _customer, _other, user = await customer_setup(api)
    device = await api.create_device(tenant, name=unique("Spare"))
    response = await api.client.get("/api/tenant/devices", headers=user.headers, params=PAGE)
    expect_error(response, 403, 20)
    assert device["name"] not in response.text


async def test_customer_user_lists_only_its_own_devices(api: Api) -> None:
    tenant, customer, other, user = await customer_setup(api)
    mine = await api.create_device(tenant, customerId=customer["id"])
    await api.create_device(tenant, customerId=other["id"])
    await api.create_device(tenant)
    for path in ("/api/user/devices", f"/api/customer/{customer['id']['id']}/devices"):
        listed = await api.ok("GET", path, user, params=PAGE)
        assert [d["id"] for d in listed["data"]] == [mine["id"]]


async def test_customer_user_cannot_create_devices(api: Api) -> None:
    tenant, customer, _other, user = await customer_setup(api)
    body = {"name": unique("Mine"), "customerId": customer["id"]}
    expect_error(await api.client.post("/api/device", headers=user.headers, json=body), 403, 20)
    listed = await api.ok("GET", "/api/tenant/devices", tenant, params=PAGE)
    assert listed["totalElements"] == 0


async def test_customer_user_cannot_write_credentials_of_its_own_device(api: Api) -> None:
    tenant, customer, _other, user = await customer_setup(api)
    device = await api.create_device(tenant, customerId=customer["id"])
    before = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    body = {
        "deviceId": device["id"],
        "credentialsType": "ACCESS_TOKEN",
        "credentialsId": unique("tok"),
    }
    response = await api.client.post("/api/device/credentials", headers=user.headers, json=body)
    expect_error(response, 403, 20)
    assert await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant) == before


async def test_customer_user_cannot_write_attributes_of_its_own_device(api: Api) -> None:
    tenant, customer, _other, user = await customer_setup(api)
    device = await api.create_device(tenant, customerId=customer["id"])
    path = f"/api/plugins/telemetry/{device['id']['id']}/SERVER_SCOPE"
    expect_error(await api.client.post(path, headers=user.headers, json={"hacked": 1}), 403, 20)
    assert (
        await api.ok(
            "GET", f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/attributes", user
        )
        == []
    )


async def test_customer_user_cannot_read_another_customer_or_its_users(api: Api) -> None:
    tenant, _customer, other, user = await customer_setup(api)
    outsider = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": other["id"]}
    )
    for path in (
        f"/api/customer/{other['id']['id']}",
        f"/api/customer/{other['id']['id']}/users?pageSize=10&page=0",
        f"/api/user/{outsider['id']['id']}",
        f"/api/entityGroup/CUSTOMER/{other['id']['id']}/USER/Customer Users",
    ):
        response = await api.client.get(path, headers=user.headers)
        expect_error(response, 403, 20)
        assert other["title"] not in response.text and outsider["email"] not in response.text


async def test_customer_user_cannot_probe_customer_titles(api: Api) -> None:
    _tenant, _customer, other, user = await customer_setup(api)
    for title in (other["title"], unique("No Such Customer")):
        response = await api.client.get(
            "/api/tenant/customers", headers=user.headers, params={"customerTitle": title}
        )
        expect_error(response, 403, 20)


async def test_customer_user_cannot_list_tenant_users_or_customers(api: Api) -> None:
    tenant, _customer, other, user = await customer_setup(api)
    for path in ("/api/users", "/api/customers"):
        response = await api.client.get(path, headers=user.headers, params=PAGE)
        expect_error(response, 403, 20)
        assert tenant.email not in response.text and other["title"] not in response.text


async def test_customer_user_cannot_create_users(api: Api) -> None:
    tenant, customer, _other, user = await customer_setup(api)
    for body in (
        {"email": "friend@x.test", "authority": "CUSTOMER_USER", "customerId": customer["id"]},
        {"email": "boss@x.test", "authority": "TENANT_ADMIN", "tenantId": tenant.user["tenantId"]},
    ):
        response = await api.client.post(
            "/api/user?sendActivationMail=false", headers=user.headers, json=body
        )
        expect_error(response, 403, 20)
    listed = await api.ok("GET", "/api/users", tenant, params=PAGE)
    assert listed["totalElements"] == 2
