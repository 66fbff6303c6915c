"""A device link for the delivery tests: it records what it is offered."""

from __future__ import annotations

import asyncio

from gridlinks.delivery.messages import ToDevice

WAIT_SECONDS = 5.0


class RecordingLink:
    """Takes (or declines, ``takes=False``) every message and queues it for the test."""

    def __init__(self, takes: bool = True) -> None:
        self.takes = takes
        self.offered: asyncio.Queue[ToDevice] = asyncio.Queue()

    def deliver(self, message: ToDevice) -> bool:
        self.offered.put_nowait(message)
        return self.takes

    async def next(self) -> ToDevice:
        """The next message offered, waiting up to ``WAIT_SECONDS`` for it."""
        return await asyncio.wait_for(self.offered.get(), WAIT_SECONDS)
