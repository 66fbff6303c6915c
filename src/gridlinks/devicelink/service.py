"""``DeviceLinkService``: everything a device says, whichever transport carried it.

The transports (MQTT, the HTTP device API, later CoAP) parse their wire form, call one method
here and render the answer. Each method that writes runs in a unit of work of its own and
commits before it returns (the message is the scope), so a transport acknowledges only what
is stored; telemetry goes through the batched ``TelemetryWriter``, which returns after its
batch committed. What the device reports about server-side RPC goes to the
``DeviceRpcEvents`` port; messages to the device reach it through ``LocalLinks``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from gridlinks.attributes.domain import CLIENT_SCOPE, SHARED_SCOPE
from gridlinks.attributes.service import AttributeService
from gridlinks.bus.base import Bus
from gridlinks.claiming.service import ClaimingService
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.delivery.links import DeviceLink, LocalLinks
from gridlinks.delivery.messages import RpcCall, ToDevice
from gridlinks.delivery.ports import DeviceRpcEvents
from gridlinks.devicelink.client_rpc import SessionLimits, answer_client_rpc, parse_client_rpc
from gridlinks.devicelink.events import DeviceEventRelay
from gridlinks.devicelink.polls import RPC, PollLink, wait_for_answer
from gridlinks.devicelink.reports import BackgroundReports
from gridlinks.devices.domain import Device
from gridlinks.devices.service import DeviceService
from gridlinks.devices.transport_access import TransportAccess
from gridlinks.errors import AuthenticationError, ConflictError
from gridlinks.kit.clock import Clock
from gridlinks.telemetry.domain import parse_telemetry, parse_telemetry_bytes
from gridlinks.telemetry.writer import TelemetryWriter

T = TypeVar("T")
UnitOfWorkFactory = Callable[..., UnitOfWork]


class DeviceLinkService:
    """The device side of the platform, for every transport."""

    def __init__(
        self,
        *,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        devices: DeviceService,
        transport_access: TransportAccess,
        attributes: AttributeService,
        claiming: ClaimingService,
        telemetry_writer: TelemetryWriter,
        bus: Bus,
        links: LocalLinks,
        rpc_events: DeviceRpcEvents,
        limits: SessionLimits,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._devices = devices
        self._access = transport_access
        self._attributes = attributes
        self._claiming = claiming
        self._writer = telemetry_writer
        self._links = links
        # Public: the composition root (or a test) may put the RPC service in its place.
        self.rpc_events = rpc_events
        self._limits = limits
        self._reports = BackgroundReports()
        self._relay = DeviceEventRelay(bus, links)

    # --- the message scope ------------------------------------------------------------------
    async def _committed(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``work(uow)`` in a write unit of work and commit before returning."""
        async with self._unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
        return result

    async def _read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async with self._unit_of_work(write=False) as uow:
            return await work(uow)

    # --- authentication -----------------------------------------------------------------------
    async def authenticate_token(self, token: str) -> Device:
        """The device with access token ``token``; unknown -> ``AuthenticationError``."""
        return await self._read(lambda uow: self._devices.authenticate_access_token(uow, token))

    async def authenticate_mqtt(
        self, client_id: str, user_name: str | None, password: bytes | None
    ) -> Device:
        """ThingsBoard's two MQTT credential kinds: a user name without password is an access
        token; otherwise (or when no token matches) MQTT basic credentials."""

        async def authenticate(uow: UnitOfWork) -> Device:
            if user_name and password is None:
                try:
                    return await self._devices.authenticate_access_token(uow, user_name)
                except AuthenticationError:
                    pass  # it may still be MQTT basic credentials without a password
            return await self._access.authenticate_mqtt_basic(uow, client_id, user_name, password)

        return await self._read(authenticate)

    # --- what devices send ----------------------------------------------------------------------
    async def store_telemetry_bytes(self, device_id: uuid.UUID, raw: bytes) -> None:
        """The hot path: JSON text straight to points (one validation pass), then the batch."""
        points = parse_telemetry_bytes(raw, self._clock.now_ms())
        if points:
            await self._writer.write(device_id, points)

    async def store_telemetry(self, device_id: uuid.UUID, payload: Any) -> None:
        """Telemetry already parsed from JSON (a gateway's message for one sub-device)."""
        points = parse_telemetry(payload, self._clock.now_ms())
        if points:
            await self._writer.write(device_id, points)

    async def save_client_attributes(self, values_by_device: Mapping[uuid.UUID, Any]) -> None:
        """``{device id: {"key": value}}`` as client attributes, committed together."""

        async def save(uow: UnitOfWork) -> None:
            for device_id, values in values_by_device.items():
                await self._attributes.save(uow, "DEVICE", device_id, CLIENT_SCOPE, values)

        await self._committed(save)

    async def announce_claim(self, device_id: uuid.UUID, body: Any) -> None:
        """``{"secretKey", "durationMs"}`` (both optional): open a claim window."""

        async def announce(uow: UnitOfWork) -> None:
            device = await self._access.current(uow, device_id)
            await self._claiming.announce(uow, device, body)

        await self._committed(announce)

    async def announce_gateway_claims(
        self, payload: Any, ids_by_name: Mapping[str, uuid.UUID]
    ) -> None:
        """A gateway's ``{"<device name>": {"secretKey", "durationMs"}, ...}``; every name is
        already resolved to one of its sub-devices."""

        async def announce(uow: UnitOfWork) -> None:
            async def resolve(name: str) -> Device:
                return await self._access.current(uow, ids_by_name[name])

            await self._claiming.announce_from_gateway(uow, payload, resolve)

        await self._committed(announce)

    # --- what devices ask -----------------------------------------------------------------------
    async def read_attributes(
        self, device_id: uuid.UUID, scope: str, keys: list[str] | None
    ) -> dict[str, Any]:
        """``{key: value}`` of one scope; ``keys`` None -> all of them."""
        values = await self._read(lambda uow: self._attributes.read(uow, device_id, scope, keys))
        return {value.key: value.value for value in values}

    async def read_attribute_groups(
        self,
        device_id: uuid.UUID,
        client_keys: list[str] | None,
        shared_keys: list[str] | None,
        *,
        client: bool = True,
        shared: bool = True,
    ) -> dict[str, Any]:
        """ThingsBoard's attribute answer ``{"client": {...}, "shared": {...}}`` with the groups
        asked for (``client``/``shared``); keys None -> every attribute of the group."""
        answer = {}
        if client:
            answer["client"] = await self.read_attributes(device_id, CLIENT_SCOPE, client_keys)
        if shared:
            answer["shared"] = await self.read_attributes(device_id, SHARED_SCOPE, shared_keys)
        return answer

    def answer_client_rpc(self, body: Any, *, gateway: bool = False) -> dict[str, Any]:
        """A client-side RPC ``{"method", "params"}`` -> its reply (always a JSON object);
        a body of another shape -> ``BadRequestError``."""
        request = parse_client_rpc(body)
        return answer_client_rpc(request, self._limits, self._clock.now_ms(), gateway=gateway)

    # --- server-side RPC: what the device reports --------------------------------------------
    async def rpc_replied(self, device_id: uuid.UUID, request_id: int, reply: Any) -> None:
        await self.rpc_events.rpc_replied(device_id, request_id, reply)

    async def rpc_delivered(self, device_id: uuid.UUID, request_id: int) -> None:
        await self.rpc_events.rpc_delivered(device_id, request_id)

    def report_delivered(self, device_id: uuid.UUID, request_id: int) -> None:
        """``rpc_delivered`` from code that cannot wait (a QoS 0 request just written)."""
        self._reports.spawn(self.rpc_delivered(device_id, request_id), "an RPC delivery")

    def report_connected(self, device_id: uuid.UUID) -> None:
        """The device can take RPC requests now: queued persistent ones are sent."""
        self._reports.spawn(self.rpc_events.device_connected(device_id), "a device connection")

    def rpc_is_void(self, call: RpcCall) -> bool:
        """Past its expiration time: not sent any more."""
        return bool(call.expires_at) and call.expires_at < self._clock.now_ms()

    # --- gateways ---------------------------------------------------------------------------------
    async def sub_device(self, gateway: Device, name: str, device_type: str | None) -> Device:
        """The gateway's sub-device ``name``, found or created (owned by its customer)."""
        try:
            return await self._committed(
                lambda uow: self._access.gateway_device(uow, gateway, name, device_type)
            )
        except ConflictError:  # created by another gateway at the same moment
            return await self._committed(
                lambda uow: self._access.gateway_device(uow, gateway, name, None)
            )

    # --- messages to devices ----------------------------------------------------------------------
    def register_link(self, device_id: uuid.UUID, link: DeviceLink) -> Callable[[], None]:
        """Make ``link`` a way to reach the device from this node; returns its remover."""
        return self._links.register(device_id, link)

    async def poll(
        self,
        device_id: uuid.UUID,
        kind: str,
        timeout_seconds: float,
        client_gone: Awaitable[None] | None = None,
    ) -> ToDevice | None:
        """Wait (holding no database connection) for one message of ``kind`` for the device:
        an ``RpcCall`` (``"rpc"``) or an ``AttributePush`` (``"attributes"``), or the
        ``CloseConnection`` that ends its access. None at the timeout or when the client went
        away. An RPC request taken is reported delivered."""
        link = PollLink(kind, self._clock.now_ms)
        remove = self._links.register(device_id, link)
        try:
            if kind == RPC:
                self.report_connected(device_id)  # queued persistent RPCs go to this poll
            message = await wait_for_answer(link, timeout_seconds, client_gone)
        finally:
            remove()
        if isinstance(message, RpcCall):
            await self.rpc_delivered(device_id, message.request_id)
        return message

    async def close(self) -> None:
        self._relay.close()
        await self._reports.close()
