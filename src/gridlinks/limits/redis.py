"""Rate limits shared by every node through Redis (``GRIDLINKS_REDIS_URL``)."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gridlinks.errors import ServiceUnavailableError
from gridlinks.kit.clock import Clock
from gridlinks.limits.base import retry_after_seconds

PREFIX = "gridlinks:ratelimit:"

# A sliding window log in one sorted set per (window, key): members are allowed hits, scored by
# their time in ms. Redis runs a script atomically, so concurrent hits from any number of nodes
# are counted one after the other. Returns -1 when the hit is allowed (and recorded), else the
# time of the oldest hit still in the window.
_SLIDING_WINDOW_HIT = """
local now_ms = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now_ms, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window_ms)
  return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] == nil then
  return now_ms
end
return tonumber(oldest[2])
"""


class RedisRateLimiter:
    """Sliding-window limits in Redis sorted sets, checked and updated by one Lua script.

    The time is this node's clock, so nodes sharing a Redis need synchronised clocks (NTP), as
    they do for token expiry anyway."""

    def __init__(self, redis: Redis, clock: Clock) -> None:
        self._redis = redis
        self._clock = clock
        self._script = redis.register_script(_SLIDING_WINDOW_HIT)

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now_ms = self._clock.now_ms()
        window_ms = window_seconds * 1000
        name = f"{PREFIX}{window_seconds}:{key}"
        member = f"{now_ms}:{uuid.uuid4().hex}"
        try:
            oldest = await self._script(keys=[name], args=[now_ms, window_ms, limit, member])
        except RedisError as exc:
            raise ServiceUnavailableError("Rate limit store (Redis) is unavailable") from exc
        if int(oldest) < 0:
            return 0
        return retry_after_seconds(int(oldest), window_ms, now_ms)

    async def close(self) -> None:
        await self._redis.aclose()
