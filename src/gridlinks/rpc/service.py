"""Server-side RPC use cases: a user's call to a device (live or persistent), the stored
calls' states, and what the transports report back (``DeviceRpcEvents``).

A live call never holds a database connection while it waits: the device is checked in one
short transaction, the call goes out through ``Delivery``, the reply comes back through
``ReplyWaiters`` (on this node) or the bus (``RpcReplied``, from the node holding the device's
connection), and the audit entry is written in a second short transaction."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gridlinks.accounts.domain import Principal
from gridlinks.audit.service import AuditLog
from gridlinks.bus.base import Bus, Event
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.messages import DEVICE_ACCESS_CHANGED, RPC_REPLIED, RpcCall
from gridlinks.delivery.service import Delivery
from gridlinks.devices.domain import Device
from gridlinks.devices.profiles import tenant_admin_tenant
from gridlinks.devices.repository import DeviceRepository
from gridlinks.devices.service import DeviceService
from gridlinks.errors import (
    NotFoundError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from gridlinks.kit.clock import Clock
from gridlinks.kit.ids import new_id
from gridlinks.kit.jsonvalue import json_value_problem
from gridlinks.kit.pagination import PageRequest
from gridlinks.rpc.calls import RPC_CALL, audit_action, live_call, persistent_call, reported
from gridlinks.rpc.domain import (
    MAX_OPEN_PERSISTENT_PER_DEVICE,
    MAX_WAITING_CALLS_PER_DEVICE,
    OPEN_STATES,
    UNDELIVERED_STATES,
    PersistentRpc,
    RpcOutcome,
    RpcRequest,
    RpcStatus,
    is_persistent_request_id,
    new_request_id,
    parse_rpc_request,
)
from gridlinks.rpc.repository import RpcRepository
from gridlinks.rpc.waiters import ReplyWaiters

log = logging.getLogger("gridlinks.rpc")

CANCELLED_BY_OWNER_CHANGE = {
    "error": "Cancelled: the device changed owner before the call completed"
}
RETRIES_USED_UP = {"error": "Not acknowledged by the device after the allowed retries"}
TOO_MANY_WAITING = "Too many RPC calls are waiting for this device; retry later"
TOO_MANY_STORED = "Too many persistent RPC calls are pending for this device; retry later"


@dataclass(frozen=True)
class RpcResult:
    """A live call's outcome (and the device's reply), or a persistent call's id."""

    outcome: RpcOutcome | None = None
    reply: Any = None
    rpc_id: uuid.UUID | None = None


