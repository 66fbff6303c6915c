"""Bad input is answered with ThingsBoard error JSON and the right status, never a 500, and a
refused request writes nothing.

Each test walks through several examples of one mistake: every test pays for a fresh database
and an Argon2 hash, so examples share one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.integration.factories import (
    Account,
    Api,
    create_tenant,
    create_tenant_admin_quickly,
    expect_error,
    unique,
)

PAGE = {"pageSize": 10, "page": 0}
ONE_MEBIBYTE = 1_048_576
UNKNOWN_ID = "0b6f1a5e-0000-4000-8000-000000000000"


async def tenant_count(api: Api) -> int:
    page = await api.ok("GET", "/api/tenants", api.sysadmin, params=PAGE)
    count: int = page["totalElements"]
    return count


async def device_count(api: Api, tenant: Account) -> int:
    page = await api.ok("GET", "/api/tenant/devices", tenant, params=PAGE)
    count: int = page["totalElements"]
    return count


async def post_raw(api: Api, account: Account, path: str, body: bytes) -> httpx.Response:
    headers = {**account.headers, "Content-Type": "application/json"}
    return await api.client.post(path, content=body, headers=headers)


def refused(response: httpx.Response, status: int, error_code: int, example: Any) -> None:
    assert response.status_code == status, (example, response.status_code, response.text)
    expect_error(response, status, error_code)


# --- bodies -------------------------------------------------------------------------------


async def test_malformed_json_is_a_bad_request(api: Api) -> None:
    for body in (
        b'{"title": "cut',
        b"not json",
        b"{'title': 'single quotes'}",
        b'{"title": "x"} trailing',
        b'{"title": "\xff\xfe"}',
    ):
        refused(await post_raw(api, api.sysadmin, "/api/tenant", body), 400, 31, body)
    assert await tenant_count(api) == 0


async def test_json_that_cannot_be_stored_is_a_bad_request(api: Api) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for info in (
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e400",
        b'"nul\\u0000inside"',
        b'{"nul\\u0000key": 1}',
        b'"lone \\ud800 surrogate"',
        b"[" * 65 + b"]" * 65,
        deep,
    ):
        body = b'{"title": "T", "additionalInfo": ' + info + b"}"
        refused(await post_raw(api, api.sysadmin, "/api/tenant", body), 400, 31, info[:20])
    assert await tenant_count(api) == 0


async def test_attribute_values_that_cannot_be_stored_are_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    path = f"/api/plugins/telemetry/{device['id']['id']}/SERVER_SCOPE"
    for body in (b'{"t": NaN}', b'{"t": 1e999}', b'{"k\\u0000": 1}', b'{"s": "\\udc00"}'):
        refused(await post_raw(api, tenant, path, body), 400, 31, body)
    attributes = f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/attributes"
    assert await api.ok("GET", attributes, tenant) == []


async def test_wrong_field_types_are_bad_requests(api: Api) -> None:
    tenant = await create_tenant(api)
    admin = {"email": f"{unique('a')}@x.test", "authority": "TENANT_ADMIN"}
    for path, body in (
        ("/api/tenant", {"title": 123}),
        ("/api/tenant", {"title": ["T"]}),
        ("/api/tenant", {"title": None}),
        ("/api/user?sendActivationMail=false", {**admin, "tenantId": "x"}),
        ("/api/user?sendActivationMail=false", {**admin, "tenantId": {"id": "not-a-uuid"}}),
        ("/api/user?sendActivationMail=false", {**admin, "email": 5, "tenantId": tenant["id"]}),
        ("/api/user?sendActivationMail=false", {**admin, "email": "no-at-sign"}),
        ("/api/tenant", [{"title": "in a list"}]),
        ("/api/tenant", "just text"),
    ):
        response = await api.client.post(path, headers=api.sysadmin.headers, json=body)
        refused(response, 400, 31, body)
    assert await tenant_count(api) == 1


async def test_wrong_device_field_types_create_no_device(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for body in (
        {"name": 123},
        {"name": "ok", "customerId": "x"},
        {"name": "ok", "deviceProfileId": {"id": 5}},
        {"name": "ok", "label": {"nested": True}},
    ):
        response = await api.client.post("/api/device", headers=tenant.headers, json=body)
        refused(response, 400, 31, body)
    assert await device_count(api, tenant) == 0


async def test_missing_required_fields_are_bad_requests(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for account, path, body in (
        (api.sysadmin, "/api/tenant", {}),
        (api.sysadmin, "/api/tenant", None),
        (api.sysadmin, "/api/user?sendActivationMail=false", {"authority": "TENANT_ADMIN"}),
        (api.sysadmin, "/api/user?sendActivationMail=false", {"email": "a@b.test"}),
        (tenant, "/api/customer", {"email": "c@d.test"}),
        (tenant, "/api/device", {"type": "meter"}),
        (tenant, "/api/role", {"name": "no type"}),
        (tenant, "/api/entityGroup", {"type": "USER"}),
        (tenant, "/api/groupPermission", {"roleId": {"id": UNKNOWN_ID}}),
    ):
        response = await api.client.post(path, headers=account.headers, json=body)
        refused(response, 400, 31, (path, body))
    assert await device_count(api, tenant) == 0


async def test_sign_in_without_the_fields_is_a_bad_request(api: Api) -> None:
    for path, body in (
        ("/api/auth/login", {}),
        ("/api/auth/login", {"username": "root@gridlinks.test", "password": 123}),
        ("/api/auth/token", {}),
        ("/api/noauth/activate", {"password": "long-enough"}),
    ):
        refused(await api.client.post(path, json=body), 400, 31, (path, body))


# --- paths and queries --------------------------------------------------------------------


async def test_invalid_uuid_in_a_path_is_a_bad_request(api: Api) -> None:
    for method, path in (
        ("GET", "/api/tenant/not-a-uuid"),
        ("GET", "/api/user/123"),
        ("GET", "/api/customer/xyz"),
        ("GET", "/api/device/zz"),
        ("DELETE", "/api/device/zz"),
        ("GET", "/api/entityGroup/1"),
        ("GET", "/api/role/r"),
        ("GET", "/api/plugins/telemetry/DEVICE/nope/values/attributes"),
    ):
        response = await api.client.request(method, path, headers=api.sysadmin.headers)
        refused(response, 400, 31, path)


async def test_bad_paging_parameters_are_refused(api: Api) -> None:
    for params, error_code in (
        ({"pageSize": 0, "page": 0}, 31),
        ({"pageSize": 10_001, "page": 0}, 31),
        ({"pageSize": "abc", "page": 0}, 31),
        ({"pageSize": 1.5, "page": 0}, 31),
        ({"pageSize": 10, "page": -1}, 31),
        ({"pageSize": 10, "page": "first"}, 31),
        ({"pageSize": 10, "page": 10**20}, 31),
        ({"pageSize": 10}, 31),
        ({**PAGE, "sortProperty": "password_hash"}, 30),
        ({**PAGE, "sortOrder": "UP"}, 30),
    ):
        response = await api.client.get("/api/tenants", headers=api.sysadmin.headers, params=params)
        refused(response, 400, error_code, params)


async def test_bad_paging_of_tenant_devices_is_refused(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for params, error_code in (
        ({"pageSize": 0, "page": 0}, 31),
        ({"pageSize": "abc", "page": 0}, 31),
        ({"pageSize": 10_000, "page": 999_999_999_999_999}, 31),
        ({"pageSize": 10}, 31),
        ({**PAGE, "sortProperty": "secret"}, 30),
    ):
        response = await api.client.get(
            "/api/tenant/devices", headers=tenant.headers, params=params
        )
        refused(response, 400, error_code, params)


async def test_nul_characters_in_the_url_are_a_bad_request(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for method, path in (
        ("GET", "/api/tenant/devices?deviceName=a%00b"),
        ("GET", "/api/tenant/devices?pageSize=10&page=0&textSearch=%00"),
        ("GET", "/api/tenant/customers?customerTitle=x%00"),
        ("POST", "/api/device?accessToken=tok%00en"),
        ("GET", f"/api/entityGroup/TENANT/{UNKNOWN_ID}/USER/a%00b"),
        # A repeated parameter: the NUL in the first of two values counts too.
        ("GET", "/api/tenant/devices?pageSize=10&page=0&textSearch=%00&textSearch=a"),
        ("GET", "/api/v1/some-token/attributes?sharedKeys=%00&sharedKeys=a"),
    ):
        response = await api.client.request(
            method, path, headers=tenant.headers, json={"name": "N"}
        )
        refused(response, 400, 31, path)
    assert await device_count(api, tenant) == 0


async def test_query_boolean_that_is_not_a_boolean_is_refused(api: Api) -> None:
    tenant = await create_tenant(api)
    body = {"email": "a@b.test", "authority": "TENANT_ADMIN", "tenantId": tenant["id"]}
    response = await api.client.post(
        "/api/user?sendActivationMail=maybe", headers=api.sysadmin.headers, json=body
    )
    refused(response, 400, 31, "maybe")


async def test_unknown_route_answers_not_found_json(api: Api) -> None:
    for headers in (api.sysadmin.headers, {}):
        for path in ("/api/nothing-here", "/elsewhere", "/api/device/a/b/c"):
            refused(await api.client.get(path, headers=headers), 404, 32, path)


async def test_wrong_method_answers_method_not_allowed_json(api: Api) -> None:
    refused(await api.client.put("/api/tenant", headers=api.sysadmin.headers), 405, 31, "PUT")


# --- size ---------------------------------------------------------------------------------


async def test_body_over_one_mebibyte_is_refused_with_413(api: Api) -> None:
    body = b'{"title": "' + b"x" * ONE_MEBIBYTE + b'"}'
    refused(await post_raw(api, api.sysadmin, "/api/tenant", body), 413, 31, "declared length")
    assert await tenant_count(api) == 0


async def test_streamed_body_over_one_mebibyte_is_refused_with_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server must count
        yield b'{"title": "'
        for _ in range(17):
            yield b"x" * 65_536
        yield b'"}'

    headers = {**api.sysadmin.headers, "Content-Type": "application/json"}
    response = await api.client.post("/api/tenant", content=chunks(), headers=headers)
    refused(response, 413, 31, "streamed")
    assert await tenant_count(api) == 0


async def test_body_just_under_the_limit_is_accepted(api: Api) -> None:
    padding = b"x" * (ONE_MEBIBYTE - 100)
    body = b'{"title": "T", "additionalInfo": {"note": "' + padding + b'"}}'
    response = await post_raw(api, api.sysadmin, "/api/tenant", body)
    assert response.status_code == 200, response.text[:200]


# --- nothing half-written -----------------------------------------------------------------


async def test_device_refused_for_its_access_token_is_not_created(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for token in ("has/slash", " padded ", "hash#tag", "plus+sign"):
        response = await api.client.post(
            "/api/device", headers=tenant.headers, params={"accessToken": token}, json={"name": "D"}
        )
        refused(response, 400, 30, token)
    assert await device_count(api, tenant) == 0
    await api.create_device(tenant, name="D")  # the name was not taken by a half-created device


async def test_user_refused_for_its_group_is_not_created(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    body = {
        "email": f"{unique('u')}@x.test",
        "authority": "CUSTOMER_USER",
        "customerId": customer["id"],
    }
    for group_id, status, error_code in ((UNKNOWN_ID, 404, 32), ("not-a-uuid", 400, 31)):
        response = await api.client.post(
            f"/api/user?sendActivationMail=false&entityGroupId={group_id}",
            headers=tenant.headers,
            json=body,
        )
        refused(response, status, error_code, group_id)
    await api.ok("POST", "/api/user?sendActivationMail=false", tenant, json=body)


async def test_concurrent_devices_with_one_name_create_exactly_one(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    responses = await asyncio.gather(
        *[
            api.client.post("/api/device", headers=tenant.headers, json={"name": "Twin"})
            for _ in range(4)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 400, 400, 400]
    for response in responses:
        if response.status_code == 400:
            expect_error(response, 400, 31)
    assert await device_count(api, tenant) == 1
