"""Bus events -> this node's device links: shared attributes pushed to connected devices, and
connections and polls ended when a device is deleted or its credentials change.

Every node gets every event; each delivers only to the links it holds itself."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from gridlinks.attributes.domain import SHARED_SCOPE
from gridlinks.bus.base import Bus, Event
from gridlinks.delivery.links import LocalLinks
from gridlinks.delivery.messages import (
    ATTRIBUTES_CHANGED,
    DEVICE_ACCESS_CHANGED,
    AttributePush,
    CloseConnection,
)

log = logging.getLogger("gridlinks.devicelink")
# A deleted device or new credentials end what was opened with the old ones; an owner change
# does not concern the device's own connection.
CLOSING_REASONS = frozenset({"deleted", "credentials"})


def _device_id(data: dict[str, Any], field: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(data[field]))
    except (KeyError, ValueError):
        return None


class DeviceEventRelay:
    """Subscribed once per platform; ``close()`` unsubscribes."""

    def __init__(self, bus: Bus, links: LocalLinks) -> None:
        self._links = links
        self._unsubscribe: list[Callable[[], None]] = [
            bus.subscribe(ATTRIBUTES_CHANGED, self._attributes_changed),
            bus.subscribe(DEVICE_ACCESS_CHANGED, self._access_changed),
        ]

    async def _attributes_changed(self, event: Event) -> None:
        data = event.data
        if data.get("scope") != SHARED_SCOPE:
            return
        device_id = _device_id(data, "entityId")
        if device_id is None or not self._links.has(device_id):
            return
        values = data.get("values") or {}
        deleted = data.get("deleted") or []
        if isinstance(values, dict) and values:
            self._links.deliver(AttributePush(device_id, values))
        if isinstance(deleted, list) and deleted:
            self._links.deliver(AttributePush(device_id, deleted=tuple(map(str, deleted))))

    async def _access_changed(self, event: Event) -> None:
        reason = str(event.data.get("reason", ""))
        device_id = _device_id(event.data, "deviceId")
        if reason not in CLOSING_REASONS or device_id is None or not self._links.has(device_id):
            return
        log.info("device %s: %s; closing its connections on this node", device_id, reason)
        self._links.deliver(CloseConnection(device_id, reason))

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
