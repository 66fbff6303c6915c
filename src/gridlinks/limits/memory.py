"""Rate limits for one process (the embedded mode)."""

from __future__ import annotations

from gridlinks.kit.clock import Clock
from gridlinks.limits.base import seconds_until_window_end

_PRUNE_EVERY_HITS = 10_000


class MemoryRateLimiter:
    """Fixed-window counters in a dict; windows that ended are pruned as hits arrive."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # (window length in seconds, key, window number) -> hits
        self._counts: dict[tuple[int, str, int], int] = {}
        self._hits = 0

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now_ms = self._clock.now_ms()
        window = now_ms // (window_seconds * 1000)
        slot = (window_seconds, key, window)
        count = self._counts.get(slot, 0) + 1
        self._counts[slot] = count
        self._hits += 1
        if self._hits % _PRUNE_EVERY_HITS == 0:
            self._prune(now_ms / 1000)
        if count <= limit:
            return 0
        return seconds_until_window_end(now_ms, window, window_seconds)

    def _prune(self, now_s: float) -> None:
        for slot in list(self._counts):
            window_seconds, _key, window = slot
            if (window + 1) * window_seconds < now_s:
                del self._counts[slot]

    async def close(self) -> None:
        self._counts.clear()
