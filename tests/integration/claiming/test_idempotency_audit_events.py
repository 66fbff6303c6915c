"""Retried claims (``Idempotency-Key``), reading the audit log, and the events on the bus."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from gridlinks.bootstrap import Platform
from gridlinks.bus.base import Event
from gridlinks.devices.repository import DeviceRepository
from tests.integration.claiming.conftest import (
    Shop,
    assert_claimed_by,
    assert_refused,
    audit_entries,
    claim,
    create_buyer,
    create_device_with_token,
    open_window,
    release,
    sign_in_again,
)
from tests.integration.factories import (
    Account,
    Api,
    create_tenant_admin_quickly,
    expect_error,
)

KEY = "value"
SECOND_MS = 1_000


async def claim_once(
    api: Api, account: Account, name: str, idempotency_key: str, key: str = KEY
) -> httpx.Response:
    return await claim(api, account, name, key, headers={"Idempotency-Key": idempotency_key})


# --- Idempotency-Key -------------------------------------------------------------------------


async def test_retried_claim_with_the_same_key_gets_the_same_200(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    first = await claim_once(api, shop.buyer, shop.name, "retry-1")
    assert_claimed_by(first, shop.customer)
    again = await claim_once(api, shop.buyer, shop.name, "retry-1")
    assert again.status_code == 200 and again.json() == first.json()


async def test_retry_with_another_key_answers_claimed(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    assert_refused(await claim_once(api, shop.buyer, shop.name, "retry-2"), "CLAIMED")


async def test_replay_is_answered_even_without_the_secret(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    first = await claim_once(api, shop.buyer, shop.name, "retry-1")
    again = await claim_once(api, shop.buyer, shop.name, "retry-1", key="")
    assert again.json() == first.json()


async def test_key_used_for_another_device_is_refused(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    device, token = await create_device_with_token(api, shop.tenant)
    await open_window(api, token, KEY)
    expect_error(await claim_once(api, shop.buyer, device["name"], "retry-1"), 400, 30)


async def test_replay_after_a_release_is_a_new_attempt(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim_once(api, shop.buyer, shop.name, "retry-1"), shop.customer)
    assert (await release(api, shop.tenant, shop.name)).status_code == 200
    assert_refused(await claim_once(api, shop.buyer, shop.name, "retry-1"), "FAILURE")
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim_once(api, shop.buyer, shop.name, "retry-1"), shop.customer)


async def test_same_key_value_of_another_user_is_not_replayed(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    _, other_buyer = await create_buyer(api, shop.tenant)
    assert_refused(await claim_once(api, other_buyer, shop.name, "retry-1"), "CLAIMED")


async def test_failed_claim_is_not_remembered(api: Api, shop: Shop) -> None:
    assert_refused(await claim_once(api, shop.buyer, shop.name, "retry-1"), "FAILURE")
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim_once(api, shop.buyer, shop.name, "retry-1"), shop.customer)


async def test_key_of_255_characters_is_accepted(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim_once(api, shop.buyer, shop.name, "k" * 255), shop.customer)


async def test_key_longer_than_255_characters_is_refused(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    expect_error(await claim_once(api, shop.buyer, shop.name, "k" * 256), 400, 30)


async def test_empty_key_is_refused(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    expect_error(await claim_once(api, shop.buyer, shop.name, ""), 400, 30)


async def test_replay_is_not_audited(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    assert len(await audit_entries(api, shop.tenant, actionTypes="ASSIGNED_TO_CUSTOMER")) == 1


async def test_replay_does_not_count_towards_the_user_limit(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    first = await claim_once(api, shop.buyer, shop.name, "retry-1")
    for _ in range(29):
        assert_refused(await claim(api, shop.buyer, shop.name, KEY), "CLAIMED")
    again = await claim_once(api, shop.buyer, shop.name, "retry-1")
    assert again.status_code == 200 and again.json() == first.json()


async def test_key_is_forgotten_after_its_time_to_live(
    api: Api, platform: Platform, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    await claim_once(api, shop.buyer, shop.name, "retry-1")
    shop.clock.advance(86_400 * SECOND_MS + 1)
    async with platform.unit_of_work() as uow:
        await platform.claiming.purge_expired(uow)
        await uow.commit()
    buyer = await sign_in_again(api, shop.buyer)
    assert_refused(await claim_once(api, buyer, shop.name, "retry-1"), "CLAIMED")


# --- reading the audit log -------------------------------------------------------------------


async def three_claim_attempts(api: Api, shop: Shop) -> list[int]:
    """no window, no window, success: one second apart; returns their times."""
    times = []
    for attempt in range(3):
        if attempt == 2:
            await open_window(api, shop.token, KEY)
        times.append(shop.clock.now_ms())
        await claim(api, shop.buyer, shop.name, KEY)
        shop.clock.advance(SECOND_MS)
    return times


async def test_audit_log_lists_newest_first(api: Api, shop: Shop) -> None:
    times = await three_claim_attempts(api, shop)
    entries = await audit_entries(api, shop.tenant)
    assert [e["createdTime"] for e in entries] == times[::-1]
    assert [e["actionStatus"] for e in entries] == ["SUCCESS", "FAILURE", "FAILURE"]


async def test_audit_log_pages_carry_totals(api: Api, shop: Shop) -> None:
    times = await three_claim_attempts(api, shop)
    path = "/api/audit/logs"
    first = await api.ok("GET", path, shop.tenant, params={"pageSize": 2, "page": 0})
    assert [e["createdTime"] for e in first["data"]] == [times[2], times[1]]
    assert (first["totalElements"], first["totalPages"], first["hasNext"]) == (3, 2, True)
    second = await api.ok("GET", path, shop.tenant, params={"pageSize": 2, "page": 1})
    assert [e["createdTime"] for e in second["data"]] == [times[0]]
    assert second["hasNext"] is False


async def test_audit_log_filters_by_start_and_end_time(api: Api, shop: Shop) -> None:
    times = await three_claim_attempts(api, shop)
    since = await audit_entries(api, shop.tenant, startTime=times[1])
    assert [e["createdTime"] for e in since] == [times[2], times[1]]
    until = await audit_entries(api, shop.tenant, endTime=times[1])
    assert [e["createdTime"] for e in until] == [times[1], times[0]]
    between = await audit_entries(api, shop.tenant, startTime=times[1], endTime=times[1])
    assert [e["createdTime"] for e in between] == [times[1]]


async def test_audit_log_filters_by_action_types(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    shop.clock.advance(SECOND_MS)
    await release(api, shop.buyer, shop.name)
    released = await audit_entries(api, shop.tenant, actionTypes="UNASSIGNED_FROM_CUSTOMER")
    assert [e["actionType"] for e in released] == ["UNASSIGNED_FROM_CUSTOMER"]
    both = await audit_entries(
        api, shop.tenant, actionTypes="ASSIGNED_TO_CUSTOMER,UNASSIGNED_FROM_CUSTOMER"
    )
    assert len(both) == 2


async def test_unknown_action_type_is_refused(api: Api, shop: Shop) -> None:
    response = await api.client.get(
        "/api/audit/logs",
        headers=shop.tenant.headers,
        params={"pageSize": 10, "page": 0, "actionTypes": "DEVICE_CLAIMED"},
    )
    expect_error(response, 400, 30)


async def test_entity_audit_log_holds_only_that_devices_entries(api: Api, shop: Shop) -> None:
    device, token = await create_device_with_token(api, shop.tenant)
    await open_window(api, token, KEY)
    await claim(api, shop.buyer, device["name"], KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    entries = await audit_entries(
        api, shop.tenant, f"/api/audit/logs/entity/DEVICE/{shop.device_id}"
    )
    assert [e["entityId"] for e in entries] == [shop.device["id"]]


async def test_customer_audit_log_holds_that_customers_claims(api: Api, shop: Shop) -> None:
    _, other_buyer = await create_buyer(api, shop.tenant)
    await claim(api, other_buyer, shop.name, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    entries = await audit_entries(api, shop.tenant, f"/api/audit/logs/customer/{shop.customer_id}")
    assert [e["userId"] for e in entries] == [shop.buyer.user["id"]]


async def test_user_audit_log_holds_what_that_user_did(api: Api, shop: Shop) -> None:
    _, other_buyer = await create_buyer(api, shop.tenant)
    await claim(api, other_buyer, shop.name, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    user_id = shop.buyer.user["id"]["id"]
    entries = await audit_entries(api, shop.tenant, f"/api/audit/logs/user/{user_id}")
    assert [e["userId"]["id"] for e in entries] == [user_id]


def audit_paths(shop: Shop) -> list[str]:
    user_id = shop.buyer.user["id"]["id"]
    return [
        "/api/audit/logs",
        f"/api/audit/logs/entity/DEVICE/{shop.device_id}",
        f"/api/audit/logs/customer/{shop.customer_id}",
        f"/api/audit/logs/user/{user_id}",
    ]


async def test_customer_users_cannot_read_the_audit_log(api: Api, shop: Shop) -> None:
    await claim(api, shop.buyer, shop.name, KEY)
    for path in audit_paths(shop):
        response = await api.client.get(
            path, headers=shop.buyer.headers, params={"pageSize": 10, "page": 0}
        )
        expect_error(response, 403, 20)


async def test_sysadmin_cannot_read_a_tenants_audit_log(api: Api, shop: Shop) -> None:
    await claim(api, shop.buyer, shop.name, KEY)
    response = await api.client.get(
        "/api/audit/logs", headers=api.sysadmin.headers, params={"pageSize": 10, "page": 0}
    )
    expect_error(response, 403, 20)


async def test_another_tenants_admin_sees_none_of_the_entries(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    await release(api, shop.tenant, shop.name)
    other_tenant = await create_tenant_admin_quickly(api)
    for path in audit_paths(shop):
        assert await audit_entries(api, other_tenant, path) == [], path


async def test_assignment_by_the_tenant_is_audited(api: Api, shop: Shop) -> None:
    await api.ok("POST", f"/api/customer/{shop.customer_id}/device/{shop.device_id}", shop.tenant)
    [entry] = await audit_entries(api, shop.tenant)
    assert (entry["actionType"], entry["actionStatus"]) == ("ASSIGNED_TO_CUSTOMER", "SUCCESS")
    assert entry["entityId"] == shop.device["id"]
    assert entry["userId"] == shop.tenant.user["id"]
    assert entry["actionData"]["assignedCustomerId"] == shop.customer_id


async def test_assignment_by_the_tenant_is_in_the_customers_audit_log(api: Api, shop: Shop) -> None:
    await api.ok("POST", f"/api/customer/{shop.customer_id}/device/{shop.device_id}", shop.tenant)
    path = f"/api/audit/logs/customer/{shop.customer_id}"
    [entry] = await audit_entries(api, shop.tenant, path)
    assert entry["actionType"] == "ASSIGNED_TO_CUSTOMER"


async def test_unassignment_by_the_tenant_is_audited(api: Api, shop: Shop) -> None:
    await api.ok("POST", f"/api/customer/{shop.customer_id}/device/{shop.device_id}", shop.tenant)
    shop.clock.advance(SECOND_MS)
    await api.ok("DELETE", f"/api/customer/device/{shop.device_id}", shop.tenant)
    entry = (await audit_entries(api, shop.tenant))[0]
    assert (entry["actionType"], entry["actionStatus"]) == ("UNASSIGNED_FROM_CUSTOMER", "SUCCESS")
    assert entry["actionData"]["unassignedCustomerId"] == shop.customer_id


async def test_unassigning_an_unassigned_device_is_not_audited(api: Api, shop: Shop) -> None:
    await api.ok("DELETE", f"/api/customer/device/{shop.device_id}", shop.tenant)
    assert await audit_entries(api, shop.tenant) == []


# --- events on the bus -----------------------------------------------------------------------


def record_events(platform: Platform, name: str = "*") -> list[Event]:
    """Claiming's own events (``*``: DeviceClaimed and DeviceReleased), as published."""
    events: list[Event] = []

    async def handler(event: Event) -> None:
        if name != "*" or event.name in ("DeviceClaimed", "DeviceReleased"):
            events.append(event)

    platform.bus.subscribe(name, handler)
    return events


