"""Device-side claim windows over the HTTP device API (SPEC 3.1.1, 3.1.3, 3.1.4).

The first tests replay ThingsBoard's own claiming test sequence (reference §10) over
``POST /api/v1/{token}/claim``, which ThingsBoard itself leaves untested.
"""

from __future__ import annotations

from gridlinks.bootstrap import Platform
from tests.integration.claiming.conftest import (
    PAGE,
    Shop,
    announce,
    assert_claimed_by,
    assert_refused,
    audit_entries,
    claim,
    claim_audit,
    claim_path,
    open_window,
    set_claiming_data,
    sign_in_again,
    stored_windows,
)
from tests.integration.factories import Api, expect_error

DAY_MS = 86_400_000
_JSON = {"Content-Type": "application/json"}

# --- ThingsBoard's sequence ------------------------------------------------------------------


async def test_short_lived_window_has_expired_when_the_buyer_claims(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value", duration_ms=1)
    shop.clock.advance(2)
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")


async def test_window_still_open_at_its_last_millisecond(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value", duration_ms=1)
    shop.clock.advance(1)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


async def test_valid_announcement_lets_the_buyer_claim_after_an_expired_one(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, "value", duration_ms=1)
    shop.clock.advance(2)
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")
    await open_window(api, shop.token, "value", duration_ms=60_000)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


async def test_claimed_device_is_listed_among_the_buyers_devices(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    await claim(api, shop.buyer, shop.name, "value")
    listed = await api.ok(
        "GET", f"/api/customer/{shop.customer_id}/devices", shop.buyer, params=PAGE
    )
    assert [d["id"] for d in listed["data"]] == [shop.device["id"]]


async def test_claim_answer_holds_the_device_as_it_is_now_stored(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    body = assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)
    assert body["device"] == await api.ok("GET", f"/api/device/{shop.device_id}", shop.buyer)


async def test_second_claim_of_the_same_device_answers_claimed(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "CLAIMED")


# --- the same without secret and duration ----------------------------------------------------


async def test_window_without_secret_expires_too(api: Api, shop: Shop) -> None:
    opened = await announce(api, shop.token, {"durationMs": 1})
    assert opened.status_code == 200
    shop.clock.advance(2)
    assert_refused(await claim(api, shop.buyer, shop.name), "FAILURE")


async def test_empty_object_announcement_opens_a_window_with_the_empty_key(
    api: Api, shop: Shop
) -> None:
    assert (await announce(api, shop.token, {})).status_code == 200
    assert_claimed_by(await claim(api, shop.buyer, shop.name), shop.customer)
    assert_refused(await claim(api, shop.buyer, shop.name), "CLAIMED")


async def test_announcement_without_body_opens_a_window_with_the_empty_key(
    api: Api, shop: Shop
) -> None:
    assert (await announce(api, shop.token)).status_code == 200
    assert_claimed_by(await claim(api, shop.buyer, shop.name), shop.customer)


async def test_claim_without_any_body_presents_the_empty_key(api: Api, shop: Shop) -> None:
    assert (await announce(api, shop.token)).status_code == 200
    path = claim_path(shop.name)
    claimed = await api.client.post(path, headers=shop.buyer.headers)
    assert_claimed_by(claimed, shop.customer)
    again = await api.client.post(path, headers=shop.buyer.headers)
    assert_refused(again, "CLAIMED")


async def test_window_without_duration_closes_after_the_default_24_hours(
    api: Api, shop: Shop
) -> None:
    assert (await announce(api, shop.token, {"secretKey": "value"})).status_code == 200
    shop.clock.advance(DAY_MS + 1)
    buyer = await sign_in_again(api, shop.buyer)  # the first access token lived 2.5 hours
    assert_refused(await claim(api, buyer, shop.name, "value"), "FAILURE")


async def test_window_with_zero_duration_is_open_until_the_default_24_hours(
    api: Api, shop: Shop
) -> None:
    opened = await announce(api, shop.token, {"secretKey": "value", "durationMs": 0})
    assert opened.status_code == 200
    shop.clock.advance(DAY_MS)
    buyer = await sign_in_again(api, shop.buyer)
    assert_claimed_by(await claim(api, buyer, shop.name, "value"), shop.customer)


async def test_window_with_negative_duration_gets_the_default_duration(
    api: Api, shop: Shop
) -> None:
    opened = await announce(api, shop.token, {"secretKey": "value", "durationMs": -5})
    assert opened.status_code == 200
    shop.clock.advance(60_000)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


async def test_numeric_secret_is_taken_as_its_text(api: Api, shop: Shop) -> None:
    assert (await announce(api, shop.token, {"secretKey": 123456})).status_code == 200
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "123456"), shop.customer)


async def test_duration_given_as_a_numeric_string_is_understood(api: Api, shop: Shop) -> None:
    body = {"secretKey": "value", "durationMs": "60000"}
    assert (await announce(api, shop.token, body)).status_code == 200
    shop.clock.advance(60_001)
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")


async def test_duration_that_is_not_a_number_is_refused(
    api: Api, platform: Platform, shop: Shop
) -> None:
    response = await announce(api, shop.token, {"secretKey": "value", "durationMs": "soon"})
    expect_error(response, 400, 31)
    assert await stored_windows(platform, shop.device_id) == []


async def test_empty_key_does_not_match_a_secret(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    assert_refused(await claim(api, shop.buyer, shop.name), "FAILURE")


async def test_key_comparison_is_case_sensitive(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "Value")
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")


# --- what the device API answers -------------------------------------------------------------


async def test_announcement_with_an_unknown_token_is_refused(api: Api, shop: Shop) -> None:
    response = await announce(api, "no-such-token", {"secretKey": "value"})
    expect_error(response, 401, 10)


async def test_announcement_with_malformed_json_is_refused(
    api: Api, platform: Platform, shop: Shop
) -> None:
    response = await announce(api, shop.token, content=b'{"secretKey": ', headers=_JSON)
    expect_error(response, 400, 31)
    assert await stored_windows(platform, shop.device_id) == []


async def test_announcement_that_is_not_a_json_object_is_refused(api: Api, shop: Shop) -> None:
    for body in (["value"], "value", 60000, True):
        expect_error(await announce(api, shop.token, body), 400, 31)


async def test_announcement_sent_as_text_plain_is_understood(api: Api, shop: Shop) -> None:
    body = b'{"secretKey": "value", "durationMs": 60000}'
    response = await announce(api, shop.token, content=body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)


async def test_huge_announcement_is_refused(api: Api, shop: Shop) -> None:
    body = b'{"secretKey": "' + b"x" * 1_100_000 + b'"}'
    response = await announce(api, shop.token, content=body, headers=_JSON)
    expect_error(response, 413, 31)


async def test_announcement_with_a_secret_longer_than_1024_characters_is_refused(
    api: Api, shop: Shop
) -> None:
    response = await announce(api, shop.token, {"secretKey": "x" * 1025})
    assert "xxxx" not in expect_error(response, 400, 31)["message"]


# --- announcements for claimed devices -------------------------------------------------------


async def test_announcement_for_a_claimed_device_is_acknowledged_but_stores_nothing(
    api: Api, platform: Platform, shop: Shop
) -> None:
    await open_window(api, shop.token, "value")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)
    response = await announce(api, shop.token, {"secretKey": "rotated-Secret-42"})
    assert (response.status_code, response.content) == (200, b"")
    assert await stored_windows(platform, shop.device_id) == []
    assert_refused(await claim(api, shop.buyer, shop.name, "rotated-Secret-42"), "CLAIMED")


async def test_refused_announcement_is_audited_with_the_reason(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    await claim(api, shop.buyer, shop.name, "value")
    shop.clock.advance(1)
    await announce(api, shop.token, {"secretKey": "rotated-Secret-42"})
    entries = await audit_entries(
        api,
        shop.tenant,
        f"/api/audit/logs/entity/DEVICE/{shop.device_id}",
        actionTypes="ATTRIBUTES_UPDATED",
    )
    assert len(entries) == 1
    assert entries[0]["actionStatus"] == "FAILURE"
    assert "refused" in entries[0]["actionFailureDetails"]
    assert "already claimed" in entries[0]["actionFailureDetails"]
    assert "rotated-Secret-42" not in str(entries[0])


async def test_claim_after_a_refused_announcement_finds_no_window(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value")
    await claim(api, shop.buyer, shop.name, "value")
    await announce(api, shop.token, {"secretKey": "other"})
    shop.clock.advance(1)
    await claim(api, shop.buyer, shop.name, "other")
    latest = (await claim_audit(api, shop))[0]
    assert latest["actionData"]["claim"] == {"reason": "already claimed", "source": None}


# --- which window counts ---------------------------------------------------------------------


async def test_latest_announcement_replaces_the_pending_window(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "first")
    await open_window(api, shop.token, "second")
    assert_refused(await claim(api, shop.buyer, shop.name, "first"), "FAILURE")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "second"), shop.customer)


async def test_latest_announcement_sets_the_expiry_too(api: Api, shop: Shop) -> None:
    await open_window(api, shop.token, "value", duration_ms=600_000)
    await open_window(api, shop.token, "value", duration_ms=1)
    shop.clock.advance(2)
    assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")


async def test_device_window_takes_precedence_over_the_server_window(api: Api, shop: Shop) -> None:
    expiration = shop.clock.now_ms() + 600_000
    await set_claiming_data(api, shop.tenant, shop.device_id, "server-key", expiration)
    await open_window(api, shop.token, "device-key")
    assert_refused(await claim(api, shop.buyer, shop.name, "server-key"), "FAILURE")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "device-key"), shop.customer)


