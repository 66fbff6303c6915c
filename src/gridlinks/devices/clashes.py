"""Refusing credentials that clash with another device's without becoming an oracle.

Access tokens and MQTT basic credentials are unique across the installation, so "already
assigned" tells a tenant that *some* device, in any tenant, holds those credentials. That cannot
be avoided (the registration must be refused), only made useless to a guesser: a tenant gets
``limit`` clash refusals per window, and after that *every* request of the tenant that chooses
credentials is answered 429 until the window ends, clash or not, so 429 tells nothing either.
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from gridlinks.errors import GridLinksError, TooManyRequestsError
from gridlinks.kit.clock import Clock
from gridlinks.limits.base import RateLimiter

CLASH_LIMIT = 10
CLASH_WINDOW_SECONDS = 60
TOO_MANY_CLASHES = "Too many credentials refused as already assigned; try again later"
_PRUNE_ABOVE = 1024


class CredentialsClashGuard:
    """Counts clash refusals per tenant through the rate-limit port (shared with Redis).

    The port only counts, so while a tenant is over its limit this process remembers until
    when; another node learns it at the tenant's next clash there (at most one more refusal
    per node and window)."""

    def __init__(
        self,
        limiter: RateLimiter,
        clock: Clock,
        limit: int = CLASH_LIMIT,
        window_seconds: int = CLASH_WINDOW_SECONDS,
    ) -> None:
        self._limiter = limiter
        self._clock = clock
        self._limit = limit
        self._window_seconds = window_seconds
        self._blocked_until_ms: dict[uuid.UUID, int] = {}

    def check(self, tenant_id: uuid.UUID) -> None:
        """Before looking anything up: 429 while the tenant is over its limit."""
        until = self._blocked_until_ms.get(tenant_id)
        if until is None:
            return
        remaining_ms = until - self._clock.now_ms()
        if remaining_ms <= 0:
            del self._blocked_until_ms[tenant_id]
            return
        raise TooManyRequestsError(TOO_MANY_CLASHES, -(-remaining_ms // 1000))

    async def refuse(self, tenant_id: uuid.UUID, error: GridLinksError) -> NoReturn:
        """Count a clash: raise ``error``, or 429 once the tenant is over its limit."""
        wait_seconds = await self._limiter.hit(
            f"credentials-clash:{tenant_id}", self._limit, self._window_seconds
        )
        if not wait_seconds:
            raise error
        self._remember(tenant_id, self._clock.now_ms() + wait_seconds * 1000)
        raise TooManyRequestsError(TOO_MANY_CLASHES, wait_seconds)

    def _remember(self, tenant_id: uuid.UUID, until_ms: int) -> None:
        if len(self._blocked_until_ms) > _PRUNE_ABOVE:
            now = self._clock.now_ms()
            for key, value in list(self._blocked_until_ms.items()):
                if value <= now:
                    del self._blocked_until_ms[key]
        self._blocked_until_ms[tenant_id] = until_ms
