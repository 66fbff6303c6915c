"""Issue 9, defect 12: the per-user claim limit is a sliding window, not a fixed one.

With a limit of 30 a minute, 30 attempts in the last second of a minute leave no attempt for the
first seconds of the next minute: in any 60 seconds at most 30 attempts are evaluated. Shown on
the rate limiters themselves (memory and Redis, one node and two) and through the app.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from gridlinks.kit.clock import FixedClock
from gridlinks.limits.base import RateLimiter
from gridlinks.limits.memory import MemoryRateLimiter
from gridlinks.limits.redis import RedisRateLimiter
from tests.integration.claiming import conftest as claiming
from tests.integration.claiming.conftest import (
    Shop,
    assert_refused,
    claim,
    claim_audit,
    open_window,
)
from tests.integration.factories import Api, expect_error

pytestmark = pytest.mark.security

# The claiming tests' fixtures: a platform on a clock the tests move, and a shop.
clock = claiming.clock
platform = claiming.platform
shop = claiming.shop

REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
MINUTE_START_MS = 1_700_000_040_000  # a multiple of 60 000
LIMIT = 30


def redis_url_or_skip() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis variant: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


LimiterFactory = Callable[[], RateLimiter]


@pytest.fixture
def limiter_clock() -> FixedClock:
    return FixedClock(MINUTE_START_MS)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def create_limiter(
    request: pytest.FixtureRequest, limiter_clock: FixedClock
) -> AsyncIterator[LimiterFactory]:
    """Limiters on one clock: one shared in-memory limiter, or one Redis client per node."""
    made: list[RateLimiter] = []
    url = redis_url_or_skip() if request.param == "redis" else ""
    memory = MemoryRateLimiter(limiter_clock)

    def create() -> RateLimiter:
        if not url:
            return memory
        made.append(RedisRateLimiter(Redis.from_url(url), limiter_clock))
        return made[-1]

    yield create
    for limiter in made:
        await limiter.close()


@pytest.fixture
def key() -> str:
    return f"claim-user:{uuid.uuid4().hex}"


async def hits(limiter: RateLimiter, key: str, count: int) -> list[int]:
    return [await limiter.hit(key, LIMIT, 60) for _ in range(count)]


async def test_limit_holds_across_a_minute_boundary(
    create_limiter: LimiterFactory, limiter_clock: FixedClock, key: str
) -> None:
    limiter = create_limiter()
    limiter_clock.advance(59_000)
    assert await hits(limiter, key, LIMIT) == [0] * LIMIT
    limiter_clock.advance(2_000)  # one second into the next minute
    assert all(await hits(limiter, key, 9))


async def test_attempts_free_up_as_the_oldest_leave_the_window(
    create_limiter: LimiterFactory, limiter_clock: FixedClock, key: str
) -> None:
    limiter = create_limiter()
    for _ in range(3):  # 3 attempts at 0 s, 10 s and 20 s, limit 3 a minute
        assert await limiter.hit(key, 3, 60) == 0
        limiter_clock.advance(10_000)
    assert await limiter.hit(key, 3, 60) == 30  # at 30 s: the first leaves at 60 s
    limiter_clock.advance(30_000)
    assert await limiter.hit(key, 3, 60) == 0  # at 60 s: the first has left
    assert await limiter.hit(key, 3, 60) == 10  # the second leaves at 70 s


async def test_in_any_sixty_seconds_at_most_the_limit_is_allowed(
    create_limiter: LimiterFactory, limiter_clock: FixedClock, key: str
) -> None:
    limiter = create_limiter()
    allowed_at: list[int] = []
    for _ in range(600):  # one attempt every 700 ms for 7 minutes
        if await limiter.hit(key, LIMIT, 60) == 0:
            allowed_at.append(limiter_clock.now_ms())
        limiter_clock.advance(700)
    for i, start in enumerate(allowed_at):
        in_window = [t for t in allowed_at[i:] if t < start + 60_000]
        assert len(in_window) <= LIMIT
    assert len(allowed_at) >= LIMIT * 7 - LIMIT  # the limit is a cap, not a throttle below it


async def test_concurrent_hits_on_two_nodes_allow_exactly_the_limit(
    create_limiter: LimiterFactory, key: str
) -> None:
    nodes = [create_limiter(), create_limiter()]
    results = await asyncio.gather(*(nodes[n % 2].hit(key, LIMIT, 60) for n in range(100)))
    assert results.count(0) == LIMIT
    assert all(1 <= r <= 60 for r in results if r)


# --- through the app -------------------------------------------------------------------------
@pytest.fixture(params=["memory limits", pytest.param("redis limits", marks=pytest.mark.redis)])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory limits":
        return {}
    return {"redis_url": redis_url_or_skip()}


async def test_user_claim_limit_holds_across_a_minute_boundary(api: Api, shop: Shop) -> None:
    shop.clock.advance(59_000)  # the shop's clock starts on a minute boundary
    for _ in range(LIMIT):
        assert_refused(await claim(api, shop.buyer, shop.name, "guess"), "FAILURE")
    shop.clock.advance(2_000)
    await open_window(api, shop.token, "right-key-0123456789")
    refused = await claim(api, shop.buyer, shop.name, "right-key-0123456789")
    expect_error(refused, 429, 33)
    assert refused.headers["Retry-After"] == "58"  # the first attempt leaves at 119 s
    entries = await claim_audit(api, shop)
    assert entries[0]["actionData"]["claim"]["reason"] == "rate limited"
    shop.clock.advance(58_000)
    assert (await claim(api, shop.buyer, shop.name, "right-key-0123456789")).status_code == 200
