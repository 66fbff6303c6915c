"""The bus port: named events with JSON-able data, published after a commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """``name`` in past tense (``DeviceClaimed``); ``data`` is JSON-able."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


EventHandler = Callable[[Event], Awaitable[None]]


class Bus(Protocol):
    """Publish events to every subscriber (on every node, with Redis)."""

    async def start(self) -> None:
        """Begin delivering published events to subscribers."""
        ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(self, name: str, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for each event called ``name`` (``*``: all); returns an
        unsubscribe function."""
        ...

    async def close(self) -> None: ...
