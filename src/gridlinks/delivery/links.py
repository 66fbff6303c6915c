"""This node's links to connected devices: an MQTT connection (a device's own, or a gateway's
for each sub-device it speaks for) or an HTTP long-poll waiting for a message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from gridlinks.delivery.messages import ToDevice


class DeviceLink(Protocol):
    """One way to reach a device from this node."""

    def deliver(self, message: ToDevice) -> bool:
        """Hand ``message`` to the device; False when this link does not take it (an MQTT
        device not subscribed to the topic, a long-poll waiting for another kind)."""
        ...


class LocalLinks:
    """Links by device id; a device may have several (its connection and HTTP polls)."""

    def __init__(self) -> None:
        self._links: dict[uuid.UUID, list[DeviceLink]] = {}
        self._listeners: list[Callable[[uuid.UUID, bool], None]] = []

    def register(self, device_id: uuid.UUID, link: DeviceLink) -> Callable[[], None]:
        """Add ``link``; returns the function that removes it again (idempotent)."""
        links = self._links.setdefault(device_id, [])
        first = not links
        links.append(link)
        if first:
            self._notify(device_id, True)

        def remove() -> None:
            present = self._links.get(device_id)
            if present is None or link not in present:
                return
            present.remove(link)
            if not present:
                del self._links[device_id]
                self._notify(device_id, False)

        return remove

    def on_change(self, listener: Callable[[uuid.UUID, bool], None]) -> None:
        """Call ``listener(device_id, connected)`` when a device gets its first link here or
        loses its last (the presence registry follows this)."""
        self._listeners.append(listener)

    def _notify(self, device_id: uuid.UUID, connected: bool) -> None:
        for listener in self._listeners:
            listener(device_id, connected)

    def has(self, device_id: uuid.UUID) -> bool:
        return device_id in self._links

    def device_ids(self) -> list[uuid.UUID]:
        return list(self._links)

    def deliver(self, message: ToDevice) -> bool:
        """Offer ``message`` to the device's links, newest first, until one takes it; a
        ``CloseConnection`` goes to every link."""
        links = self._links.get(message.device_id)
        if not links:
            return False
        if message.kind == "close":
            for link in list(links):
                link.deliver(message)
            return True
        return any(link.deliver(message) for link in reversed(list(links)))

    def __len__(self) -> int:
        return len(self._links)
