"""One WebSocket connection's side of the live API: its caller, subscriptions and send queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gridlinks.accounts.domain import Principal
from gridlinks.live.domain import MAX_QUEUED_FRAMES, Subscribe, encode

# A frame to send: JSON text, or a mapping encoded when queued.
Frame = Mapping[str, Any] | str

# WebSocket close codes the session asks for.
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Ending:
    """The connection must close with ``code`` and ``reason`` (after the frames before it)."""

    code: int
    reason: str


@dataclass(eq=False)
class Subscription:
    """A live subscription of one session. Until its first values are sent, updates wait in
    ``pending`` so the client never sees an update before the values it follows from."""

    session: LiveSession
    command: Subscribe
    pending: list[Frame] | None = field(default_factory=list)

    @property
    def entity_id(self) -> uuid.UUID:
        return self.command.entity_id

    def offer(self, frame: Frame) -> None:
        if self.pending is not None:
            self.pending.append(frame)
        else:
            self.session.offer(frame)

    def go_live(self, first: Frame) -> None:
        """Send ``first``, then what arrived while it was read."""
        waiting, self.pending = self.pending or [], None
        self.session.offer(first)
        for frame in waiting:
            self.session.offer(frame)


class LiveSession:
    """The caller of one connection and its subscriptions by ``cmdId``. Frames go to a bounded
    queue that the connection's writer drains; a client that lets ``MAX_QUEUED_FRAMES`` pile
    up is dropped (``Ending`` with 1013) instead of slowing the fan-out to everyone else."""

    def __init__(self, principal: Principal, max_queued_frames: int = MAX_QUEUED_FRAMES) -> None:
        self.principal = principal
        self.subscriptions: dict[int, Subscription] = {}
        self._queue: asyncio.Queue[str | Ending] = asyncio.Queue(max_queued_frames + 1)
        self._max = max_queued_frames
        self.ended: Ending | None = None
        # Set when the client was too slow: its connection is dropped without a close frame,
        # which could wait forever behind the frames it does not read.
        self.dropped = asyncio.Event()

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` (JSON text, or a mapping to encode) without waiting; a full queue
        ends the session."""
        if self.ended is not None:
            return
        if self._queue.qsize() >= self._max:
            self.end(CLOSE_TRY_AGAIN_LATER, "Client too slow: send queue full")
            return
        self._queue.put_nowait(frame if isinstance(frame, str) else encode(frame))

    def end(self, code: int, reason: str) -> None:
        """Close after the frames already queued (all dropped when the client is too slow)."""
        if self.ended is not None:
            return
        self.ended = Ending(code, reason)
        if code == CLOSE_TRY_AGAIN_LATER:
            while not self._queue.empty():
                self._queue.get_nowait()
            self.dropped.set()
        self._queue.put_nowait(self.ended)

    async def next_frame(self) -> str | Ending:
        """The next text to send, or the ``Ending`` that closes the connection."""
        return await self._queue.get()

    def queued(self) -> int:
        return self._queue.qsize()
