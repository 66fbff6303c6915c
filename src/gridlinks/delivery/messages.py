"""Messages from the platform to one device, and the events features publish about devices.

A ``ToDevice`` message crosses processes on the bus as JSON (``to_data`` / ``from_data``);
transports turn it into their wire form (MQTT topic, HTTP long-poll answer, gateway envelope).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# Bus event names. Features publish the ``*Changed``/``*Stored`` events after their commit;
# the delivery and the live (WebSocket) subscriptions listen to them on every node.
TO_DEVICE = "ToDevice"
RPC_REPLIED = "RpcReplied"  # {"deviceId", "requestId", "reply"}: a device answered an RPC
ATTRIBUTES_CHANGED = "AttributesChanged"  # {"entityId", "scope", "values": {..}, "deleted": [..]}
# {"deviceId", "tenantId", "reason": "deleted" | "credentials" | "owner"}: connections, polls and
# subscriptions made under the old state are re-checked or ended.
TELEMETRY_STORED = "TelemetryStored"  # {"rows": [[entityId, key, ts, valueJson], ...]} per batch
DEVICE_ACCESS_CHANGED = "DeviceAccessChanged"


@dataclass(frozen=True)
class RpcCall:
    """A server-side RPC request for the device (``v1/devices/me/rpc/request/{request_id}``)."""

    device_id: uuid.UUID
    request_id: int
    method: str
    params: Any = None
    # Set for persistent RPCs: the transport reports delivery (MQTT PUBACK) against it.
    rpc_id: uuid.UUID | None = None
    # Two-way calls wait for the device's reply on ``v1/devices/me/rpc/response/{request_id}``.
    oneway: bool = False
    # Epoch ms after which the call is void (not sent any more).
    expires_at: int = 0

    kind = "rpc"

    def body(self) -> dict[str, Any]:
        """What the device receives: ``{"method", "params"}`` (ThingsBoard's request body)."""
        return {"method": self.method, "params": self.params}


@dataclass(frozen=True)
class AttributePush:
    """Shared attributes changed (``values``) or deleted (``deleted``), for the device."""

    device_id: uuid.UUID
    values: dict[str, Any] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()

    kind = "attributes"

    def body(self) -> dict[str, Any]:
        """ThingsBoard's push: the changed values, or ``{"deleted": [...]}``."""
        if self.deleted:
            return {"deleted": list(self.deleted)}
        return dict(self.values)


@dataclass(frozen=True)
class CloseConnection:
    """The device's credentials changed or it was deleted: end its connections and polls."""

    device_id: uuid.UUID
    reason: str

    kind = "close"


ToDevice = RpcCall | AttributePush | CloseConnection


def to_data(message: ToDevice) -> dict[str, Any]:
    """The JSON form of ``message`` for the bus."""
    data: dict[str, Any] = {"kind": message.kind, "deviceId": str(message.device_id)}
    if isinstance(message, RpcCall):
        data.update(
            requestId=message.request_id,
            method=message.method,
            params=message.params,
            rpcId=str(message.rpc_id) if message.rpc_id else None,
            oneway=message.oneway,
            expiresAt=message.expires_at,
        )
    elif isinstance(message, AttributePush):
        data.update(values=message.values, deleted=list(message.deleted))
    else:
        data.update(reason=message.reason)
    return data


def from_data(data: dict[str, Any]) -> ToDevice | None:
    """``to_data``'s inverse; None for anything malformed (a bus message is not trusted)."""
    try:
        device_id = uuid.UUID(str(data["deviceId"]))
        kind = data["kind"]
        if kind == "rpc":
            rpc_id = data.get("rpcId")
            return RpcCall(
                device_id=device_id,
                request_id=int(data["requestId"]),
                method=str(data["method"]),
                params=data.get("params"),
                rpc_id=uuid.UUID(str(rpc_id)) if rpc_id else None,
                oneway=bool(data.get("oneway")),
                expires_at=int(data.get("expiresAt") or 0),
            )
        if kind == "attributes":
            values = data.get("values") or {}
            deleted = data.get("deleted", [])
            if not isinstance(values, dict) or not isinstance(deleted, list):
                return None
            return AttributePush(device_id, values, tuple(str(k) for k in deleted))
        if kind == "close":
            return CloseConnection(device_id, str(data.get("reason", "")))
    except (KeyError, TypeError, ValueError):
        return None
    return None
