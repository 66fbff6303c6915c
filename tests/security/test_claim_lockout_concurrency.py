"""Issue 9, defect 2: the claim lock-out holds under concurrency.

Many users of one customer fire wrong keys at one device at the same moment, through the real
app, on SQLite and PostgreSQL, with the rate limits in memory and in Redis. However many arrive
together, at most ``claim_lockout_after_failures`` wrong keys are evaluated before the lock-out;
all the others are answered 429 (errorCode 33, ``Retry-After``) and audited as ``locked``.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from gridlinks.config import Settings
from tests.integration.factories import (
    Account,
    Api,
    create_customer_user_quickly,
    create_tenant_admin_quickly,
)
from tests.integration.test_claim_concurrency import claim_audit_entries, create_raced_device

pytestmark = pytest.mark.security

REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
LOCKOUT_AFTER_FAILURES = 5
USERS = 8
RIGHT_KEY = "right-key-0123456789abcdef"


@pytest.fixture(params=["memory limits", pytest.param("redis limits", marks=pytest.mark.redis)])
def limits_url(request: pytest.FixtureRequest) -> str:
    """Where the rate limits live: in memory (``""``) or in Redis."""
    if request.param == "memory limits":
        return ""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis variant: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
def settings(settings: Settings, limits_url: str) -> Settings:
    return settings.model_copy(update={"redis_url": limits_url})


@pytest.fixture
async def user_clients(platform: Platform) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per guessing user, each from its own source address."""
    app = create_app(platform)
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(f"192.0.2.{n + 1}", 40000 + n)),
            base_url="http://gridlinks.test",
        )
        for n in range(USERS)
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


async def fire_wrong_keys(
    clients: list[httpx.AsyncClient], users: list[Account], name: str, total: int
) -> list[httpx.Response]:
    """``total`` wrong keys at once, spread over the users (and their addresses)."""
    path = f"/api/customer/device/{name}/claim"
    return await asyncio.gather(
        *(
            clients[n % USERS].post(
                path, headers=users[n % USERS].headers, json={"secretKey": f"wrong-{n}"}
            )
            for n in range(total)
        )
    )


def reasons_of(entries: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["actionData"]["claim"]["reason"] for e in entries)


@pytest.mark.parametrize("total", [40, 200])
async def test_concurrent_wrong_keys_are_evaluated_at_most_the_lockout_limit(
    api: Api, user_clients: list[httpx.AsyncClient], total: int
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    customer = await api.create_customer(tenant)
    users = [await create_customer_user_quickly(api, tenant, customer) for _ in range(USERS)]
    device = await create_raced_device(api, tenant)
    body = {"secretKey": RIGHT_KEY, "durationMs": 600_000}
    assert (await api.client.post(f"/api/v1/{device.token}/claim", json=body)).status_code == 200

    responses = await fire_wrong_keys(user_clients, users, device.name, total)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {400: LOCKOUT_AFTER_FAILURES, 429: total - LOCKOUT_AFTER_FAILURES}
    for response in responses:
        if response.status_code == 429:
            assert response.json()["errorCode"] == 33
            assert 1 <= int(response.headers["Retry-After"]) <= 60
    reasons = reasons_of(await claim_audit_entries(api, tenant, device))
    assert reasons == {
        "wrong key": LOCKOUT_AFTER_FAILURES,
        "locked": total - LOCKOUT_AFTER_FAILURES,
    }
    # The lock-out holds for the right key of the guessing customer too.
    late = await user_clients[0].post(
        f"/api/customer/device/{device.name}/claim",
        headers=users[0].headers,
        json={"secretKey": RIGHT_KEY},
    )
    assert late.status_code == 429, late.text


async def test_concurrent_wrong_keys_of_a_customer_leave_another_customers_key_working(
    api: Api, user_clients: list[httpx.AsyncClient]
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    guessing = await api.create_customer(tenant)
    users = [await create_customer_user_quickly(api, tenant, guessing) for _ in range(USERS)]
    buyer_customer = await api.create_customer(tenant)
    buyer = await create_customer_user_quickly(api, tenant, buyer_customer)
    device = await create_raced_device(api, tenant)
    body = {"secretKey": RIGHT_KEY, "durationMs": 600_000}
    assert (await api.client.post(f"/api/v1/{device.token}/claim", json=body)).status_code == 200

    buyers_claim = api.client.post(
        f"/api/customer/device/{device.name}/claim",
        headers=buyer.headers,
        json={"secretKey": RIGHT_KEY},
    )
    *_, answer = await asyncio.gather(
        fire_wrong_keys(user_clients, users, device.name, 100), buyers_claim
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["device"]["customerId"]["id"] == buyer_customer["id"]["id"]
