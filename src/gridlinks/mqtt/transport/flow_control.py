"""Back-pressure for one MQTT connection, in both directions (uvicorn's ``FlowControl`` shape).

Reading: while more than ``high_water`` received packets wait to be processed, the transport
stops reading, so a fast publisher is slowed down by TCP instead of filling memory; it reads
again once the backlog is down to ``low_water``. Writing: while the peer does not read what we
send (the transport's buffer is over its high-water mark), processing waits, because every
processed packet produces an answer to write.
"""

from __future__ import annotations

import asyncio


class FlowControl:
    """Pause/resume bookkeeping; the connection calls it, it calls the transport."""

    __slots__ = (
        "_can_write",
        "_high_water",
        "_low_water",
        "_stopped",
        "_transport",
        "read_paused",
    )

    def __init__(self, transport: asyncio.Transport, high_water: int) -> None:
        self._transport = transport
        self._high_water = max(1, high_water)
        self._low_water = self._high_water // 2
        self._can_write: asyncio.Event | None = None  # created only when writing pauses
        self.read_paused = False
        self._stopped = False

    def stop_reading(self) -> None:
        """For good (shutdown): nothing more is read, whatever the backlog."""
        self._stopped = True
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()

    def backlog_changed(self, backlog: int) -> None:
        """Called with the number of packets waiting to be processed."""
        if not self.read_paused and backlog >= self._high_water:
            self.read_paused = True
            self._transport.pause_reading()
        elif self.read_paused and not self._stopped and backlog <= self._low_water:
            self.read_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()

    def pause_writing(self) -> None:
        if self._can_write is None:
            self._can_write = asyncio.Event()
        self._can_write.clear()

    def resume_writing(self) -> None:
        if self._can_write is not None:
            self._can_write.set()

    @property
    def write_paused(self) -> bool:
        """The peer does not read what we send: messages it did not ask for are not sent."""
        return self._can_write is not None and not self._can_write.is_set()

    async def drain(self) -> None:
        """Wait until the peer reads again (returns at once when writing is not paused)."""
        if self._can_write is not None and not self._can_write.is_set():
            await self._can_write.wait()
