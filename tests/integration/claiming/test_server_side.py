"""Server-side claim windows (``claimingData``) and who may open a window (SPEC 3.1.2, 3.1.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.claiming.conftest import (
    Shop,
    announce,
    assert_claimed_by,
    assert_refused,
    claim,
    create_buyer,
    open_window,
    release,
    server_attributes,
    set_claiming_data,
    write_server_attributes,
)
from tests.integration.factories import Api, expect_error

SECRET = "s3cr3t-Server-Key"
TEN_MINUTES_MS = 600_000


def in_ten_minutes(shop: Shop) -> int:
    return shop.clock.now_ms() + TEN_MINUTES_MS


# --- opening the server window ---------------------------------------------------------------


async def test_claiming_data_object_opens_a_window(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


async def test_claiming_data_as_a_string_holding_json_opens_a_window(api: Api, shop: Shop) -> None:
    value = json.dumps({"secretKey": SECRET, "expirationTime": in_ten_minutes(shop)})
    response = await write_server_attributes(
        api, shop.tenant, shop.device_id, {"claimingData": value}
    )
    assert response.status_code == 200, response.text
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


async def test_claiming_data_with_a_numeric_string_expiration_opens_a_window(
    api: Api, shop: Shop
) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, str(in_ten_minutes(shop)))
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


async def test_claiming_data_written_on_the_v1_path_opens_a_window(api: Api, shop: Shop) -> None:
    value = {"secretKey": SECRET, "expirationTime": in_ten_minutes(shop)}
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/SERVER_SCOPE",
        shop.tenant,
        json={"claimingData": value},
    )
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


async def test_claiming_data_without_secret_matches_the_empty_key(api: Api, shop: Shop) -> None:
    value = {"expirationTime": in_ten_minutes(shop)}
    await api.ok(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/attributes/SERVER_SCOPE",
        shop.tenant,
        json={"claimingData": value},
    )
    assert_claimed_by(await claim(api, shop.buyer, shop.name), shop.customer)


async def test_server_window_refuses_a_wrong_key(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    assert_refused(await claim(api, shop.buyer, shop.name, SECRET.upper()), "FAILURE")


async def test_expired_claiming_data_is_refused(api: Api, shop: Shop) -> None:
    expired = shop.clock.now_ms() - 1
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, expired)
    assert_refused(await claim(api, shop.buyer, shop.name, SECRET), "FAILURE")


async def test_claiming_data_is_valid_at_its_expiration_time(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    shop.clock.advance(TEN_MINUTES_MS)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


async def test_rewriting_claiming_data_replaces_the_server_window(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, "old-key", in_ten_minutes(shop))
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    assert_refused(await claim(api, shop.buyer, shop.name, "old-key"), "FAILURE")
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


# --- what is stored and shown ----------------------------------------------------------------


async def test_claiming_data_reads_back_with_a_masked_secret(api: Api, shop: Shop) -> None:
    expiration = in_ten_minutes(shop)
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, expiration)
    attributes = await server_attributes(api, shop.tenant, shop.device_id)
    assert attributes["claimingData"]["expirationTime"] == expiration
    assert attributes["claimingData"]["secretKey"] not in ("", SECRET)


async def test_secret_is_in_no_attribute_answer(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    for path in (
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/values/attributes/SERVER_SCOPE",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/values/attributes",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/values/attributes?keys=claimingData",
    ):
        response = await api.client.get(path, headers=shop.tenant.headers)
        assert response.status_code == 200, response.text
        assert "claimingData" in response.text and SECRET not in response.text


MALFORMED_CLAIMING_DATA: list[Any] = [
    pytest.param({"secretKey": SECRET, "expirationTime": 1, "durationMs": 5}, id="unknown-field"),
    pytest.param({"secretkey": SECRET, "expirationTime": 1}, id="misspelt-secretKey"),
    pytest.param({"secretKey": SECRET}, id="no-expirationTime"),
    pytest.param({"secretKey": [SECRET], "expirationTime": 1}, id="secret-not-a-string"),
    pytest.param({"secretKey": 98765, "expirationTime": 1}, id="secret-a-number"),
    pytest.param({"secretKey": SECRET, "expirationTime": "soon"}, id="expiration-not-a-number"),
    pytest.param(f'{{"secretKey": "{SECRET}", "expirationTime": ', id="string-not-json"),
    pytest.param(json.dumps([SECRET, 1]), id="string-holding-a-list"),
    pytest.param(SECRET, id="bare-secret"),
    pytest.param(12345, id="number"),
]


@pytest.mark.parametrize("value", MALFORMED_CLAIMING_DATA)
async def test_malformed_claiming_data_is_refused_without_echoing_the_secret(
    api: Api, shop: Shop, value: Any
) -> None:
    response = await write_server_attributes(
        api, shop.tenant, shop.device_id, {"claimingData": value}
    )
    message = expect_error(response, 400, 30)["message"]
    assert SECRET not in message and "98765" not in message


@pytest.mark.parametrize("value", MALFORMED_CLAIMING_DATA[:3])
async def test_malformed_claiming_data_stores_nothing(api: Api, shop: Shop, value: Any) -> None:
    body = {"claimingData": value, "batch": 1}
    await write_server_attributes(api, shop.tenant, shop.device_id, body)
    assert await server_attributes(api, shop.tenant, shop.device_id) == {}
    assert_refused(await claim(api, shop.buyer, shop.name, SECRET), "FAILURE")


async def test_malformed_claiming_data_leaves_the_previous_window_open(
    api: Api, shop: Shop
) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    bad = {"claimingData": {"secretKey": "other"}}
    expect_error(await write_server_attributes(api, shop.tenant, shop.device_id, bad), 400, 30)
    assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)


# --- closing the server window ---------------------------------------------------------------


async def test_deleting_claiming_data_closes_the_window(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    await api.ok(
        "DELETE",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/SERVER_SCOPE",
        shop.tenant,
        params={"keys": "claimingData"},
    )
    assert_refused(await claim(api, shop.buyer, shop.name, SECRET), "FAILURE")


async def test_successful_claim_removes_claiming_data_and_claiming_allowed(
    api: Api, shop: Shop
) -> None:
    await write_server_attributes(api, shop.tenant, shop.device_id, {"claimingAllowed": True})
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    await claim(api, shop.buyer, shop.name, SECRET)
    assert await server_attributes(api, shop.tenant, shop.device_id) == {}


async def test_failed_claim_keeps_claiming_data(api: Api, shop: Shop) -> None:
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    await claim(api, shop.buyer, shop.name, "guess")
    assert "claimingData" in await server_attributes(api, shop.tenant, shop.device_id)


async def test_claimed_answer_consumes_the_claiming_data_of_an_owned_device(
    api: Api, shop: Shop
) -> None:
    await open_window(api, shop.token, "device-key")
    await claim(api, shop.buyer, shop.name, "device-key")
    await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
    assert_refused(await claim(api, shop.buyer, shop.name, SECRET), "CLAIMED")
    assert await server_attributes(api, shop.tenant, shop.device_id) == {}


# --- allowClaimingByDefault = false ----------------------------------------------------------


class TestWhenClaimingIsNotAllowedByDefault:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"claim_allow_by_default": False}

    async def test_announcement_without_claiming_allowed_opens_no_window(
        self, api: Api, shop: Shop
    ) -> None:
        assert (await announce(api, shop.token, {"secretKey": "value"})).status_code == 200
        assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")

    async def test_claiming_allowed_as_the_string_true_opens_no_window(
        self, api: Api, shop: Shop
    ) -> None:
        await write_server_attributes(api, shop.tenant, shop.device_id, {"claimingAllowed": "true"})
        assert (await announce(api, shop.token, {"secretKey": "value"})).status_code == 200
        assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")

    async def test_claiming_allowed_true_lets_the_device_open_a_window(
        self, api: Api, shop: Shop
    ) -> None:
        await write_server_attributes(api, shop.tenant, shop.device_id, {"claimingAllowed": True})
        await open_window(api, shop.token, "value")
        assert_claimed_by(await claim(api, shop.buyer, shop.name, "value"), shop.customer)

    async def test_claiming_allowed_in_shared_scope_does_not_count(
        self, api: Api, shop: Shop
    ) -> None:
        await api.ok(
            "POST",
            f"/api/plugins/telemetry/DEVICE/{shop.device_id}/attributes/SHARED_SCOPE",
            shop.tenant,
            json={"claimingAllowed": True},
        )
        await open_window(api, shop.token, "value")
        assert_refused(await claim(api, shop.buyer, shop.name, "value"), "FAILURE")

    async def test_refused_announcement_is_audited_as_not_allowed(
        self, api: Api, shop: Shop
    ) -> None:
        await announce(api, shop.token, {"secretKey": "value"})
        entries = await api.ok(
            "GET",
            f"/api/audit/logs/entity/DEVICE/{shop.device_id}",
            shop.tenant,
            params={"pageSize": 10, "page": 0},
        )
        [entry] = entries["data"]
        assert entry["actionStatus"] == "FAILURE"
        assert "not allowed" in entry["actionFailureDetails"]

    async def test_claiming_data_works_without_claiming_allowed(self, api: Api, shop: Shop) -> None:
        await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
        assert_claimed_by(await claim(api, shop.buyer, shop.name, SECRET), shop.customer)

    async def test_release_by_the_tenant_sets_claiming_allowed_to_boolean_true(
        self, api: Api, shop: Shop
    ) -> None:
        await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
        await claim(api, shop.buyer, shop.name, SECRET)
        assert (await release(api, shop.tenant, shop.name)).status_code == 200
        attributes = await server_attributes(api, shop.tenant, shop.device_id)
        assert attributes == {"claimingAllowed": True}

    async def test_released_device_can_be_claimed_again_by_another_customer(
        self, api: Api, shop: Shop
    ) -> None:
        await set_claiming_data(api, shop.tenant, shop.device_id, SECRET, in_ten_minutes(shop))
        await claim(api, shop.buyer, shop.name, SECRET)
        await release(api, shop.tenant, shop.name)
        other_customer, other_buyer = await create_buyer(api, shop.tenant)
        await open_window(api, shop.token, "new-key")
        assert_claimed_by(await claim(api, other_buyer, shop.name, "new-key"), other_customer)


async def test_claiming_data_in_shared_scope_is_refused_and_not_stored(
    api: Api, shop: Shop
) -> None:
    secret = "Shared-Scope-Secret-7Q"
    response = await api.client.post(
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/attributes/SHARED_SCOPE",
        headers=shop.tenant.headers,
        json={"claimingData": {"secretKey": secret, "expirationTime": shop.clock.now_ms() + 1}},
    )
    message = expect_error(response, 400, 30)["message"]
    assert "SERVER_SCOPE" in message and secret not in message
    shared = await api.ok(
        "GET",
        f"/api/plugins/telemetry/DEVICE/{shop.device_id}/values/attributes/SHARED_SCOPE",
        shop.tenant,
    )
    assert shared == []
