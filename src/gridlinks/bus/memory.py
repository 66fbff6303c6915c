"""The in-process bus (embedded mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gridlinks.bus.base import Event, EventHandler

log = logging.getLogger("gridlinks.bus")


class Subscribers:
    """Handlers by event name; a failing handler is logged and does not stop the others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = {}

    def add(self, name: str, handler: EventHandler) -> Callable[[], None]:
        self._handlers.setdefault(name, []).append(handler)

        def remove() -> None:
            handlers = self._handlers.get(name, [])
            if handler in handlers:
                handlers.remove(handler)

        return remove

    async def deliver(self, event: Event) -> None:
        for handler in [*self._handlers.get(event.name, ()), *self._handlers.get("*", ())]:
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed for %s", event.name)


class MemoryBus:
    """Delivers each event to this process's subscribers, in order."""

    def __init__(self) -> None:
        self._subscribers = Subscribers()

    async def start(self) -> None:
        return None

    async def publish(self, event: Event) -> None:
        await self._subscribers.deliver(event)

    def subscribe(self, name: str, handler: EventHandler) -> Callable[[], None]:
        return self._subscribers.add(name, handler)

    async def close(self) -> None:
        return None
