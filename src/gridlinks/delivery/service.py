"""``Delivery``: send a message to a device wherever it is connected.

A message for a device this node holds a link to is handed over at once; otherwise it goes on
the bus (``ToDevice``) and the node that holds the device's connection hands it over. With the
in-memory bus there is one node, so a device without a local link is simply not connected."""

from __future__ import annotations

import logging
import uuid

from gridlinks.bus.base import Bus, Event
from gridlinks.delivery.links import LocalLinks
from gridlinks.delivery.messages import TO_DEVICE, ToDevice, from_data, to_data
from gridlinks.delivery.presence import Presence

log = logging.getLogger("gridlinks.delivery")


class Delivery:
    def __init__(self, bus: Bus, links: LocalLinks, presence: Presence, node_id: str) -> None:
        self._bus = bus
        self.links = links
        self._presence = presence
        self.node_id = node_id
        self._unsubscribe = bus.subscribe(TO_DEVICE, self._on_event)

    async def start(self) -> None:
        await self._presence.start()

    async def send(self, message: ToDevice) -> bool:
        """Deliver ``message``; True when a link on this node took it. Otherwise it is
        published for the other nodes (a ``CloseConnection`` always is: the device may hold
        connections on several nodes) and False is returned - the caller learns about the
        outcome from the device (RPC reply, delivery report), not from here."""
        taken = self.links.deliver(message)
        if taken and message.kind != "close":
            return True
        data = to_data(message)
        data["origin"] = self.node_id
        await self._bus.publish(Event(TO_DEVICE, data))
        return taken

    async def online(self, device_id: uuid.UUID) -> bool:
        """Whether the device is connected to this or any other node."""
        return await self._presence.online(device_id)

    async def _on_event(self, event: Event) -> None:
        if event.data.get("origin") == self.node_id:
            return  # offered to this node's links before it was published
        message = from_data(event.data)
        if message is None:
            log.warning("ignored a malformed %s event", TO_DEVICE)
            return
        self.links.deliver(message)

    async def close(self) -> None:
        self._unsubscribe()
        await self._presence.close()
