"""Rate limits shared by every node through Redis (``GRIDLINKS_REDIS_URL``)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gridlinks.errors import ServiceUnavailableError
from gridlinks.kit.clock import Clock
from gridlinks.limits.base import seconds_until_window_end

PREFIX = "gridlinks:ratelimit:"


class RedisRateLimiter:
    """Fixed-window counters: ``INCR`` a key per window, which expires with the window."""

    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now_ms = self._clock.now_ms()
        window = now_ms // (window_seconds * 1000)
        name = f"{PREFIX}{window_seconds}:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds + 1)
                count, _ = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailableError("Rate limit store (Redis) is unavailable") from exc
        if int(count) <= limit:
            return 0
        return seconds_until_window_end(now_ms, window, window_seconds)

    async def close(self) -> None:
        await self._redis.aclose()
