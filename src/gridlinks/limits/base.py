"""The rate-limit port: fixed-window counters keyed by a string."""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Counts hits per key in fixed windows of ``window_seconds``."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        """Count one hit. Returns 0 while at most ``limit`` hits fell in the current window,
        else the seconds until the window ends (what ``Retry-After`` says)."""
        ...

    async def close(self) -> None:
        """Release connections, if any."""
        ...


def seconds_until_window_end(now_ms: int, window: int, window_seconds: int) -> int:
    """Whole seconds, rounded up, from ``now_ms`` to the end of fixed window ``window``."""
    remaining_ms = (window + 1) * window_seconds * 1000 - now_ms
    return max(1, -(-remaining_ms // 1000))
