"""Guessing claim keys: lock-outs per (device, guessing customer), the per-user limit (a sliding
minute), and the audit of every attempt (SPEC 3.2 "Brute force").

The attacker-style variants (concurrency, other customers, source addresses, minute boundaries)
are in ``tests/security/test_claim_*.py``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.claiming.conftest import (
    MINUTE_MS,
    Shop,
    assert_claimed_by,
    assert_refused,
    audit_entries,
    claim,
    claim_audit,
    create_buyer,
    create_device_with_token,
    open_window,
    release,
    set_claiming_data,
)
from tests.integration.factories import (
    NULL_UUID,
    Account,
    Api,
    create_customer_user_quickly,
    expect_error,
    unique,
)

KEY = "right-key"


def in_ten_minutes(shop: Shop) -> int:
    return shop.clock.now_ms() + 10 * MINUTE_MS


def assert_locked(response: httpx.Response, retry_after_seconds: int) -> None:
    """429, ThingsBoard error JSON with errorCode 33, and ``Retry-After``."""
    expect_error(response, 429, 33)
    assert response.headers["Retry-After"] == str(retry_after_seconds)


async def guess_wrong(api: Api, account: Account, shop: Shop, times: int) -> None:
    for attempt in range(times):
        response = await claim(api, account, shop.name, f"wrong-{attempt}")
        assert_refused(response, "FAILURE")


# --- lock-out per device and guessing customer ------------------------------------------------


async def test_wrong_key_does_not_cancel_the_buyers_window(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    assert_refused(await claim(api, shop.buyer, shop.name, "guess"), "FAILURE")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_four_wrong_keys_still_leave_the_right_key_working(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 4)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_five_wrong_keys_lock_the_device_for_a_minute(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 5)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)


async def test_lock_out_holds_for_every_user_of_the_guessing_customer(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    colleague = await create_customer_user_quickly(api, shop.tenant, shop.customer)
    await guess_wrong(api, colleague, shop, 5)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)


async def test_lock_out_of_one_customer_leaves_other_customers_free(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    _, guesser = await create_buyer(api, shop.tenant)
    await guess_wrong(api, guesser, shop, 5)
    assert_locked(await claim(api, guesser, shop.name, KEY), 60)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_new_announcement_lifts_a_lock_out(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 5)
    await open_window(api, shop.token, "rotated-key")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "rotated-key"), shop.customer)


async def test_new_announcement_starts_the_count_afresh(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 4)
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 4)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_lock_out_counts_down_in_retry_after(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=10 * MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 5)
    shop.clock.advance(MINUTE_MS - 1)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 1)


async def test_right_key_works_once_the_lock_out_ends(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=10 * MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 5)
    for _ in range(3):  # attempts during the lock-out do not extend it
        assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)
    shop.clock.advance(MINUTE_MS)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_wrong_key_after_a_lock_out_locks_for_twice_as_long(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=10 * MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 5)
    shop.clock.advance(MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 1)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 120)


async def test_lock_out_keeps_doubling(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=10 * MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 5)
    shop.clock.advance(MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 1)
    shop.clock.advance(2 * MINUTE_MS)
    await guess_wrong(api, shop.buyer, shop, 1)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 240)


async def test_server_window_is_locked_out_too(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, KEY, in_ten_minutes(shop))
    await guess_wrong(api, shop.buyer, shop, 5)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)


async def test_rewriting_claiming_data_does_not_lift_a_lock_out(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, KEY, in_ten_minutes(shop))
    await guess_wrong(api, shop.buyer, shop, 5)
    await set_claiming_data(api, shop.tenant, shop.device_id, "new-key", in_ten_minutes(shop))
    assert_locked(await claim(api, shop.buyer, shop.name, "new-key"), 60)


async def test_deleting_claiming_data_lifts_a_lock_out(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, KEY, in_ten_minutes(shop))
    await guess_wrong(api, shop.buyer, shop, 5)
    await api.ok(
        "DELETE",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/SERVER_SCOPE",
        shop.tenant,
        params={"keys": "claimingData"},
    )
    await set_claiming_data(api, shop.tenant, shop.device_id, KEY, in_ten_minutes(shop))
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_release_by_the_tenant_lifts_a_device_window_lock_out(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 5)
    assert (await release(api, shop.tenant, shop.name)).status_code == 200
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_expired_key_attempts_count_towards_the_lock_out(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=1)
    shop.clock.advance(2)
    for _ in range(5):
        assert_refused(await claim(api, shop.buyer, shop.name, KEY), "FAILURE")
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)


async def test_success_resets_the_failure_count(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 4)
    await claim(api, shop.buyer, shop.name, KEY)
    await release(api, shop.buyer, shop.name)
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 4)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


class TestLockOutCap:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "claim_lockout_after_failures": 2,
            "claim_lockout_initial_seconds": 60,
            "claim_lockout_max_seconds": 100,
        }

    async def test_lock_out_starts_after_the_configured_failures(
        self, api: Api, shop: Shop
    ) -> None:
        await open_window(api, shop.token, KEY)
        await guess_wrong(api, shop.buyer, shop, 2)
        assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)

    async def test_doubled_lock_out_is_capped_at_the_maximum(self, api: Api, shop: Shop) -> None:
        await open_window(api, shop.token, KEY, duration_ms=10 * MINUTE_MS)
        await guess_wrong(api, shop.buyer, shop, 2)
        shop.clock.advance(MINUTE_MS)
        await guess_wrong(api, shop.buyer, shop, 1)
        assert_locked(await claim(api, shop.buyer, shop.name, KEY), 100)


# --- per-user limit --------------------------------------------------------------------------


async def use_up_the_minute(api: Api, shop: Shop) -> None:
    """30 attempts on a device without a window: all FAILURE, none locks the device."""
    for _ in range(30):
        assert_refused(await claim(api, shop.buyer, shop.name, "guess"), "FAILURE")


async def test_user_gets_30_attempts_a_minute(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    await open_window(api, shop.token, KEY)
    assert_locked(await claim(api, shop.buyer, shop.name, KEY), 60)


async def test_user_limit_covers_every_device(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    device, token = await create_device_with_token(api, shop.tenant)
    await open_window(api, token, KEY)
    assert_locked(await claim(api, shop.buyer, device["name"], KEY), 60)


async def test_rate_limited_user_learns_nothing_about_unknown_names(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    assert_locked(await claim(api, shop.buyer, unique("Nothing"), KEY), 60)


async def test_user_limit_is_per_user(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    other_customer, other_buyer = await create_buyer(api, shop.tenant)
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim(api, other_buyer, shop.name, KEY), other_customer)


async def test_user_may_claim_again_when_the_minute_has_passed(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    shop.clock.advance(MINUTE_MS)
    await open_window(api, shop.token, KEY)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


# --- every attempt is audited with its real reason -------------------------------------------


async def latest_claim_entry(api: Api, shop: Shop) -> dict[str, Any]:
    return (await claim_audit(api, shop))[0]


def assert_refusal_entry(entry: dict[str, Any], shop: Shop, reason: str) -> None:
    assert entry["actionType"] == "ASSIGNED_TO_CUSTOMER"
    assert entry["actionStatus"] == "FAILURE"
    assert reason in entry["actionFailureDetails"]
    assert entry["actionData"]["claim"]["reason"] == reason
    assert entry["userId"] == shop.buyer.user["id"]
    assert entry["customerId"] == shop.customer["id"]


async def test_wrong_key_is_audited_as_wrong_key(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, "guess")
    entry = await latest_claim_entry(api, shop)
    assert_refusal_entry(entry, shop, "wrong key")
    assert "guess" not in str(entry) and KEY not in str(entry)


async def test_expired_window_is_audited_as_expired(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY, duration_ms=1)
    shop.clock.advance(2)
    assert_refused(await claim(api, shop.buyer, shop.name, KEY), "FAILURE")
    assert_refusal_entry(await latest_claim_entry(api, shop), shop, "expired")


async def test_missing_window_is_audited_as_no_window(api: Api, shop: Shop) -> None:
    assert_refused(await claim(api, shop.buyer, shop.name, KEY), "FAILURE")
    assert_refusal_entry(await latest_claim_entry(api, shop), shop, "no window")


async def test_locked_attempt_is_audited_as_locked(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 5)
    shop.clock.advance(1)
    await claim(api, shop.buyer, shop.name, KEY)
    assert_refusal_entry(await latest_claim_entry(api, shop), shop, "locked")


async def test_rate_limited_attempt_is_audited_as_rate_limited(api: Api, shop: Shop) -> None:
    await use_up_the_minute(api, shop)
    shop.clock.advance(1)
    await claim(api, shop.buyer, shop.name, KEY)
    assert_refusal_entry(await latest_claim_entry(api, shop), shop, "rate limited")


async def test_claim_of_an_unknown_name_is_audited_with_the_name_tried(
    api: Api, shop: Shop
) -> None:
    name = unique("Nothing")
    await claim(api, shop.buyer, name, KEY)
    [entry] = await audit_entries(api, shop.tenant, actionTypes="ASSIGNED_TO_CUSTOMER")
    assert entry["entityName"] == name
    assert entry["entityId"]["id"] == NULL_UUID
    assert entry["actionData"]["claim"]["reason"] == "unknown device"


async def test_claim_of_a_claimed_device_is_audited_as_already_claimed(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    shop.clock.advance(1)
    assert_refused(await claim(api, shop.buyer, shop.name, KEY), "CLAIMED")
    assert_refusal_entry(await latest_claim_entry(api, shop), shop, "already claimed")


async def test_success_is_audited_with_the_new_customer(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await claim(api, shop.buyer, shop.name, KEY)
    entry = await latest_claim_entry(api, shop)
    assert entry["actionStatus"] == "SUCCESS" and entry["actionFailureDetails"] is None
    assert entry["actionData"]["claim"] == {"reason": "claimed", "source": "device"}
    assert entry["actionData"]["assignedCustomerId"] == shop.customer_id
    assert entry["actionData"]["assignedCustomerName"] == shop.customer["title"]
    assert entry["entityName"] == shop.name and entry["userId"] == shop.buyer.user["id"]


async def test_every_attempt_is_audited(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, KEY)
    await guess_wrong(api, shop.buyer, shop, 5)
    await claim(api, shop.buyer, shop.name, KEY)  # locked
    shop.clock.advance(MINUTE_MS)
    await claim(api, shop.buyer, shop.name, KEY)  # success
    await claim(api, shop.buyer, shop.name, KEY)  # already claimed
    reasons = sorted(e["actionData"]["claim"]["reason"] for e in await claim_audit(api, shop))
    assert reasons == ["already claimed", "claimed", "locked", *["wrong key"] * 5]
