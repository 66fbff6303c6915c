"""The rate-limit port: sliding-window limits keyed by a string.

A limit of ``limit`` hits per ``window_seconds`` holds for *every* interval of that length, not
only for calendar-aligned ones: a hit is allowed when fewer than ``limit`` allowed hits happened
in the ``window_seconds`` before it (a sliding window log). Refused hits are not recorded, so a
caller that keeps hammering is refused until its oldest allowed hit leaves the window, and no
longer.
"""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Counts hits per key in a sliding window of ``window_seconds``."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        """Count one hit. Returns 0 when fewer than ``limit`` hits were allowed in the last
        ``window_seconds`` (the hit is allowed and recorded), else the seconds until the
        oldest of them leaves the window (what ``Retry-After`` says; at least 1)."""
        ...

    async def close(self) -> None:
        """Release connections, if any."""
        ...


def retry_after_seconds(oldest_ms: int, window_ms: int, now_ms: int) -> int:
    """Whole seconds, rounded up, until a hit at ``oldest_ms`` leaves the window; at least 1."""
    return max(1, -(-(oldest_ms + window_ms - now_ms) // 1000))
