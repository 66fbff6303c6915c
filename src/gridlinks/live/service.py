"""Live updates for browsers and scripts (ThingsBoard's telemetry WebSocket API), per node.

Every node hears ``TelemetryStored``, ``AttributesChanged`` and ``DeviceAccessChanged`` on the
bus and fans them out to the subscriptions its own connections hold, found through an index
device id -> subscriptions, so an update costs one lookup plus one queued frame per
subscriber. Sessions never block the fan-out: each has a bounded send queue (``LiveSession``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import jwt

from gridlinks.accounts.domain import Principal
from gridlinks.accounts.service import AccountService
from gridlinks.bus.base import Bus, Event
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.messages import (
    ATTRIBUTES_CHANGED,
    DEVICE_ACCESS_CHANGED,
    TELEMETRY_STORED,
)
from gridlinks.devices.attribute_access import DeviceAttributeService
from gridlinks.devices.service import DeviceService
from gridlinks.devices.telemetry_access import DeviceTelemetryService
from gridlinks.errors import GridLinksError, NotFoundError
from gridlinks.kit.clock import Clock
from gridlinks.live.domain import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    MAX_SUBSCRIPTIONS_PER_SESSION,
    UNAUTHORIZED,
    ClientMessage,
    Command,
    History,
    Rejected,
    Subscribe,
    Unsubscribe,
    data_frame,
    error_frame,
    group_points,
    points_text,
    update_text,
)
from gridlinks.live.session import CLOSE_POLICY_VIOLATION, LiveSession, Subscription
from gridlinks.telemetry.domain import RangeQuery

log = logging.getLogger("gridlinks.live")

UnitOfWorkFactory = Callable[..., UnitOfWork]
_OPERATION = {"TIMESERIES": "READ_TELEMETRY", "ATTRIBUTES": "READ_ATTRIBUTES"}


class LiveService:
    """Sessions, their subscriptions, and the fan-out of bus events to them (this node)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        bus: Bus,
        clock: Clock,
        accounts: AccountService,
        devices: DeviceService,
        device_telemetry: DeviceTelemetryService,
        device_attributes: DeviceAttributeService,
        max_subscriptions: int = MAX_SUBSCRIPTIONS_PER_SESSION,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._accounts = accounts
        self._devices = devices
        self._telemetry = device_telemetry
        self._attributes = device_attributes
        self._max_subscriptions = max_subscriptions
        self._by_device: dict[uuid.UUID, set[Subscription]] = {}
        self._expiries: dict[LiveSession, asyncio.TimerHandle] = {}
        bus.subscribe(TELEMETRY_STORED, self._on_telemetry)
        bus.subscribe(ATTRIBUTES_CHANGED, self._on_attributes)
        bus.subscribe(DEVICE_ACCESS_CHANGED, self._on_access_changed)

    # --- sessions ---------------------------------------------------------------------------
    async def authenticate(self, token: str) -> Principal:
        """The caller behind an access JWT; raises ``AuthenticationError`` (never naming it)."""
        async with self._uow(write=False) as uow:
            return await self._accounts.principal(uow, token)

    def open_session(self, principal: Principal, token: str) -> LiveSession:
        """A session that ends (1008) when ``token`` expires: its access was granted until
        then, and the client reconnects with a fresh token as ThingsBoard's UI does."""
        session = LiveSession(principal)
        delay = _expiry_s(token) - self._clock.now_ms() / 1000
        loop = asyncio.get_running_loop()
        self._expiries[session] = loop.call_later(
            max(delay, 0), session.end, CLOSE_POLICY_VIOLATION, "Token has expired"
        )
        return session

    def close_session(self, session: LiveSession) -> None:
        """Forget the session's subscriptions (the connection is gone)."""
        timer = self._expiries.pop(session, None)
        if timer is not None:
            timer.cancel()
        for subscription in list(session.subscriptions.values()):
            self._forget(subscription)
        session.subscriptions.clear()

    def subscriber_count(self, device_id: uuid.UUID) -> int:
        return len(self._by_device.get(device_id, ()))

    async def handle(self, session: LiveSession, message: ClientMessage) -> None:
        """Run the commands of one client message in order."""
        for command in message.commands:
            await self._run(session, command)

    async def _run(self, session: LiveSession, command: Command) -> None:
        if isinstance(command, Rejected):
            session.offer(error_frame(command.cmd_id, command.error_code, command.message))
        elif isinstance(command, Unsubscribe):
            self._unsubscribe(session, command.cmd_id)
        elif isinstance(command, History):
            await self._history(session, command)
        else:
            await self._subscribe(session, command)

    async def _subscribe(self, session: LiveSession, command: Subscribe) -> None:
        replaced = command.cmd_id in session.subscriptions
        if not replaced and len(session.subscriptions) >= self._max_subscriptions:
            message = f"At most {self._max_subscriptions} subscriptions per connection"
            session.offer(error_frame(command.cmd_id, BAD_REQUEST, message))
            return
        self._unsubscribe(session, command.cmd_id)
        subscription = Subscription(session, command)
        session.subscriptions[command.cmd_id] = subscription
        self._by_device.setdefault(command.entity_id, set()).add(subscription)
        try:
            first = await self._first_values(session.principal, command)
        except Exception as exc:
            self._unsubscribe(session, command.cmd_id)
            session.offer(_failure_frame(command.cmd_id, exc))
            return
        if session.subscriptions.get(command.cmd_id) is subscription:
            subscription.go_live(first)

    async def _first_values(self, actor: Principal, command: Subscribe) -> dict[str, Any]:
        keys = sorted(command.keys) if command.keys else None
        async with self._uow(write=False) as uow:
            if command.kind == "TIMESERIES":
                latest = await self._telemetry.read_latest(
                    uow, actor, "DEVICE", command.entity_id, keys
                )
                rows = [(p.key, p.ts, p.value) for p in latest]
            else:
                values = await self._attributes.read(
                    uow, actor, "DEVICE", command.entity_id, command.scope, keys
                )
                rows = [(a.key, a.last_update_ts, a.value) for a in values]
        return data_frame(command.cmd_id, group_points(rows))

    def _unsubscribe(self, session: LiveSession, cmd_id: int) -> None:
        subscription = session.subscriptions.pop(cmd_id, None)
        if subscription is not None:
            self._forget(subscription)

    def _forget(self, subscription: Subscription) -> None:
        subscriptions = self._by_device.get(subscription.entity_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._by_device[subscription.entity_id]

    async def _history(self, session: LiveSession, command: History) -> None:
        query = RangeQuery(
            list(command.keys) if command.keys else None,
            command.start_ts,
            command.end_ts,
            command.limit,
        )
        try:
            async with self._uow(write=False) as uow:
                points = await self._telemetry.read_range(
                    uow, session.principal, "DEVICE", command.entity_id, query
                )
        except Exception as exc:
            session.offer(_failure_frame(command.cmd_id, exc))
            return
        rows = [(p.key, p.ts, p.value) for p in points]
        session.offer(data_frame(command.cmd_id, group_points(rows)))

    # --- fan-out ----------------------------------------------------------------------------
    async def _on_telemetry(self, event: Event) -> None:
        for device_id, rows in _telemetry_by_device(event.data.get("rows"), self._by_device):
            self._fan_out(device_id, "TIMESERIES", None, rows)

    async def _on_attributes(self, event: Event) -> None:
        data = event.data
        device_id = _uuid(data.get("entityId"))
        if device_id is None or device_id not in self._by_device:
            return
        raw_ts, values = data.get("ts"), data.get("values")
        ts = raw_ts if isinstance(raw_ts, int) else self._clock.now_ms()
        if not isinstance(values, dict):
            values = {}
        rows = [(str(key), ts, value) for key, value in values.items()]
        # A deleted attribute: ThingsBoard's update with ts 0 and an empty value.
        rows += [(str(key), 0, "") for key in data.get("deleted") or ()]
        self._fan_out(device_id, "ATTRIBUTES", str(data.get("scope")), rows)

    def _fan_out(
        self,
        device_id: uuid.UUID,
        kind: str,
        scope: str | None,
        rows: list[tuple[str, int, Any]],
    ) -> None:
        # Subscribers following the same keys share one encoding ("" when none of theirs).
        texts: dict[frozenset[str] | None, str] = {}
        for subscription in list(self._by_device.get(device_id, ())):
            command = subscription.command
            if command.kind != kind or (command.scope and command.scope != scope):
                continue
            text = texts.get(command.keys)
            if text is None:
                points = group_points(rows, command)
                text = texts[command.keys] = points_text(points) if points else ""
            if text:
                subscription.offer(update_text(command.cmd_id, text))

    async def _on_access_changed(self, event: Event) -> None:
        """Re-check every subscription on the device; those whose caller lost access end
        with an error frame (ThingsBoard's UNAUTHORIZED)."""
        device_id = _uuid(event.data.get("deviceId"))
        subscriptions = list(self._by_device.get(device_id, ())) if device_id else []
        if not subscriptions:
            return
        try:
            lost = await self._without_access(subscriptions)
        except Exception:
            # Access cannot be confirmed (database down): fail closed, clients resubscribe.
            log.exception("could not re-check live subscriptions of device %s", device_id)
            lost = subscriptions
        reason = event.data.get("reason")
        for subscription in lost:
            message = (
                "Device was deleted" if reason == "deleted" else "Access to the device was lost"
            )
            session = subscription.session
            if session.subscriptions.get(subscription.command.cmd_id) is subscription:
                self._unsubscribe(session, subscription.command.cmd_id)
                session.offer(error_frame(subscription.command.cmd_id, UNAUTHORIZED, message))

    async def _without_access(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """The subscriptions whose caller may no longer read the device: one check per user
        and operation, however many connections and subscriptions it has."""
        allowed: dict[tuple[uuid.UUID, str], bool] = {}
        lost = []
        async with self._uow(write=False) as uow:
            for subscription in subscriptions:
                principal = subscription.session.principal
                operation = _OPERATION[subscription.command.kind]
                key = (principal.user_id, operation)
                if key not in allowed:
                    allowed[key] = await self._may_read(uow, principal, subscription, operation)
                if not allowed[key]:
                    lost.append(subscription)
        return lost

    async def _may_read(
        self, uow: UnitOfWork, principal: Principal, subscription: Subscription, operation: str
    ) -> bool:
        try:
            await self._devices.get_device(uow, principal, subscription.entity_id, operation)
        except GridLinksError:
            return False
        return True


def _failure_frame(cmd_id: int, exc: Exception) -> dict[str, Any]:
    """A command's failure as ThingsBoard's error codes; never a stack trace to the client."""
    if isinstance(exc, NotFoundError):
        return error_frame(cmd_id, BAD_REQUEST, "Device not found")
    if isinstance(exc, GridLinksError):
        code = UNAUTHORIZED if exc.status in (401, 403) else BAD_REQUEST
        if exc.status >= 500:
            code = INTERNAL_ERROR
        return error_frame(cmd_id, code, exc.message)
    log.exception("live command %d failed", cmd_id, exc_info=exc)
    return error_frame(cmd_id, INTERNAL_ERROR, "Internal Server error!")


def _telemetry_by_device(
    rows: Any, wanted: dict[uuid.UUID, set[Subscription]]
) -> Iterable[tuple[uuid.UUID, list[tuple[str, int, Any]]]]:
    """The event's rows of devices somebody here follows, values decoded once."""
    if not wanted or not isinstance(rows, list):
        return []
    by_id: dict[str, list[tuple[str, int, Any]]] = {}
    for row in rows:
        try:
            entity, key, ts, value_json = row
            by_id.setdefault(str(entity), []).append((str(key), int(ts), value_json))
        except (TypeError, ValueError):
            continue
    found = []
    for entity, entity_rows in by_id.items():
        device_id = _uuid(entity)
        if device_id is not None and device_id in wanted:
            found.append((device_id, [(k, ts, _decode(v)) for k, ts, v in entity_rows]))
    return found


def _decode(value_json: Any) -> Any:
    try:
        return json.loads(value_json)
    except (TypeError, ValueError):
        return value_json


def _uuid(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def _expiry_s(token: str) -> float:
    """The ``exp`` of a token ``authenticate`` has already verified."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])
