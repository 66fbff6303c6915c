"""Defect 10: "already assigned" must not be an oracle for other tenants' access tokens.

The refusal itself cannot go (tokens are unique across the installation), so it is rate-limited
per tenant: 10 clashes a minute, then 429 (errorCode 33, Retry-After) for *every* request of the
tenant that chooses credentials, clash or not, so a guesser learns nothing more. Every path
that sets a chosen token or MQTT basic credentials counts, in memory and with Redis.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from gridlinks.config import Settings
from gridlinks.devices.clashes import CLASH_LIMIT, CLASH_WINDOW_SECONDS
from tests.integration.factories import (
    Account,
    Api,
    create_tenant_admin_quickly,
    expect_error,
    unique,
)
from tests.security.devices_support import create_with_token, set_basic, set_token

pytestmark = pytest.mark.security

REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The integration settings, with the rate limiter in memory or in Redis."""
    if request.param == "memory":
        return settings
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis variant: set {REDIS_ENV}")
    return settings.model_copy(update={"redis_url": url})


async def with_credentials(api: Api, account: Account, credentials: dict[str, Any]) -> Any:
    return await api.client.post(
        "/api/device-with-credentials",
        headers=account.headers,
        json={"device": {"name": unique("Device")}, "credentials": credentials},
    )


def expect_clash(response: httpx.Response) -> None:
    body = expect_error(response, 400, 31)
    assert body["message"] == "Device credentials are already assigned to another device!"


def expect_too_many(response: httpx.Response) -> None:
    expect_error(response, 429, 33)
    assert 1 <= int(response.headers["Retry-After"]) <= CLASH_WINDOW_SECONDS


async def taken_token(api: Api) -> str:
    """A token held by a device of another tenant."""
    token = unique("victim-token")
    owner = await create_tenant_admin_quickly(api)
    assert (await create_with_token(api, owner, token)).status_code == 200
    return token


async def test_guessing_other_tenants_tokens_is_cut_off_after_ten_clashes(api: Api) -> None:
    token = await taken_token(api)
    guesser = await create_tenant_admin_quickly(api)

    for _ in range(CLASH_LIMIT):
        expect_clash(await create_with_token(api, guesser, token))
    over_the_limit = await create_with_token(api, guesser, token)

    expect_too_many(over_the_limit)
    assert token not in over_the_limit.text


async def test_after_the_limit_a_free_chosen_token_is_answered_429_too(api: Api) -> None:
    """Otherwise 429 (taken) against 200 (free) would be the oracle again."""
    token = await taken_token(api)
    guesser = await create_tenant_admin_quickly(api)
    for _ in range(CLASH_LIMIT + 1):
        await create_with_token(api, guesser, token)

    expect_too_many(await create_with_token(api, guesser, unique("free-token")))
    device = await api.create_device(guesser)  # a generated token reveals nothing: allowed
    expect_too_many(await set_token(api, guesser, device, unique("free-token")))
    expect_too_many(await set_basic(api, guesser, device, userName=unique("free-user")))


async def test_every_path_that_sets_a_token_counts_towards_the_limit(api: Api) -> None:
    token = await taken_token(api)
    guesser = await create_tenant_admin_quickly(api)
    device = await api.create_device(guesser)
    by_credentials = {"credentialsType": "ACCESS_TOKEN", "credentialsId": token}
    attempts = [
        lambda: create_with_token(api, guesser, token),
        lambda: set_token(api, guesser, device, token),
        lambda: with_credentials(api, guesser, by_credentials),
        lambda: set_basic(api, guesser, device, userName=token),
    ]

    answers = [await attempts[i % len(attempts)]() for i in range(CLASH_LIMIT + 1)]

    assert [a.status_code for a in answers] == [400] * CLASH_LIMIT + [429]
    assert all(token not in a.text for a in answers)


async def test_one_tenants_guessing_does_not_limit_another_tenant(api: Api) -> None:
    token = await taken_token(api)
    guesser, bystander = [await create_tenant_admin_quickly(api) for _ in range(2)]
    for _ in range(CLASH_LIMIT + 1):
        await create_with_token(api, guesser, token)

    expect_clash(await create_with_token(api, bystander, token))
    assert (await create_with_token(api, bystander, unique("own-token"))).status_code == 200
