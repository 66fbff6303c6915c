"""Rate limits for one process (the embedded mode)."""

from __future__ import annotations

from gridlinks.kit.clock import Clock

_PRUNE_EVERY_HITS = 10_000


class MemoryRateLimiter:
    """Fixed-window counters in a dict; windows that ended are pruned as hits arrive."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._counts: dict[tuple[str, int], int] = {}
        self._hits = 0

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now_s = self._clock.now_ms() / 1000
        window = int(now_s // window_seconds)
        slot = (f"{window_seconds}:{key}", window)
        count = self._counts.get(slot, 0) + 1
        self._counts[slot] = count
        self._hits += 1
        if self._hits % _PRUNE_EVERY_HITS == 0:
            self._prune(now_s)
        if count <= limit:
            return 0
        return max(1, int((window + 1) * window_seconds - now_s + 0.999))

    def _prune(self, now_s: float) -> None:
        for slot in list(self._counts):
            seconds = int(slot[0].split(":", 1)[0])
            if (slot[1] + 1) * seconds < now_s:
                del self._counts[slot]

    async def close(self) -> None:
        self._counts.clear()