def event_data(shop: Shop, customer_id: str, user: Account) -> dict[str, Any]:
    return {
        "tenantId": shop.device["tenantId"]["id"],
        "deviceId": shop.device_id,
        "deviceName": shop.name,
        "customerId": customer_id,
        "userId": user.user["id"]["id"],
        "ts": shop.clock.now_ms(),
    }


async def test_successful_claim_publishes_one_device_claimed(
    api: Api, platform: Platform, shop: Shop
) -> None:
    events = record_events(platform, "DeviceClaimed")
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    assert events == [Event("DeviceClaimed", event_data(shop, shop.customer_id, shop.buyer))]


async def test_refused_claims_publish_nothing(api: Api, platform: Platform, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    events = record_events(platform)
    assert_refused(await claim(api, shop.buyer, shop.name, KEY), "CLAIMED")
    device, token = await create_device_with_token(api, shop.tenant)
    await open_window(api, token, KEY)
    assert_refused(await claim(api, shop.buyer, device["name"], "guess"), "FAILURE")
    assert events == []


async def test_release_publishes_device_released_with_the_previous_customer(
    api: Api, platform: Platform, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    events = record_events(platform)
    await release(api, shop.tenant, shop.name)
    assert events == [Event("DeviceReleased", event_data(shop, shop.customer_id, shop.tenant))]


async def test_release_of_an_unassigned_device_publishes_nothing(
    api: Api, platform: Platform, shop: Shop
) -> None:
    events = record_events(platform)
    await release(api, shop.tenant, shop.name)
    assert events == []


async def test_device_claimed_is_published_after_the_commit(
    api: Api, platform: Platform, shop: Shop
) -> None:
    owners_seen: list[uuid.UUID | None] = []

    async def look_from_another_transaction(event: Event) -> None:
        async with platform.unit_of_work(write=False) as uow:
            device = await DeviceRepository(uow.connection).get(uuid.UUID(event.data["deviceId"]))
            assert device is not None
            owners_seen.append(device.customer_id)

    platform.bus.subscribe("DeviceClaimed", look_from_another_transaction)
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)
    assert owners_seen == [uuid.UUID(shop.customer_id)]


async def test_device_released_is_published_after_the_commit(
    api: Api, platform: Platform, shop: Shop
) -> None:
    owners_seen: list[uuid.UUID | None] = []

    async def look_from_another_transaction(event: Event) -> None:
        async with platform.unit_of_work(write=False) as uow:
            device = await DeviceRepository(uow.connection).get(uuid.UUID(event.data["deviceId"]))
            assert device is not None
            owners_seen.append(device.customer_id)

    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    platform.bus.subscribe("DeviceReleased", look_from_another_transaction)
    await release(api, shop.buyer, shop.name)
    assert owners_seen == [None]
