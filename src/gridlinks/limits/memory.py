"""Rate limits for one process (the embedded mode)."""

from __future__ import annotations

from collections import deque

from gridlinks.kit.clock import Clock
from gridlinks.limits.base import retry_after_seconds

_PRUNE_EVERY_HITS = 10_000


class MemoryRateLimiter:
    """Sliding window logs in a dict: per (window length, key) the times of the allowed hits,
    oldest first, at most ``limit`` of them. Keys idle for a whole window are pruned as hits
    arrive. ``hit`` never awaits, so on one event loop it is atomic."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._logs: dict[tuple[int, str], deque[int]] = {}
        self._hits = 0

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now_ms = self._clock.now_ms()
        window_ms = window_seconds * 1000
        log = self._logs.setdefault((window_seconds, key), deque())
        while log and log[0] <= now_ms - window_ms:
            log.popleft()
        self._hits += 1
        if self._hits % _PRUNE_EVERY_HITS == 0:
            self._prune(now_ms)
        if len(log) < limit:
            log.append(now_ms)
            return 0
        return retry_after_seconds(log[0] if log else now_ms, window_ms, now_ms)

    def _prune(self, now_ms: int) -> None:
        for slot, log in list(self._logs.items()):
            if not log or log[-1] <= now_ms - slot[0] * 1000:
                del self._logs[slot]

    async def close(self) -> None:
        self._logs.clear()
