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
