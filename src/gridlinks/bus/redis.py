"""The Redis bus: every node publishes to and hears from one channel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gridlinks.bus.base import Event, EventHandler
from gridlinks.bus.memory import Subscribers
from gridlinks.errors import ServiceUnavailableError

log = logging.getLogger("gridlinks.bus")
CHANNEL = "gridlinks:events"


class RedisBus:
    """Events go through Redis pub/sub, so subscribers on every node (this one included) get
    them. Delivery is at most once: a node that is down misses what was published meanwhile."""

    def __init__(self, redis: Redis, channel: str = CHANNEL) -> None:
        self._redis = redis
        self._channel = channel
        self._subscribers = Subscribers()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._reader is not None:
            return
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(self._channel)
            # Read the subscription's confirmation: events published from now on reach us.
            await self._pubsub.get_message(timeout=1.0)
        except RedisError as exc:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
            raise ServiceUnavailableError(
                f"cannot reach Redis ({type(exc).__name__}); start Redis or check "
                "GRIDLINKS_REDIS_URL (leave it empty for the embedded, single-node mode)"
            ) from None
        self._reader = asyncio.create_task(self._read(self._pubsub), name="gridlinks-bus")

    async def publish(self, event: Event) -> None:
        message = json.dumps({"name": event.name, "data": event.data}, separators=(",", ":"))
        try:
            await self._redis.publish(self._channel, message)
        except RedisError:
            # The change is committed already; losing the notification must not fail it.
            log.exception("could not publish %s to Redis", event.name)

    def subscribe(self, name: str, handler: EventHandler) -> Callable[[], None]:
        return self._subscribers.add(name, handler)

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except RedisError:
                log.warning("Redis bus connection lost; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            event = _event(message["data"])
            if event is None:
                log.warning("ignored a malformed message on %s", self._channel)
                continue
            await self._subscribers.deliver(event)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        await self._redis.aclose()


def _event(raw: bytes | str) -> Event | None:
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    name, data = payload.get("name"), payload.get("data")
    if not isinstance(name, str) or not isinstance(data, dict):
        return None
    return Event(name, data)