class RpcService:
    """Commands from users to devices; implements ``delivery.ports.DeviceRpcEvents``."""

    def __init__(
        self,
        clock: Clock,
        devices: DeviceService,
        audit: AuditLog,
        delivery: Delivery,
        bus: Bus,
        unit_of_work: Callable[..., UnitOfWork],
    ) -> None:
        self._clock = clock
        self._devices = devices
        self._audit = audit
        self._delivery = delivery
        self._bus = bus
        self._unit_of_work = unit_of_work
        self.waiters = ReplyWaiters()
        self._unsubscribe = [
            bus.subscribe(RPC_REPLIED, self._on_replied),
            bus.subscribe(DEVICE_ACCESS_CHANGED, self._on_access_changed),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # --- a user's call -----------------------------------------------------------------------
    async def call(
        self, actor: Principal, device_id: uuid.UUID, body: Any, *, oneway: bool
    ) -> RpcResult:
        """Check the body and ``RPC_CALL`` on the device, then call it: a persistent call is
        stored and answered with its id at once; a live one waits for the device."""
        if actor.is_sys_admin:
            raise PermissionDeniedError()
        request = parse_rpc_request(body, oneway=oneway, now_ms=self._clock.now_ms())
        if request.persistent:
            return RpcResult(rpc_id=await self._submit_persistent(actor, device_id, request))
        async with self._unit_of_work(write=False) as uow:
            device = await self._devices.get_device(uow, actor, device_id, RPC_CALL)
        outcome, reply = await self._call_live(device, request)
        await self._audit_call(actor, device, request, outcome)
        return RpcResult(outcome, reply)

    async def _call_live(self, device: Device, request: RpcRequest) -> tuple[RpcOutcome, Any]:
        if request.oneway:
            call = live_call(device, self.waiters.free_id(device.id), request)
            if await self._send(call):
                return RpcOutcome.DELIVERED, None
            return RpcOutcome.OFFLINE, None
        if self.waiters.waiting_for(device.id) >= MAX_WAITING_CALLS_PER_DEVICE:
            raise TooManyRequestsError(TOO_MANY_WAITING, retry_after_seconds=5)
        with self.waiters.waiting(device.id) as (request_id, reply):
            if not await self._send(live_call(device, request_id, request)):
                return RpcOutcome.OFFLINE, None
            wait_seconds = request.wait_ms(self._clock.now_ms()) / 1000
            try:
                return RpcOutcome.REPLIED, await asyncio.wait_for(reply, wait_seconds)
            except TimeoutError:
                return RpcOutcome.TIMEOUT, None

    async def _send(self, call: RpcCall) -> bool:
        """Handed to a link here, or published for the node that has the device; False when
        the device is connected nowhere. Presence is asked before the call is published: the
        node holding the device may end its link as it takes the call (an HTTP long-poll is
        one call long), and asked afterwards the device would look gone although it has the
        call."""
        online = await self._delivery.online(call.device_id)
        return await self._delivery.send(call) or online

    async def _audit_call(
        self, actor: Principal, device: Device, request: RpcRequest, outcome: RpcOutcome
    ) -> None:
        """After the call (ThingsBoard logs RPC_CALL with its outcome). A database failure
        here does not turn a command the device got into an error."""
        try:
            async with self._unit_of_work() as uow:
                await self._audit.record(uow, audit_action(device, request, outcome), actor)
                await uow.commit()
        except Exception:
            log.exception("could not write the audit entry of an RPC call")

    async def _submit_persistent(
        self, actor: Principal, device_id: uuid.UUID, request: RpcRequest
    ) -> uuid.UUID:
        async with self._unit_of_work() as uow:
            device = await self._devices.get_device(uow, actor, device_id, RPC_CALL)
            repo = RpcRepository(uow.connection)
            if await repo.count_open(device.id) >= MAX_OPEN_PERSISTENT_PER_DEVICE:
                raise TooManyRequestsError(TOO_MANY_STORED, retry_after_seconds=60)
            rpc = self._new_persistent(actor, device, request)
            await repo.add(rpc)
            await self._audit.record(uow, audit_action(device, request, None), actor)
            await uow.commit()
        if await self._send(persistent_call(rpc)):
            async with self._unit_of_work() as uow:
                await RpcRepository(uow.connection).move(
                    rpc.id, {RpcStatus.QUEUED}, RpcStatus.SENT, attempts=1
                )
                await uow.commit()
        return rpc.id

    def _new_persistent(
        self, actor: Principal, device: Device, request: RpcRequest
    ) -> PersistentRpc:
        return PersistentRpc(
            id=new_id(),
            tenant_id=device.tenant_id,
            device_id=device.id,
            request_id=new_request_id((), persistent=True),
            oneway=request.oneway,
            method=request.method,
            params=request.params,
            status=RpcStatus.QUEUED,
            retries=request.retries,
            attempts=0,
            expiration_time=request.expiration_time,
            created_time=self._clock.now_ms(),
            sender_user_id=actor.user_id,
            sender_customer_id=actor.customer_id,
            additional_info=request.additional_info,
        )

    # --- stored calls ------------------------------------------------------------------------
    async def get_persistent(
        self, uow: UnitOfWork, actor: Principal, rpc_id: uuid.UUID, operation: str = "READ"
    ) -> PersistentRpc:
        """A stored call on a device the actor may ``operation``: 404 for another tenant's."""
        if actor.is_sys_admin:
            raise PermissionDeniedError()
        rpc = await RpcRepository(uow.connection).get(rpc_id)
        if rpc is None or rpc.tenant_id != actor.tenant_id:
            raise NotFoundError()
        await self._devices.get_device(uow, actor, rpc.device_id, operation)
        return rpc

    async def page_persistent(
        self,
        uow: UnitOfWork,
        actor: Principal,
        device_id: uuid.UUID,
        status: RpcStatus | None,
        request: PageRequest,
    ) -> tuple[list[PersistentRpc], int]:
        if actor.is_sys_admin:
            raise PermissionDeniedError()
        device = await self._devices.get_device(uow, actor, device_id, "READ")
        return await RpcRepository(uow.connection).page(device.id, status, request)

    async def delete_persistent(self, uow: UnitOfWork, actor: Principal, rpc_id: uuid.UUID) -> None:
        """Forget a stored call (it is not sent any more if it was still queued). Tenant
        administrators only, as ThingsBoard's ``RpcV2Controller``: a customer's users may
        send and read calls, not erase the record of them."""
        tenant_admin_tenant(actor)
        rpc = await self.get_persistent(uow, actor, rpc_id, RPC_CALL)
        await RpcRepository(uow.connection).delete(rpc.id)

    async def expire_due(self, uow: UnitOfWork) -> int:
        """Past ``expirationTime``: EXPIRED (never delivered) or TIMEOUT (delivered, no
        reply). Run by the platform's housekeeping."""
        return await RpcRepository(uow.connection).expire(self._clock.now_ms())

    # --- what the transports report (DeviceRpcEvents) -----------------------------------------
    async def device_connected(self, device_id: uuid.UUID) -> None:
        """Send the device's stored calls not acknowledged yet, oldest first; a call sent
        before and not acknowledged counts a retry, and fails once its retries are used up."""
        await reported("the stored calls of a connected device", self._send_stored(device_id))

    async def _send_stored(self, device_id: uuid.UUID) -> None:
        """Calls the device's links here do not take (an MQTT device not subscribed to RPC
        yet) stay as they are, without using a retry."""
        now = self._clock.now_ms()
        async with self._unit_of_work(write=False) as uow:
            waiting = await RpcRepository(uow.connection).undelivered(device_id, now)
        if not waiting:
            return
        spent = [r for r in waiting if r.status is RpcStatus.SENT and r.retries_used_up]
        taken = [
            rpc
            for rpc in waiting
            if rpc not in spent and self._delivery.links.deliver(persistent_call(rpc))
        ]
        async with self._unit_of_work() as uow:
            repo = RpcRepository(uow.connection)
            for rpc in spent:
                await repo.move(
                    rpc.id, {RpcStatus.SENT}, RpcStatus.FAILED, response=RETRIES_USED_UP
                )
            for rpc in taken:
                await repo.move(
                    rpc.id, UNDELIVERED_STATES, RpcStatus.SENT, attempts=rpc.attempts + 1
                )
            await uow.commit()

    async def rpc_delivered(self, device_id: uuid.UUID, request_id: int) -> None:
        """A stored call acknowledged: DELIVERED (final for a one-way call, as in
        ThingsBoard)."""
        if is_persistent_request_id(request_id):
            await reported("a delivery", self._record_delivery(device_id, request_id))

    async def _record_delivery(self, device_id: uuid.UUID, request_id: int) -> None:
        await self._move_by_request(device_id, request_id, UNDELIVERED_STATES, RpcStatus.DELIVERED)

    async def _move_by_request(
        self,
        device_id: uuid.UUID,
        request_id: int,
        from_states: frozenset[RpcStatus],
        to: RpcStatus,
        response: Any = None,
    ) -> bool:
        """Looked up in a read transaction first: a device repeating made-up request ids
        costs reads, not writes (and never SQLite's single writer)."""
        async with self._unit_of_work(write=False) as uow:
            ids = await RpcRepository(uow.connection).find_by_request(
                device_id, request_id, from_states
            )
        if not ids:
            return False
        async with self._unit_of_work() as uow:
            repo = RpcRepository(uow.connection)
            for rpc_id in ids:
                await repo.move(rpc_id, from_states, to, response=response)
            await uow.commit()
        return True

    async def rpc_replied(self, device_id: uuid.UUID, request_id: int, reply: Any) -> None:
        """The device answered: a stored call becomes SUCCESSFUL with the reply; a live
        call's waiter gets it here, or on its node through the bus."""
        if is_persistent_request_id(request_id):
            await reported("a reply", self._record_reply(device_id, request_id, reply))
            return
        if self.waiters.resolve(device_id, request_id, reply) or request_id <= 0:
            return
        data = {"deviceId": str(device_id), "requestId": request_id, "reply": reply}
        await self._bus.publish(Event(RPC_REPLIED, data))

    async def _record_reply(self, device_id: uuid.UUID, request_id: int, reply: Any) -> None:
        problem = json_value_problem(reply)
        if problem:  # the database cannot keep it (NUL characters): say so instead
            reply = {"error": f"The device's reply could not be stored: {problem}"}
        moved = await self._move_by_request(
            device_id, request_id, OPEN_STATES, RpcStatus.SUCCESSFUL, reply
        )
        if not moved:
            log.debug("ignored a reply to unknown or finished RPC %d", request_id)

    async def _on_replied(self, event: Event) -> None:
        try:
            device_id = uuid.UUID(str(event.data["deviceId"]))
            request_id = int(event.data["requestId"])
        except (KeyError, TypeError, ValueError):
            log.warning("ignored a malformed %s event", RPC_REPLIED)
            return
        if not self.waiters.resolve(device_id, request_id, event.data.get("reply")):
            log.debug("no call waits here for the reply to RPC %d", request_id)

    async def _on_access_changed(self, event: Event) -> None:
        """The device changed owner: cancel the open calls its former owners' users sent, so
        a former owner's commands never reach the new owner's device."""
        if event.data.get("reason") != "owner":
            return
        try:
            device_id = uuid.UUID(str(event.data["deviceId"]))
        except (KeyError, TypeError, ValueError):
            return
        async with self._unit_of_work() as uow:
            device = await DeviceRepository(uow.connection).get(device_id)
            if device is None:
                return
            cancelled = await RpcRepository(uow.connection).cancel_from_other_customers(
                device.id, device.customer_id, CANCELLED_BY_OWNER_CHANGE
            )
            await uow.commit()
        if cancelled:
            log.info("cancelled %d RPCs of the former owner of device %s", cancelled, device_id)
