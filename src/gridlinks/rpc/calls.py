"""Building blocks of ``RpcService``: the messages it sends, the audit entries it writes,
and how it records what transports report."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from gridlinks.audit.service import AuditAction
from gridlinks.delivery.messages import RpcCall
from gridlinks.devices.domain import Device
from gridlinks.errors import ServiceUnavailableError
from gridlinks.kit.jsonvalue import dump_json
from gridlinks.rpc.domain import PersistentRpc, RpcOutcome, RpcRequest

log = logging.getLogger("gridlinks.rpc")

RPC_CALL = "RPC_CALL"
_FAILURE_DETAILS = {
    RpcOutcome.TIMEOUT: "Timeout: the device did not answer in time",
    RpcOutcome.OFFLINE: "No active connection to the device",
}


def live_call(device: Device, request_id: int, request: RpcRequest) -> RpcCall:
    return RpcCall(
        device.id,
        request_id,
        request.method,
        request.params,
        oneway=request.oneway,
        expires_at=request.expiration_time,
    )


async def reported(what: str, work: Awaitable[None]) -> None:
    """What a transport reports is recorded, or logged when the database fails: the
    device's connection goes on either way."""
    try:
        await work
    except ServiceUnavailableError as exc:
        log.warning("could not record %s: %s", what, exc.message)
    except Exception:
        log.exception("could not record %s", what)


def persistent_call(rpc: PersistentRpc) -> RpcCall:
    return RpcCall(
        rpc.device_id,
        rpc.request_id,
        rpc.method,
        rpc.params,
        rpc_id=rpc.id,
        oneway=rpc.oneway,
        expires_at=rpc.expiration_time,
    )


def audit_action(device: Device, request: RpcRequest, outcome: RpcOutcome | None) -> AuditAction:
    """ThingsBoard's RPC_CALL entry: ``oneWay``, ``method`` and ``params`` (as JSON text)."""
    failure = _FAILURE_DETAILS.get(outcome) if outcome else None
    return AuditAction(
        tenant_id=device.tenant_id,
        customer_id=device.customer_id,
        action_type=RPC_CALL,
        entity_type="DEVICE",
        entity_id=device.id,
        entity_name=device.name,
        success=failure is None,
        failure_details=failure,
        data={
            "entityId": str(device.id),
            "oneWay": request.oneway,
            "method": request.method,
            "params": dump_json(request.params),
        },
    )
