"""Tenants, users and customers over the REST API."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.factories import (
    NULL_UUID,
    Api,
    create_customer_user_quickly,
    create_tenant,
    create_tenant_admin_quickly,
    create_user,
    expect_error,
    unique,
)

PAGE = {"pageSize": 10, "page": 0}

# --- tenants ------------------------------------------------------------------------------


async def test_sysadmin_pages_through_the_tenants_it_created(api: Api) -> None:
    titles = [unique("Tenant") for _ in range(3)]
    for title in titles:
        await api.ok("POST", "/api/tenant", api.sysadmin, json={"title": title})
    first = await api.ok(
        "GET",
        "/api/tenants",
        api.sysadmin,
        params={"pageSize": 2, "page": 0, "sortProperty": "title"},
    )
    second = await api.ok(
        "GET",
        "/api/tenants",
        api.sysadmin,
        params={"pageSize": 2, "page": 1, "sortProperty": "title"},
    )
    assert (first["totalElements"], first["totalPages"], first["hasNext"]) == (3, 2, True)
    assert second["hasNext"] is False
    assert [t["title"] for t in first["data"] + second["data"]] == sorted(titles)


async def test_tenant_admin_cannot_create_tenants(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    response = await api.client.post(
        "/api/tenant", headers=tenant.headers, json={"title": unique("Tenant")}
    )
    expect_error(response, 403, 20)
    listed = await api.ok("GET", "/api/tenants", api.sysadmin, params=PAGE)
    assert listed["totalElements"] == 1


async def test_tenant_admin_cannot_list_tenants(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    expect_error(await api.client.get("/api/tenants", headers=tenant.headers, params=PAGE), 403, 20)


async def test_tenant_admin_reads_its_own_tenant(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    own = await api.ok("GET", f"/api/tenant/{tenant.user['tenantId']['id']}", tenant)
    assert own["id"] == tenant.user["tenantId"]


# --- users --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["False", "false"])
async def test_user_is_created_without_activation_mail_in_either_spelling(
    api: Api, flag: str
) -> None:
    tenant = await create_tenant(api)
    email = f"{unique('admin')}@maker.test"
    response = await api.client.post(
        f"/api/user?sendActivationMail={flag}",
        headers=api.sysadmin.headers,
        json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
    )
    assert response.status_code == 200
    user = response.json()
    assert (user["email"], user["authority"]) == (email, "TENANT_ADMIN")
    assert user["tenantId"] == tenant["id"]
    assert user["customerId"]["id"] == NULL_UUID


async def test_activation_mail_is_refused_while_no_mail_server_exists(api: Api) -> None:
    tenant = await create_tenant(api)
    response = await api.client.post(
        "/api/user?sendActivationMail=true",
        headers=api.sysadmin.headers,
        json={"email": "a@b.test", "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
    )
    expect_error(response, 400, 30)


async def test_duplicate_email_is_refused(api: Api) -> None:
    tenant = await create_tenant(api)
    body = {
        "email": f"{unique('dup')}@maker.test",
        "authority": "TENANT_ADMIN",
        "tenantId": tenant["id"],
    }
    await create_user(api, api.sysadmin, body)
    again = await api.client.post(
        "/api/user?sendActivationMail=false", headers=api.sysadmin.headers, json=body
    )
    expect_error(again, 400, 31)


async def test_email_differing_only_in_case_is_a_duplicate(api: Api) -> None:
    tenant = await create_tenant(api)
    email = f"{unique('dup')}@maker.test"
    await create_user(
        api, api.sysadmin, {"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]}
    )
    again = await api.client.post(
        "/api/user?sendActivationMail=false",
        headers=api.sysadmin.headers,
        json={"email": email.upper(), "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
    )
    expect_error(again, 400, 31)


async def test_system_administrators_are_not_created_through_the_api(api: Api) -> None:
    response = await api.client.post(
        "/api/user?sendActivationMail=false",
        headers=api.sysadmin.headers,
        json={"email": "root2@gridlinks.test", "authority": "SYS_ADMIN"},
    )
    expect_error(response, 403, 20)


async def test_customer_user_updates_its_own_profile_but_not_a_colleagues(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, customer)
    colleague = await create_customer_user_quickly(api, tenant, customer)
    renamed = await api.ok("POST", "/api/user", buyer, json={**buyer.user, "firstName": "Ana"})
    assert renamed["firstName"] == "Ana"
    response = await api.client.post(
        "/api/user", headers=buyer.headers, json={**colleague.user, "firstName": "Eve"}
    )
    expect_error(response, 403, 20)


async def test_customer_user_is_listed_under_its_customer(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer, other = await api.create_customer(tenant), await api.create_customer(tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    await create_user(api, tenant, {"authority": "CUSTOMER_USER", "customerId": other["id"]})
    listed = await api.ok("GET", f"/api/customer/{customer['id']['id']}/users", tenant, params=PAGE)
    assert [u["email"] for u in listed["data"]] == [user["email"]]
    assert listed["data"][0]["customerId"] == customer["id"]


async def test_tenant_admin_lists_every_user_of_its_tenant(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    listed = await api.ok("GET", "/api/users", tenant, params=PAGE)
    assert sorted(u["email"] for u in listed["data"]) == sorted([tenant.email, user["email"]])


# --- customers ----------------------------------------------------------------------------


async def test_customer_is_read_back_by_id_and_by_title(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    by_id = await api.ok("GET", f"/api/customer/{customer['id']['id']}", tenant)
    by_title = await api.ok(
        "GET", "/api/tenant/customers", tenant, params={"customerTitle": customer["title"]}
    )
    assert by_id == by_title == customer
    assert customer["tenantId"] == tenant.user["tenantId"]


async def test_customer_is_updated_in_place(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    new_title = unique("Renamed")
    updated = await api.ok(
        "POST",
        "/api/customer",
        tenant,
        json={"id": customer["id"], "title": new_title, "city": "Oslo"},
    )
    assert (updated["id"], updated["title"], updated["city"]) == (customer["id"], new_title, "Oslo")
    listed = await api.ok("GET", "/api/customers", tenant, params=PAGE)
    assert [c["title"] for c in listed["data"]] == [new_title]


async def test_customers_are_listed_page_by_page(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for title in ("Cb", "Ca", "Cc"):
        await api.ok("POST", "/api/customer", tenant, json={"title": title})
    page = await api.ok(
        "GET",
        "/api/customers",
        tenant,
        params={"pageSize": 2, "page": 0, "sortProperty": "title", "sortOrder": "DESC"},
    )
    assert [c["title"] for c in page["data"]] == ["Cc", "Cb"]
    assert (page["totalElements"], page["hasNext"]) == (3, True)


async def test_customer_title_is_unique_within_a_tenant(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    again = await api.client.post(
        "/api/customer", headers=tenant.headers, json={"title": customer["title"]}
    )
    expect_error(again, 400, 31)
    listed = await api.ok("GET", "/api/customers", tenant, params=PAGE)
    assert listed["totalElements"] == 1


async def test_customer_cannot_be_renamed_to_a_taken_title(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    first, second = await api.create_customer(tenant), await api.create_customer(tenant)
    response = await api.client.post(
        "/api/customer", headers=tenant.headers, json={"id": second["id"], "title": first["title"]}
    )
    expect_error(response, 400, 31)
    kept = await api.ok("GET", f"/api/customer/{second['id']['id']}", tenant)
    assert kept["title"] == second["title"]


async def test_same_customer_title_is_free_in_another_tenant(api: Api) -> None:
    first = await create_tenant_admin_quickly(api)
    second = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(first)
    copy = await api.ok("POST", "/api/customer", second, json={"title": customer["title"]})
    assert copy["id"] != customer["id"]


async def test_concurrent_customers_with_one_title_create_exactly_one(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    responses = await asyncio.gather(
        *[
            api.client.post("/api/customer", headers=tenant.headers, json={"title": "Same"})
            for _ in range(4)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400]
    for refused in (r for r in responses if r.status_code == 400):
        expect_error(refused, 400, 31)
    listed = await api.ok("GET", "/api/customers", tenant, params=PAGE)
    assert listed["totalElements"] == 1


async def test_deleted_customer_is_gone(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    await api.ok("DELETE", f"/api/customer/{customer['id']['id']}", tenant)
    response = await api.client.get(f"/api/customer/{customer['id']['id']}", headers=tenant.headers)
    expect_error(response, 404, 32)


async def test_deleting_a_customer_releases_its_devices_and_removes_its_users(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_user(
        api, tenant, {"authority": "CUSTOMER_USER", "customerId": customer["id"]}
    )
    device = await api.create_device(tenant, customerId=customer["id"])
    await api.ok("DELETE", f"/api/customer/{customer['id']['id']}", tenant)
    released = await api.ok("GET", f"/api/device/{device['id']['id']}", tenant)
    assert released["customerId"]["id"] == NULL_UUID
    gone = await api.client.get(f"/api/user/{user['id']['id']}", headers=tenant.headers)
    expect_error(gone, 404, 32)


async def test_deleting_a_customer_removes_its_user_groups(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    path = f"/api/entityGroups/CUSTOMER/{customer['id']['id']}/USER"
    groups = await api.ok("GET", path, tenant)
    await api.ok("DELETE", f"/api/customer/{customer['id']['id']}", tenant)
    assert await api.ok("GET", path, tenant) == []
    for group in groups:
        gone = await api.client.get(f"/api/entityGroup/{group['id']['id']}", headers=tenant.headers)
        expect_error(gone, 404, 32)


async def test_customer_user_of_a_deleted_customer_is_signed_out(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    user = await create_customer_user_quickly(api, tenant, customer)
    await api.ok("DELETE", f"/api/customer/{customer['id']['id']}", tenant)
    expect_error(await api.client.get("/api/auth/user", headers=user.headers), 401, 10)
