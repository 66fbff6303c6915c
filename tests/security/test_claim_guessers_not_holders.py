"""Issue 9, defect 5: brute-force protection locks out the guessers, not the buyer.

A customer's wrong keys lock that customer (all of its users) out of the device; they never
make another customer's right key fail or answer 429. A new announcement by the device itself
(proof that someone holds it) clears the device's lock-outs. Every attempt stays audited.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from tests.integration.claiming import conftest as claiming
from tests.integration.claiming.conftest import (
    Shop,
    assert_claimed_by,
    assert_refused,
    claim,
    claim_audit,
    create_buyer,
    open_window,
)
from tests.integration.factories import Account, Api, create_customer_user_quickly, expect_error

pytestmark = pytest.mark.security

# The claiming tests' fixtures: a platform on a clock the tests move, and a shop.
clock = claiming.clock
platform = claiming.platform
settings_overrides = claiming.settings_overrides
shop = claiming.shop

KEY = "right-key-0123456789abcdef"


def assert_locked(response: httpx.Response) -> None:
    expect_error(response, 429, 33)
    assert int(response.headers["Retry-After"]) >= 1


async def guess(api: Api, account: Account, shop: Shop, times: int) -> list[int]:
    statuses = []
    for attempt in range(times):
        response = await claim(api, account, shop.name, f"wrong-{attempt}")
        statuses.append(response.status_code)
    return statuses


async def test_another_customers_five_wrong_keys_never_lock_out_the_buyers_right_key(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    _, guesser = await create_buyer(api, shop.tenant)
    assert await guess(api, guesser, shop, 5) == [400] * 5
    assert_locked(await claim(api, guesser, shop.name, KEY))
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_another_customers_fifty_wrong_keys_never_make_the_buyers_right_key_fail(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY, duration_ms=3_600_000)
    guessing_customer, guesser = await create_buyer(api, shop.tenant)
    colleagues = [await create_customer_user_quickly(api, shop.tenant, guessing_customer)]
    for account in [guesser, *colleagues]:
        statuses = await guess(api, account, shop, 25)
        assert set(statuses) <= {400, 429}
        shop.clock.advance(61_000)  # past the first lock-outs and the per-user minute
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_a_customer_is_locked_out_as_one_whichever_of_its_users_guess(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    guessing_customer, _ = await create_buyer(api, shop.tenant)
    users = [
        await create_customer_user_quickly(api, shop.tenant, guessing_customer) for _ in range(6)
    ]
    for user in users[:5]:
        assert_refused(await claim(api, user, shop.name, "wrong"), "FAILURE")
    assert_locked(await claim(api, users[5], shop.name, KEY))
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_device_announcement_lifts_the_lock_out_of_the_customer_holding_it(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    assert await guess(api, shop.buyer, shop, 5) == [400] * 5  # the buyer mistyped five times
    assert_locked(await claim(api, shop.buyer, shop.name, KEY))
    await open_window(api, shop.token, KEY)  # the buyer presses the pairing button again
    assert_claimed_by(await claim(api, shop.buyer, shop.name, KEY), shop.customer)


async def test_guessers_lock_out_is_audited_as_locked_and_the_buyers_claim_as_claimed(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, KEY)
    _, guesser = await create_buyer(api, shop.tenant)
    await guess(api, guesser, shop, 6)
    await claim(api, shop.buyer, shop.name, KEY)
    entries = await claim_audit(api, shop)
    by_user = [(e["userId"]["id"], e["actionData"]["claim"]["reason"]) for e in entries]
    guesser_id, buyer_id = guesser.user["id"]["id"], shop.buyer.user["id"]["id"]
    assert sorted(by_user) == sorted(
        [(guesser_id, "wrong key")] * 5 + [(guesser_id, "locked"), (buyer_id, "claimed")]
    )


# --- per source address ----------------------------------------------------------------------
ADDRESS_LIMIT = 10


class TestPerAddressLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"claim_address_attempts_per_minute": ADDRESS_LIMIT}

    async def test_one_source_address_is_rate_limited_across_users_and_customers(
        self,
        api: Api,
        shop: Shop,
        platform: Platform,
    ) -> None:
        await open_window(api, shop.token, KEY)
        app = create_app(platform)
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
        other_transport = httpx.ASGITransport(app=app, client=("198.51.100.8", 50000))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as same_address,
            httpx.AsyncClient(transport=other_transport, base_url="http://t") as other_address,
        ):
            path = f"/api/customer/device/{unique_name(shop)}/claim"
            for n in range(ADDRESS_LIMIT):
                account = (await create_buyer(api, shop.tenant))[1]
                response = await same_address.post(path, headers=account.headers, json={})
                assert response.status_code == 404, (n, response.text)
            fresh = (await create_buyer(api, shop.tenant))[1]
            assert_locked(await same_address.post(path, headers=fresh.headers, json={}))
            answer = await other_address.post(
                f"/api/customer/device/{shop.name}/claim",
                headers=shop.buyer.headers,
                json={"secretKey": KEY},
            )
        assert_claimed_by(answer, shop.customer)


def unique_name(shop: Shop) -> str:
    return f"no-such-device-{shop.device_id}"
