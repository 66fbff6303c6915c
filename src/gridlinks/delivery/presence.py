"""Which devices are connected, on any node: in memory on one node, in Redis across nodes.

Redis keeps ``gridlinks:presence:<device id>`` = node id with a time to live; each node
refreshes the keys of its own devices, so the devices of a node that died drop out when their
keys expire (``ttl_seconds``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gridlinks.delivery.links import LocalLinks

log = logging.getLogger("gridlinks.delivery")
PREFIX = "gridlinks:presence:"
DELETE_IF_OURS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Presence(Protocol):
    async def start(self) -> None: ...

    async def online(self, device_id: uuid.UUID) -> bool:
        """Whether the device is connected to any node."""
        ...

    async def close(self) -> None: ...


class LocalPresence:
    """One node: a device is online when this node has a link to it."""

    def __init__(self, links: LocalLinks) -> None:
        self._links = links

    async def start(self) -> None:
        return None

    async def online(self, device_id: uuid.UUID) -> bool:
        return self._links.has(device_id)

    async def close(self) -> None:
        return None


class RedisPresence:
    """Several nodes: this node's devices are written to Redis (with expiry) as they come and
    go, and refreshed every ``ttl_seconds / 3``."""

    def __init__(
        self, redis: Redis, links: LocalLinks, node_id: str, ttl_seconds: int = 60
    ) -> None:
        self._redis = redis
        self._links = links
        self._node_id = node_id
        self._ttl = ttl_seconds
        self._changes: dict[uuid.UUID, bool] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        links.on_change(self._changed)

    def _changed(self, device_id: uuid.UUID, connected: bool) -> None:
        self._changes[device_id] = connected
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gridlinks-presence")

    async def online(self, device_id: uuid.UUID) -> bool:
        if self._links.has(device_id):
            return True
        try:
            return bool(await self._redis.exists(PREFIX + str(device_id)))
        except RedisError:
            log.warning("presence: Redis unreachable; a device on another node counts offline")
            return False

    async def _run(self) -> None:
        refresh_every = max(self._ttl / 3, 0.5)
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + refresh_every
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(next_refresh - loop.time(), 0))
            self._wake.clear()
            try:
                if loop.time() >= next_refresh:
                    next_refresh = loop.time() + refresh_every
                    await self._write(dict.fromkeys(self._links.device_ids(), True))
                changes, self._changes = self._changes, {}
                await self._write(changes)
            except RedisError:
                log.warning("presence: Redis unreachable; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _write(self, changes: dict[uuid.UUID, bool]) -> None:
        if not changes:
            return
        pipe = self._redis.pipeline(transaction=False)
        for device_id, connected in changes.items():
            if connected:
                pipe.set(PREFIX + str(device_id), self._node_id, ex=self._ttl)
            else:
                # Only this node's own entry: the device may have reconnected to another node
                # before this one noticed its old connection was gone.
                pipe.eval(DELETE_IF_OURS, 1, PREFIX + str(device_id), self._node_id)
        await pipe.execute()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # This node's devices are gone with it.
        with contextlib.suppress(RedisError):
            await self._write(dict.fromkeys(self._links.device_ids(), False))