async def test_server_window_counts_once_the_device_window_is_gone(
    api: Api, platform: Platform, shop: Shop
) -> None:
    expiration = shop.clock.now_ms() + 600_000
    await open_window(api, shop.token, "device-key", duration_ms=1)
    await set_claiming_data(api, shop.tenant, shop.device_id, "server-key", expiration)
    shop.clock.advance(2)
    async with platform.unit_of_work() as uow:
        await platform.claiming.purge_expired(uow)
        await uow.commit()
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "server-key"), shop.customer)


async def test_expired_device_window_does_not_hide_a_valid_server_window(
    api: Api, shop: Shop
) -> None:
    expiration = shop.clock.now_ms() + 600_000
    await open_window(api, shop.token, "device-key", duration_ms=1)
    await set_claiming_data(api, shop.tenant, shop.device_id, "server-key", expiration)
    shop.clock.advance(2)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, "server-key"), shop.customer)


async def test_successful_claim_consumes_both_windows(
    api: Api, platform: Platform, shop: Shop
) -> None:
    expiration = shop.clock.now_ms() + 600_000
    await set_claiming_data(api, shop.tenant, shop.device_id, "server-key", expiration)
    await open_window(api, shop.token, "device-key")
    await claim(api, shop.buyer, shop.name, "device-key")
    assert await stored_windows(platform, shop.device_id) == []
