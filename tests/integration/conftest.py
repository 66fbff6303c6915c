"""In-process API tests: the real app and a real database, driven over ASGI by httpx."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.kit.clock import Clock
from tests.integration.factories import Api

REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://gridlinks.test") as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient, platform: Platform) -> Api:
    return await Api.start(client, platform)


# --- two nodes: two platforms on one database and one Redis, as two ``gridlinks serve`` ---
@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis variant: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
def node_clock() -> Clock | None:
    """The clock both nodes share; a test module overrides this to fix the time (None: the
    system clock)."""
    return None


@pytest.fixture
async def nodes(
    settings: Settings, redis_url: str, node_clock: Clock | None
) -> AsyncIterator[list[Platform]]:
    """Node A and node B, built from the same settings plus Redis, started."""
    shared = settings.model_copy(update={"redis_url": redis_url})
    built = [build_platform(shared, clock=node_clock) for _ in range(2)]
    await built[0].migrate()
    for node in built:
        await node.start()
    try:
        yield built
    finally:
        for node in built:
            await node.close()


@pytest.fixture
async def clients(nodes: list[Platform]) -> AsyncIterator[list[httpx.AsyncClient]]:
    """An HTTP client of each node's app (over ASGI)."""
    opened = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(n)), base_url="http://n")
        for n in nodes
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()
