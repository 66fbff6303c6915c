"""``MemoryRateLimiter``: sliding windows on a hand-moved clock."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from gridlinks.kit.clock import FixedClock
from gridlinks.limits.memory import MemoryRateLimiter

MINUTE_START_MS = 1_700_000_040_000  # a multiple of 60 000: a calendar minute starts here


def create_limiter(now_ms: int = MINUTE_START_MS) -> tuple[MemoryRateLimiter, FixedClock]:
    clock = FixedClock(now_ms)
    return MemoryRateLimiter(clock), clock


async def hits(
    limiter: MemoryRateLimiter, key: str, count: int, limit: int, window: int
) -> list[int]:
    return [await limiter.hit(key, limit, window) for _ in range(count)]


async def test_hits_up_to_the_limit_are_allowed() -> None:
    limiter, _ = create_limiter()
    assert await hits(limiter, "user-1", 3, limit=3, window=60) == [0, 0, 0]


async def test_hit_over_the_limit_waits_until_the_oldest_hit_leaves_the_window() -> None:
    limiter, clock = create_limiter(MINUTE_START_MS + 15_000)
    await hits(limiter, "user-1", 3, limit=3, window=60)
    clock.advance(15_000)
    assert await limiter.hit("user-1", 3, 60) == 45


async def test_retry_after_is_rounded_up_to_whole_seconds() -> None:
    limiter, clock = create_limiter()
    await limiter.hit("user-1", 1, 60)
    clock.advance(14_500)
    assert await limiter.hit("user-1", 1, 60) == 46


async def test_zero_limit_refuses_the_first_hit() -> None:
    limiter, _ = create_limiter()
    assert await limiter.hit("user-1", 0, 60) == 60


@given(st.integers(min_value=0, max_value=59_999))
async def test_retry_after_is_the_seconds_until_the_oldest_hit_is_a_window_old(
    offset_ms: int,
) -> None:
    limiter, clock = create_limiter()
    await limiter.hit("user-1", 1, 60)
    clock.advance(offset_ms)
    assert await limiter.hit("user-1", 1, 60) == max(1, math.ceil((60_000 - offset_ms) / 1000))


async def test_calendar_minutes_do_not_matter() -> None:
    limiter, clock = create_limiter(MINUTE_START_MS + 59_000)
    await hits(limiter, "user-1", 3, limit=3, window=60)
    clock.advance(2_000)  # into the next calendar minute
    assert await hits(limiter, "user-1", 2, limit=3, window=60) == [58, 58]


async def test_hit_is_allowed_once_the_oldest_is_exactly_a_window_old() -> None:
    limiter, clock = create_limiter()
    await limiter.hit("user-1", 1, 60)
    clock.advance(59_999)
    assert await limiter.hit("user-1", 1, 60) == 1
    clock.advance(1)
    assert await limiter.hit("user-1", 1, 60) == 0


async def test_refused_hits_do_not_extend_the_wait() -> None:
    limiter, clock = create_limiter()
    await limiter.hit("user-1", 1, 60)
    for _ in range(5):
        clock.advance(10_000)
        await limiter.hit("user-1", 1, 60)
    clock.advance(10_000)
    assert await limiter.hit("user-1", 1, 60) == 0


async def test_keys_are_counted_apart() -> None:
    limiter, _ = create_limiter()
    await hits(limiter, "user-1", 5, limit=2, window=60)
    assert await hits(limiter, "user-2", 2, limit=2, window=60) == [0, 0]


async def test_one_key_in_different_window_sizes_is_counted_apart() -> None:
    limiter, _ = create_limiter()
    await hits(limiter, "device-1", 5, limit=2, window=60)
    assert await hits(limiter, "device-1", 2, limit=2, window=3600) == [0, 0]


async def test_keys_that_look_like_window_sizes_do_not_collide() -> None:
    limiter, _ = create_limiter()
    await hits(limiter, "0:x", 3, limit=2, window=6)
    assert await hits(limiter, "x", 2, limit=2, window=60) == [0, 0]


async def crowd(limiter: MemoryRateLimiter, name: str, count: int = 12_000) -> None:
    """One hit on each of ``count`` other keys: more hits than go between two prunings."""
    for i in range(count):
        await limiter.hit(f"{name}-{i}", 1, 60)


async def test_hits_still_in_the_window_survive_pruning() -> None:
    limiter, clock = create_limiter()
    await hits(limiter, "watched", 2, limit=3, window=60)
    clock.advance(10_000)
    await crowd(limiter, "crowd")
    assert await hits(limiter, "watched", 2, limit=3, window=60) == [0, 50]


async def test_longer_windows_survive_pruning_of_ended_short_ones() -> None:
    limiter, clock = create_limiter()
    await hits(limiter, "hourly", 2, limit=3, window=3600)
    await crowd(limiter, "first-minute")
    clock.advance(60_000)
    await crowd(limiter, "second-minute")
    assert await hits(limiter, "hourly", 2, limit=3, window=3600) == [0, 3540]


async def test_idle_keys_are_pruned_and_start_afresh() -> None:
    limiter, clock = create_limiter()
    await hits(limiter, "watched", 4, limit=3, window=60)
    await crowd(limiter, "first-minute")
    clock.advance(60_000)
    await crowd(limiter, "second-minute")
    assert not any(key.startswith("first-minute") for _, key in limiter._logs)
    assert await hits(limiter, "watched", 4, limit=3, window=60) == [0, 0, 0, 60]
    assert await limiter.hit("second-minute-0", 1, 60) == 60


async def test_closing_forgets_every_count() -> None:
    limiter, _ = create_limiter()
    await hits(limiter, "user-1", 2, limit=1, window=60)
    await limiter.close()
    assert await limiter.hit("user-1", 1, 60) == 0
