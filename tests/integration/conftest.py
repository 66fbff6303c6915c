"""In-process API tests: the real app and a real database, driven over ASGI by httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from tests.integration.factories import Api


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://gridlinks.test") as http:
        yield http


@pytest.fixture
async def api(client: httpx.AsyncClient, platform: Platform) -> Api:
    return await Api.start(client, platform)
