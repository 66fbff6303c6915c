"""What the transports report back about server-side RPC, whichever transport carried it.

The device service (``gridlinks.devicelink``) calls these on the node where the device is
connected; ``gridlinks.rpc.RpcService`` implements them (updates persistent RPC states, and
hands a reply to the node whose REST call waits for it, through the bus)."""

from __future__ import annotations

import uuid
from typing import Any, Protocol


class DeviceRpcEvents(Protocol):
    async def device_connected(self, device_id: uuid.UUID) -> None:
        """The device (or the gateway for its sub-device) can take messages now: send the
        persistent RPCs queued for it, and re-send those sent but never acknowledged."""
        ...

    async def rpc_delivered(self, device_id: uuid.UUID, request_id: int) -> None:
        """The device acknowledged request ``request_id`` (MQTT PUBACK at QoS 1, or an HTTP
        long-poll took it): a persistent RPC becomes DELIVERED (one-way: SUCCESSFUL)."""
        ...

    async def rpc_replied(self, device_id: uuid.UUID, request_id: int, reply: Any) -> None:
        """The device answered request ``request_id`` with ``reply`` (any JSON value)."""
        ...
