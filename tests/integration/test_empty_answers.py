"""Void operations (deletes, attribute writes, logout, group changes, the device API...) answer
200 with an empty body, as ThingsBoard does, never the JSON ``null``.

Every void operation of the app is called here for real; a new one that is not fails
``test_every_void_operation_of_the_app_is_called_here``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.api.openapi import api_routes
from gridlinks.bootstrap import Platform
from tests.integration.factories import (
    Account,
    Api,
    create_tenant,
    create_tenant_admin_quickly,
    create_user,
    unique,
)

Call = Callable[[Api], Awaitable[httpx.Response]]
VOID_CALLS: dict[tuple[str, str], Call] = {}


def void(method: str, path: str) -> Callable[[Call], Call]:
    """Register the function that makes a real, successful ``method path`` call."""

    def register(call: Call) -> Call:
        VOID_CALLS[(method, path)] = call
        return call

    return register


def id_of(item: dict[str, Any]) -> str:
    value: str = item["id"]["id"]
    return value


async def tenant_with_device(api: Api) -> tuple[Account, dict[str, Any]]:
    tenant = await create_tenant_admin_quickly(api)
    return tenant, await api.create_device(tenant)


async def access_token(api: Api, tenant: Account, device: dict[str, Any]) -> str:
    credentials = await api.ok("GET", f"/api/device/{id_of(device)}/credentials", tenant)
    token: str = credentials["credentialsId"]
    return token


async def user_group(api: Api, tenant: Account) -> tuple[dict[str, Any], dict[str, Any]]:
    customer = await api.create_customer(tenant)
    owner = {"entityType": "CUSTOMER", "id": id_of(customer)}
    body = {"name": unique("Claimers"), "type": "USER", "ownerId": owner}
    return customer, await api.ok("POST", "/api/entityGroup", tenant, json=body)


async def role(api: Api, tenant: Account) -> dict[str, Any]:
    body = {"name": unique("Readers"), "type": "GENERIC", "permissions": {"DEVICE": ["READ"]}}
    created: dict[str, Any] = await api.ok("POST", "/api/role", tenant, json=body)
    return created


# --- accounts ------------------------------------------------------------------------------
@void("POST", "/api/auth/logout")
async def logout(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    return await api.client.post("/api/auth/logout", headers=tenant.headers)


@void("DELETE", "/api/tenant/{tenant_id}")
async def delete_tenant(api: Api) -> httpx.Response:
    tenant = await create_tenant(api)
    return await api.client.delete(f"/api/tenant/{id_of(tenant)}", headers=api.sysadmin.headers)


@void("DELETE", "/api/customer/{customer_id}")
async def delete_customer(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    return await api.client.delete(f"/api/customer/{id_of(customer)}", headers=tenant.headers)


@void("DELETE", "/api/user/{user_id}")
async def delete_user(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    return await api.client.delete(f"/api/user/{id_of(user)}", headers=tenant.headers)


@void("POST", "/api/user/{user_id}/userCredentialsEnabled")
async def disable_user(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    return await api.client.post(
        f"/api/user/{id_of(user)}/userCredentialsEnabled?userCredentialsEnabled=false",
        headers=tenant.headers,
    )


# --- groups and roles ----------------------------------------------------------------------
@void("DELETE", "/api/entityGroup/{group_id}")
async def delete_group(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    _, group = await user_group(api, tenant)
    return await api.client.delete(f"/api/entityGroup/{id_of(group)}", headers=tenant.headers)


async def change_members(api: Api, change: str) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    customer, group = await user_group(api, tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    path = f"/api/entityGroup/{id_of(group)}"
    await api.ok("POST", f"{path}/addEntities", tenant, json=[id_of(user)])
    return await api.client.post(f"{path}/{change}", headers=tenant.headers, json=[id_of(user)])


@void("POST", "/api/entityGroup/{group_id}/addEntities")
async def add_members(api: Api) -> httpx.Response:
    return await change_members(api, "addEntities")


@void("POST", "/api/entityGroup/{group_id}/deleteEntities")
async def remove_members(api: Api) -> httpx.Response:
    return await change_members(api, "deleteEntities")


@void("DELETE", "/api/role/{role_id}")
async def delete_role(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    created = await role(api, tenant)
    return await api.client.delete(f"/api/role/{id_of(created)}", headers=tenant.headers)


@void("DELETE", "/api/groupPermission/{permission_id}")
async def delete_group_permission(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    _, group = await user_group(api, tenant)
    body = {"userGroupId": group["id"], "roleId": (await role(api, tenant))["id"]}
    permission = await api.ok("POST", "/api/groupPermission", tenant, json=body)
    return await api.client.delete(
        f"/api/groupPermission/{id_of(permission)}", headers=tenant.headers
    )


# --- devices -------------------------------------------------------------------------------
@void("DELETE", "/api/device/{device_id}")
async def delete_device(api: Api) -> httpx.Response:
    tenant, device = await tenant_with_device(api)
    return await api.client.delete(f"/api/device/{id_of(device)}", headers=tenant.headers)


@void("POST", "/api/owner/{owner_type}/{owner_id}/{entity_type}/{entity_id}")
async def change_owner(api: Api) -> httpx.Response:
    tenant, device = await tenant_with_device(api)
    customer = await api.create_customer(tenant)
    path = f"/api/owner/CUSTOMER/{id_of(customer)}/DEVICE/{id_of(device)}"
    return await api.client.post(path, headers=tenant.headers)


@void("DELETE", "/api/deviceProfile/{profile_id}")
async def delete_device_profile(api: Api) -> httpx.Response:
    tenant = await create_tenant_admin_quickly(api)
    body = {"name": unique("Profile")}
    profile = await api.ok("POST", "/api/deviceProfile", tenant, json=body)
    return await api.client.delete(f"/api/deviceProfile/{id_of(profile)}", headers=tenant.headers)


@void("DELETE", "/api/customer/device/{device_name}/claim")
async def release_device(api: Api) -> httpx.Response:
    tenant, device = await tenant_with_device(api)
    path = f"/api/customer/device/{device['name']}/claim"
    return await api.client.delete(path, headers=tenant.headers)


@void("DELETE", "/api/rpc/persistent/{rpc_id}")
async def delete_persistent_rpc(api: Api) -> httpx.Response:
    tenant, device = await tenant_with_device(api)
    body = {"method": "m", "params": {}, "persistent": True}
    stored = await api.ok("POST", f"/api/rpc/oneway/{id_of(device)}", tenant, json=body)
    return await api.client.delete(f"/api/rpc/persistent/{stored['rpcId']}", headers=tenant.headers)


# --- attributes ----------------------------------------------------------------------------
ATTRIBUTE_PATHS = {
    "/api/plugins/telemetry/{device_id}/{scope}": "/api/plugins/telemetry/{id}/SERVER_SCOPE",
    "/api/plugins/telemetry/{entity_type}/{entity_id}/{scope}": (
        "/api/plugins/telemetry/DEVICE/{id}/SERVER_SCOPE"
    ),
    "/api/plugins/telemetry/{entity_type}/{entity_id}/attributes/{scope}": (
        "/api/plugins/telemetry/DEVICE/{id}/attributes/SERVER_SCOPE"
    ),
}


def attribute_call(method: str, template: str) -> Call:
    async def call(api: Api) -> httpx.Response:
        tenant, device = await tenant_with_device(api)
        path = ATTRIBUTE_PATHS[template].format(id=id_of(device))
        if method == "POST":
            return await api.client.post(path, headers=tenant.headers, json={"mode": "eco"})
        await api.ok("POST", path, tenant, json={"mode": "eco"})
        return await api.client.delete(path, headers=tenant.headers, params={"keys": "mode"})

    return call


for _template in ATTRIBUTE_PATHS:
    void("POST", _template)(attribute_call("POST", _template))
for _template in list(ATTRIBUTE_PATHS)[:2]:
    void("DELETE", _template)(attribute_call("DELETE", _template))


# --- the device API ------------------------------------------------------------------------
def device_api_call(kind: str, body: Any) -> Call:
    async def call(api: Api) -> httpx.Response:
        tenant, device = await tenant_with_device(api)
        token = await access_token(api, tenant, device)
        return await api.client.post(f"/api/v1/{token}/{kind}", json=body)

    return call


void("POST", "/api/v1/{token}/claim")(device_api_call("claim", {"secretKey": "k"}))
void("POST", "/api/v1/{token}/telemetry")(device_api_call("telemetry", {"temperature": 21.5}))
void("POST", "/api/v1/{token}/attributes")(device_api_call("attributes", {"firmware": "1.2"}))
void("POST", "/api/v1/{token}/rpc/{request_id}")(device_api_call("rpc/7", {"result": "ok"}))


# --- the checks ----------------------------------------------------------------------------
def returns(route: Any) -> Any:
    # Route modules use postponed annotations: the return type is the text written.
    return route.endpoint.__annotations__.get("return")


async def test_every_void_operation_of_the_app_is_called_here(platform: Platform) -> None:
    routes = [r for r in api_routes(create_app(platform).routes) if r.include_in_schema]
    void_operations = {
        (m, r.path_format) for r in routes if returns(r) == "Response" for m in r.methods
    }
    assert void_operations == set(VOID_CALLS)


async def test_no_operation_is_written_to_answer_json_null(platform: Platform) -> None:
    routes = api_routes(create_app(platform).routes)
    assert [r.path for r in routes if returns(r) in ("None", None)] == []


@pytest.mark.parametrize("operation", sorted(VOID_CALLS), ids=" ".join)
async def test_a_void_operation_answers_200_with_an_empty_body(
    api: Api, operation: tuple[str, str]
) -> None:
    response = await VOID_CALLS[operation](api)
    assert response.status_code == 200, (operation, response.text)
    assert response.content == b""
    assert response.headers["content-length"] == "0"


async def test_the_document_declares_no_body_for_exactly_the_void_operations(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/v3/api-docs")).json()["paths"]
    without_body = {
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if "content" not in operation["responses"]["200"]
    }
    assert without_body == set(VOID_CALLS)
