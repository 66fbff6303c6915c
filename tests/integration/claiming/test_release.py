"""Who may claim and release which device (SPEC 3.2 callers, 3.3 releasing)."""

from __future__ import annotations

from typing import Any

from tests.integration.claiming.conftest import (
    PAGE,
    Shop,
    assert_claimed_by,
    audit_entries,
    claim,
    create_buyer,
    create_device_with_token,
    open_window,
    owner_of,
    release,
)
from tests.integration.factories import (
    NULL_UUID,
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
    expect_error,
    unique,
)


async def claimed(api: Api, shop: Shop) -> None:
    """The shop's buyer owns the shop's device."""
    await open_window(api, shop.token, "value")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


# --- releasing -------------------------------------------------------------------------------


async def test_tenant_admin_releases_a_claimed_device_with_an_empty_200(
    api: Api, shop: Shop
) -> None:
    await claimed(api, shop)
    response = await release(api, shop.tenant, shop.name)
    assert (response.status_code, response.content) == (200, b"")
    assert await owner_of(api, shop.tenant, shop.device_id) == NULL_UUID


async def test_buyer_releases_its_own_device(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    response = await release(api, shop.buyer, shop.name)
    assert (response.status_code, response.content) == (200, b"")
    assert await owner_of(api, shop.tenant, shop.device_id) == NULL_UUID


async def test_released_device_leaves_the_buyers_device_list(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    await release(api, shop.buyer, shop.name)
    listed = await api.ok(
        "GET", f"/api/customer/{shop.customer_id}/devices", shop.buyer, params=PAGE
    )
    assert listed["data"] == []


async def test_user_of_another_customer_cannot_release_the_device(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    _, stranger = await create_buyer(api, shop.tenant)
    expect_error(await release(api, stranger, shop.name), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == shop.customer_id


async def test_customer_user_cannot_release_an_unassigned_device(api: Api, shop: Shop) -> None:
    expect_error(await release(api, shop.buyer, shop.name), 403, 20)


async def test_release_of_an_unknown_device_is_not_found(api: Api, shop: Shop) -> None:
    expect_error(await release(api, shop.tenant, unique("Nothing")), 404, 32)


async def test_sysadmin_cannot_release_devices(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    expect_error(await release(api, api.sysadmin, shop.name), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == shop.customer_id


async def test_tenant_admin_of_another_tenant_cannot_release_the_device(
    api: Api, shop: Shop
) -> None:
    await claimed(api, shop)
    other_tenant = await create_tenant_admin_quickly(api)
    expect_error(await release(api, other_tenant, shop.name), 404, 32)
    assert await owner_of(api, shop.tenant, shop.device_id) == shop.customer_id


async def test_released_device_is_claimed_again_by_another_customer(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    await release(api, shop.buyer, shop.name)
    other_customer, other_buyer = await create_buyer(api, shop.tenant)
    await open_window(api, shop.token, "second-key")
    assert_claimed_by(await claim(api, other_buyer, shop.name, "second-key"), other_customer)


async def test_release_is_audited_with_the_previous_customer(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    await release(api, shop.buyer, shop.name)
    [entry] = await audit_entries(api, shop.tenant, actionTypes="UNASSIGNED_FROM_CUSTOMER")
    assert entry["actionStatus"] == "SUCCESS"
    assert entry["entityId"] == shop.device["id"]
    assert entry["userId"] == shop.buyer.user["id"]
    assert entry["actionData"]["unassignedCustomerId"] == shop.customer_id
    assert entry["actionData"]["unassignedCustomerName"] == shop.customer["title"]


async def test_release_of_an_unassigned_device_by_the_tenant_is_a_silent_200(
    api: Api, shop: Shop
) -> None:
    response = await release(api, shop.tenant, shop.name)
    assert (response.status_code, response.content) == (200, b"")
    assert await audit_entries(api, shop.tenant) == []


# --- who may claim ---------------------------------------------------------------------------


async def test_tenant_admin_cannot_claim(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    expect_error(await claim(api, shop.tenant, shop.name, "value"), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == NULL_UUID


async def test_a_tenant_admins_claim_attempt_is_audited(api: Api, shop: Shop) -> None:
    await claim(api, shop.tenant, shop.name, "value")
    [entry] = await audit_entries(api, shop.tenant, actionTypes="ASSIGNED_TO_CUSTOMER")
    assert entry["actionStatus"] == "FAILURE"
    assert entry["actionFailureDetails"] == "claim refused: not allowed"
    assert entry["userId"]["id"] == shop.tenant.user["id"]["id"]
    assert entry["actionData"]["assignedCustomerId"] is None


async def test_sysadmin_cannot_claim(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    expect_error(await claim(api, api.sysadmin, shop.name, "value"), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == NULL_UUID


async def test_claim_of_an_unknown_device_is_not_found(api: Api, shop: Shop) -> None:
    expect_error(await claim(api, shop.buyer, unique("Nothing"), "value"), 404, 32)


async def test_claim_of_another_tenants_device_is_not_found(api: Api, shop: Shop) -> None:
    other_tenant = await create_tenant_admin_quickly(api)
    device, token = await create_device_with_token(api, other_tenant)
    await open_window(api, token, "value")
    expect_error(await claim(api, shop.buyer, device["name"], "value"), 404, 32)
    assert await owner_of(api, other_tenant, device["id"]["id"]) == NULL_UUID


async def test_claim_looks_the_name_up_exactly(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    expect_error(await claim(api, shop.buyer, shop.name.upper(), "value"), 404, 32)


async def test_device_owned_by_another_customer_is_not_reassigned(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    _, stranger = await create_buyer(api, shop.tenant)
    await open_window(api, shop.token, "value")  # refused: the device is claimed
    response = await claim(api, stranger, shop.name, "value")
    assert (response.status_code, response.json()) == (400, "CLAIMED")
    assert await owner_of(api, shop.tenant, shop.device_id) == shop.customer_id


# --- users without CLAIM_DEVICES -------------------------------------------------------------


async def create_reader(api: Api, tenant: Account, customer: dict[str, Any]) -> Account:
    """A user of ``customer`` only in a custom group whose role may read devices, not claim."""
    group = await api.ok(
        "POST",
        "/api/entityGroup",
        tenant,
        json={"type": "USER", "name": unique("Readers"), "ownerId": customer["id"]},
    )
    role = await api.ok(
        "POST",
        "/api/role",
        tenant,
        json={"name": unique("Reader"), "type": "GENERIC", "permissions": {"DEVICE": ["READ"]}},
    )
    await api.ok(
        "POST",
        "/api/groupPermission",
        tenant,
        json={"userGroupId": group["id"], "roleId": role["id"]},
    )
    return await create_customer_user_quickly(
        api, tenant, customer, f"&entityGroupId={group['id']['id']}"
    )


async def remove_from_customer_users(
    api: Api, tenant: Account, customer: Any, user: Account
) -> None:
    group = await api.ok(
        "GET", f"/api/entityGroup/CUSTOMER/{customer['id']['id']}/USER/Customer Users", tenant
    )
    await api.ok(
        "POST",
        f"/api/entityGroup/{group['id']['id']}/deleteEntities",
        tenant,
        json=[user.user["id"]["id"]],
    )


async def test_user_whose_groups_lack_claim_devices_cannot_claim(api: Api, shop: Shop) -> None:
    reader = await create_reader(api, shop.tenant, shop.customer)
    await open_window(api, shop.token, "value")
    expect_error(await claim(api, reader, shop.name, "value"), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == NULL_UUID


async def test_user_taken_out_of_customer_users_cannot_claim(api: Api, shop: Shop) -> None:
    await remove_from_customer_users(api, shop.tenant, shop.customer, shop.buyer)
    await open_window(api, shop.token, "value")
    expect_error(await claim(api, shop.buyer, shop.name, "value"), 403, 20)


async def test_refused_claim_without_permission_keeps_the_window(api: Api, shop: Shop) -> None:
    reader = await create_reader(api, shop.tenant, shop.customer)
    await open_window(api, shop.token, "value")
    await claim(api, reader, shop.name, "value")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


async def test_user_whose_groups_lack_claim_devices_cannot_release(api: Api, shop: Shop) -> None:
    await claimed(api, shop)
    reader = await create_reader(api, shop.tenant, shop.customer)
    expect_error(await release(api, reader, shop.name), 403, 20)
    assert await owner_of(api, shop.tenant, shop.device_id) == shop.customer_id
