"""When every database connection (or SQLite's write lock) is taken, requests are refused with
503 and ``Retry-After`` within the configured wait, never a 500 and never an endless queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from tests.integration.factories import Api, auth

WAIT_SECONDS = 0.3


@pytest.fixture
async def small_pool(settings: Settings) -> AsyncIterator[Platform]:
    """A platform with one pooled connection (two with the overflow) and a short wait."""
    narrow = settings.model_copy(
        update={"database_pool_size": 1, "database_pool_timeout_seconds": WAIT_SECONDS}
    )
    built = build_platform(narrow)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def small_pool_api(small_pool: Platform) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=create_app(small_pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://gridlinks.test") as http:
        yield await Api.start(http, small_pool)


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    body = response.json()
    assert body["status"] == 503
    assert body["errorCode"] == 2
    assert "retry" in body["message"]


async def test_requests_get_503_with_retry_after_while_every_connection_is_taken(
    small_pool: Platform, small_pool_api: Api
) -> None:
    async with AsyncExitStack() as held:
        for _ in range(2):  # pool size 1 + overflow 1
            await held.enter_async_context(small_pool.unit_of_work(write=False))
        response = await small_pool_api.client.get(
            "/api/auth/user", headers=small_pool_api.sysadmin.headers
        )
        _assert_busy(response)
    # Once the connections are back, the same request is served.
    response = await small_pool_api.client.get(
        "/api/auth/user", headers=small_pool_api.sysadmin.headers
    )
    assert response.status_code == 200


async def test_writes_get_503_while_another_write_holds_the_database_too_long(
    small_pool: Platform, small_pool_api: Api
) -> None:
    if not small_pool.database.is_sqlite:
        pytest.skip("PostgreSQL has no single-writer lock: concurrent writes proceed")
    async with small_pool.unit_of_work():
        response = await small_pool_api.client.post(
            "/api/customer",
            headers=auth(small_pool_api.sysadmin.token),
            json={"title": "never stored"},
        )
        _assert_busy(response)
