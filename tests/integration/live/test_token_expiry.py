"""A live session lasts as long as the JWT it was opened with."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.live.session import Ending
from tests.integration.claiming.conftest import Shop


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"access_token_lifetime_seconds": 1}


@pytest.mark.slow
async def test_session_ends_with_policy_violation_when_its_token_expires(
    platform: Platform, shop: Shop
) -> None:
    principal = await platform.live.authenticate(shop.tenant.token)
    session = platform.live.open_session(principal, shop.tenant.token)

    ending = await asyncio.wait_for(session.next_frame(), 3.0)

    assert ending == Ending(1008, "Token has expired")
