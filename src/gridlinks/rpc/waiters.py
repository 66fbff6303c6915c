"""Two-way calls waiting for their reply on this node, by (device, request id).

A reply resolves only the waiter of the device that sent it: a device cannot answer another
device's request, whatever request id it names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gridlinks.rpc.domain import new_request_id


class ReplyWaiters:
    def __init__(self) -> None:
        self._pending: dict[uuid.UUID, dict[int, asyncio.Future[Any]]] = {}

    @contextmanager
    def waiting(self, device_id: uuid.UUID) -> Iterator[tuple[int, asyncio.Future[Any]]]:
        """A fresh request id for the device and the future its reply resolves; forgotten
        on leaving the block (answered, timed out or cancelled)."""
        pending = self._pending.setdefault(device_id, {})
        request_id = new_request_id(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending[request_id] = future
        try:
            yield request_id, future
        finally:
            pending.pop(request_id, None)
            if not pending and self._pending.get(device_id) is pending:
                del self._pending[device_id]

    def free_id(self, device_id: uuid.UUID) -> int:
        """A request id no waiter of the device holds (for one-way calls, which wait for
        nothing)."""
        return new_request_id(self._pending.get(device_id, {}))

    def resolve(self, device_id: uuid.UUID, request_id: int, reply: Any) -> bool:
        """Hand ``reply`` to the waiter; False when nobody here waits for it."""
        future = self._pending.get(device_id, {}).get(request_id)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True

    def waiting_for(self, device_id: uuid.UUID) -> int:
        return len(self._pending.get(device_id, ()))

    def __len__(self) -> int:
        return sum(len(pending) for pending in self._pending.values())
