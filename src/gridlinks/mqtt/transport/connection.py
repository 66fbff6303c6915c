"""One ``asyncio.Protocol`` per MQTT connection (uvicorn's shape): bytes go through the sans-IO
decoder, packets are processed in order by a worker that exists only while there is work, and
every answer is written through the codec.

Lifecycle: AWAITING_CONNECT -> (CONNECT) -> AUTHENTICATING -> CONNECTED -> CLOSED. Anything
malformed closes this connection only (with a DISCONNECT carrying the reason at level 5).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import uuid
from typing import cast

from gridlinks.errors import ServiceUnavailableError
from gridlinks.mqtt.protocol.codec import PacketDecoder, encode
from gridlinks.mqtt.protocol.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    MalformedPacket,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    ReasonCode,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
    UnsupportedProtocolVersion,
)
from gridlinks.mqtt.protocol.properties import PropertyId
from gridlinks.mqtt.transport.flow_control import FlowControl
from gridlinks.mqtt.transport.in_flight import DEFAULT_CLIENT_RECEIVE_MAXIMUM, InFlight
from gridlinks.mqtt.transport.state import (
    Acknowledged,
    ConnectRefused,
    PublishFailed,
    Refusal,
    ServerState,
    Session,
)

log = logging.getLogger("gridlinks.mqtt")

PINGRESP = b"\xd0\x00"
CONNECT_FIRST_BYTE = b"\x10"


class State(enum.Enum):
    AWAITING_CONNECT = "awaiting CONNECT"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    CLOSED = "closed"


class MqttConnection(asyncio.Protocol):
    """Per-connection state machine; shared state comes in through ``ServerState``."""

    __slots__ = (
        "_awaiting_release",
        "_client_max_packet",
        "_close_reason",
        "_decoder",
        "_flow",
        "_in_flight",
        "_inbox",
        "_keep_alive_limit",
        "_last_received",
        "_level",
        "_loop",
        "_over_capacity",
        "_peer",
        "_server",
        "_session",
        "_timer",
        "_transport",
        "_worker",
        "state",
    )

    def __init__(self, server: ServerState) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._decoder = PacketDecoder(max_packet_bytes=server.limits.max_packet_bytes)
        # Created on the first packet after CONNECT and dropped when drained (a deque costs
        # ~760 bytes; most of the time a device connection has nothing queued).
        self._inbox: collections.deque[Packet] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._session: Session | None = None
        self._awaiting_release: set[int] | None = None  # QoS 2 ids between PUBREC and PUBREL
        self._timer: asyncio.TimerHandle | None = None
        self._keep_alive_limit = 0.0
        self._last_received = 0.0
        self._level = 4
        self._client_max_packet = 0
        # QoS 1 messages we sent and the client has not acknowledged yet (created on the first).
        self._in_flight: InFlight | None = None
        self._over_capacity = False
        self._peer = "?"
        self._close_reason = ""
        self.state = State.AWAITING_CONNECT

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not isinstance(asyncio.Transport): uvloop's TCPTransport (gridlinks serve) is no
        # subclass of it, though it has the same methods.
        self._transport = cast(asyncio.Transport, transport)
        self._flow = FlowControl(self._transport, self._server.limits.receive_maximum)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._over_capacity = len(self._server.connections) >= self._server.max_connections
        self._server.connections.add(self)
        self._server.metrics.connections.inc()
        self._last_received = self._loop.time()
        self._keep_alive_limit = self._server.limits.connect_timeout_seconds
        self._timer = self._loop.call_later(self._keep_alive_limit, self._check_idle)

    def data_received(self, data: bytes) -> None:
        self._last_received = self._loop.time()
        if self._starts_without_connect(data):  # not MQTT (e.g. HTTP): do not wait for more
            self._protocol_violation("the first packet is not CONNECT")
            return
        try:
            packets = self._decoder.feed(data)
        except MalformedPacket as exc:
            self._malformed(exc)
            return
        for packet in packets:
            if self.state is State.CLOSED:
                return
            self._dispatch(packet)

    def _starts_without_connect(self, data: bytes) -> bool:
        return (
            self.state is State.AWAITING_CONNECT
            and not self._decoder.buffered_bytes
            and data[:1] != CONNECT_FIRST_BYTE
        )

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state is not State.CLOSED:
            lost = f"connection lost ({type(exc).__name__})" if exc else "closed by the client"
            self._close_reason = lost
        self._mark_closed()
        if self in self._server.connections:
            self._server.connections.discard(self)
            self._server.metrics.connections.dec()
        self._flow.resume_writing()

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    # --- closing (called by the server) ----------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state is State.CLOSED and self._worker is None

    @property
    def busy(self) -> bool:
        """Messages are being processed (their acknowledgements are not sent yet)."""
        return self._worker is not None

    def stop_reading(self) -> None:
        if self.state is not State.CLOSED:
            self._flow.stop_reading()

    def take_over(self) -> None:
        log.info("MQTT %s: replaced by a newer connection of the same device", self._who())
        self._close(ReasonCode.SESSION_TAKEN_OVER)

    def shut_down(self) -> None:
        self._close(ReasonCode.SERVER_SHUTTING_DOWN)

    # --- incoming packets ------------------------------------------------------------------
    def _dispatch(self, packet: Packet) -> None:
        if self.state is State.AWAITING_CONNECT:
            if not isinstance(packet, Connect):
                self._protocol_violation(f"first packet is {type(packet).__name__}, not CONNECT")
                return
            self._level = packet.protocol_level
            self.state = State.AUTHENTICATING
        elif isinstance(packet, Connect):
            self._protocol_violation("a second CONNECT")
            return
        elif isinstance(packet, Pingreq) and self.state is State.CONNECTED:
            self._transport.write(PINGRESP)
            return
        if self._inbox is None:
            self._inbox = collections.deque()
        self._inbox.append(packet)
        self._flow.backlog_changed(len(self._inbox))
        if self._worker is None:
            self._worker = self._loop.create_task(self._work(self._inbox))

    async def _work(self, inbox: collections.deque[Packet]) -> None:
        """Process queued packets one by one, in order; exit when none are left."""
        try:
            while inbox and self.state is not State.CLOSED:
                packet = inbox.popleft()
                if inbox and self._may_run_together(packet, inbox[0]):
                    await self._on_publish_run(self._take_run(packet, inbox))
                else:
                    await self._handle(packet)
                self._flow.backlog_changed(len(inbox))
                await self._flow.drain()
        except Exception:
            log.exception("MQTT %s: internal error; closing the connection", self._who())
            self._close(ReasonCode.UNSPECIFIED_ERROR)
        finally:
            self._worker = None
            if not inbox:
                self._inbox = None

    async def _handle(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            await self._on_publish(packet)
        elif isinstance(packet, Connect):
            await self._on_connect(packet)
        elif isinstance(packet, Pubrel):
            self._on_pubrel(packet)
        elif isinstance(packet, Subscribe):
            await self._on_subscribe(packet)
        elif isinstance(packet, Unsubscribe):
            self._on_unsubscribe(packet)
        elif isinstance(packet, Pingreq):
            self._send(Pingresp())
        elif isinstance(packet, Disconnect):
            self._close_reason = "client sent DISCONNECT" + (
                f" ({_reason_text(packet.reason_code)})" if packet.reason_code else ""
            )
            self._mark_closed()
            self._transport.close()
        elif isinstance(packet, Puback):
            await self._on_puback(packet)
        elif isinstance(packet, Auth):
            self._protocol_violation("AUTH without an authentication method")
        # PUBREC, PUBCOMP: the server sends QoS 0 and 1 only, so there is nothing to release.

    # --- CONNECT ---------------------------------------------------------------------------
    async def _on_connect(self, connect: Connect) -> None:
        try:
            self._check_connect(connect)
            session = await self._server.authenticator.open_session(connect, self)
        except ConnectRefused as exc:
            self._server.metrics.connects.labels(exc.refusal.name.lower()).inc()
            log.info(
                "MQTT %s: connection refused: %s",
                self._peer,
                exc.log_reason,
                extra={"client": self._peer, "reason": exc.log_reason},
            )
            self._refuse(exc.refusal)
            return
        if self.state is State.CLOSED:  # the client went away while we authenticated
            session.on_close()
            return
        self._session = session
        self._server.register_device(session.device_id, self)
        self.state = State.CONNECTED
        self._client_max_packet = _connect_property(connect, PropertyId.MAXIMUM_PACKET_SIZE, 0)
        self._in_flight = InFlight(
            _connect_property(connect, PropertyId.RECEIVE_MAXIMUM, DEFAULT_CLIENT_RECEIVE_MAXIMUM)
        )
        self._send(Connack(False, 0, self._connack_properties(connect)))
        self._start_keep_alive(connect.keep_alive_seconds)
        session.on_connected()
        self._server.metrics.connects.labels("accepted").inc()
        log.info(
            "MQTT %s: connected (MQTT level %d)",
            self._who(),
            self._level,
            extra={"client": self._peer, "device_id": str(session.device_id)},
        )

    def _check_connect(self, connect: Connect) -> None:
        if self._over_capacity:
            raise ConnectRefused(Refusal.SERVER_BUSY, "connection limit reached")
        if connect.client_id or self._level == 5:
            return
        if self._level == 3 or not connect.clean_start:
            raise ConnectRefused(
                Refusal.CLIENT_ID_NOT_VALID, "an empty client id needs MQTT 3.1.1 clean session"
            )

    def _connack_properties(self, connect: Connect) -> tuple[tuple[int, int | str], ...]:
        if self._level != 5:
            return ()
        limits = self._server.limits
        properties: list[tuple[int, int | str]] = [
            (PropertyId.RECEIVE_MAXIMUM, limits.receive_maximum),
            (PropertyId.MAXIMUM_PACKET_SIZE, limits.max_packet_bytes),
            (PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, 0),
            (PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0),
        ]
        if not connect.client_id:
            properties.append((PropertyId.ASSIGNED_CLIENT_IDENTIFIER, uuid.uuid4().hex))
        return tuple(properties)

    def _refuse(self, refusal: Refusal) -> None:
        self._send(Connack(False, refusal.code(self._level)))
        self._mark_closed()
        self._transport.close()

    # --- PUBLISH and acknowledgements --------------------------------------------------------
    async def _on_publish(self, publish: Publish) -> None:
        if publish.properties and any(
            key == PropertyId.TOPIC_ALIAS for key, _ in publish.properties
        ):
            self._close(ReasonCode.TOPIC_ALIAS_INVALID)  # we announce Topic Alias Maximum 0
            return
        if publish.qos == 2 and self._is_awaiting_release(publish.packet_id):
            self._send(Pubrec(_packet_id(publish)))  # a re-sent QoS 2 message: already done
            return
        reason = await self._process(publish)
        self._count_received(reason)
        if reason is None or self.state is State.CLOSED:
            return
        if publish.qos == 1:
            self._acknowledge(_packet_id(publish), reason)
        elif publish.qos == 2:
            if reason < ReasonCode.UNSPECIFIED_ERROR:
                self._release_set().add(_packet_id(publish))
            self._send(Pubrec(_packet_id(publish), reason if self._level == 5 else 0))

    # --- runs of independent messages ------------------------------------------------------
    def _may_run_together(self, *packets: Packet) -> bool:
        """QoS 1 messages the session processes independently of each other (telemetry)."""
        session = self._session
        return session is not None and all(
            isinstance(p, Publish)
            and p.qos == 1
            and not p.properties
            and session.independent(p.topic)
            for p in packets
        )

    def _take_run(self, first: Packet, inbox: collections.deque[Packet]) -> list[Publish]:
        run = [first]
        while inbox and self._may_run_together(inbox[0]):
            run.append(inbox.popleft())
        return cast(list[Publish], run)

    async def _on_publish_run(self, run: list[Publish]) -> None:
        """Messages queued together are processed together (their telemetry lands in the same
        batch) and acknowledged in their order, in one write, once all are done."""
        reasons = await asyncio.gather(*(self._process(publish) for publish in run))
        for reason in reasons:
            self._count_received(reason)
        acks = []
        for publish, reason in zip(run, reasons, strict=True):
            if reason is None or self.state is State.CLOSED:
                break  # closed: the rest stays unacknowledged, the client still has it
            acks.append(self._puback(_packet_id(publish), reason))
        if acks:
            self._transport.write(b"".join(acks))

    async def _process(self, publish: Publish) -> int | None:
        """The reason code to acknowledge with, or None when the connection was closed."""
        assert self._session is not None
        try:
            await self._session.on_publish(publish)
        except PublishFailed as exc:
            log.warning(
                "MQTT %s: message on %r refused: %s", self._who(), publish.topic, exc.log_reason
            )
            return exc.reason_code
        except ServiceUnavailableError as exc:
            # Overload (no database connection free in time): not acknowledged, the client
            # sends the message again after reconnecting.
            log.warning("MQTT %s: %s; closing (server busy)", self._who(), exc.message)
            self._close(ReasonCode.SERVER_BUSY)
            return None
        except Exception:
            # Not acknowledged: the client still holds the message and can send it again.
            log.exception("MQTT %s: could not process a message; closing", self._who())
            self._close(ReasonCode.UNSPECIFIED_ERROR)
            return None
        return ReasonCode.SUCCESS

    def _count_received(self, reason: int | None) -> None:
        metrics = self._server.metrics
        if reason == ReasonCode.SUCCESS:
            metrics.received_accepted.inc()
        elif reason is None:
            metrics.received_failed.inc()  # server busy or error: not acknowledged
        else:
            metrics.received_refused.inc()

    def _acknowledge(self, packet_id: int, reason: int) -> None:
        if not self._transport.is_closing():
            self._transport.write(self._puback(packet_id, reason))

    def _puback(self, packet_id: int, reason: int) -> bytes:
        """PUBACK bytes; a plain success (or any level below 5) skips the encoder."""
        if reason == ReasonCode.SUCCESS or self._level != 5:
            return b"\x40\x02" + packet_id.to_bytes(2, "big")
        return encode(Puback(packet_id, reason), self._level)

    def _on_pubrel(self, pubrel: Pubrel) -> None:
        pending = self._awaiting_release
        if pending is not None and pubrel.packet_id in pending:
            pending.discard(pubrel.packet_id)
            self._send(Pubcomp(pubrel.packet_id))
        else:
            missing = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND if self._level == 5 else 0
            self._send(Pubcomp(pubrel.packet_id, missing))

    def _release_set(self) -> set[int]:
        if self._awaiting_release is None:
            self._awaiting_release = set()
        return self._awaiting_release

    def _is_awaiting_release(self, packet_id: int | None) -> bool:
        return self._awaiting_release is not None and packet_id in self._awaiting_release

    # --- SUBSCRIBE / UNSUBSCRIBE --------------------------------------------------------------
    async def _on_subscribe(self, subscribe: Subscribe) -> None:
        assert self._session is not None
        granted = await self._session.on_subscribe(subscribe.subscriptions)
        self._send(Suback(subscribe.packet_id, granted))

    def _on_unsubscribe(self, unsubscribe: Unsubscribe) -> None:
        assert self._session is not None
        codes = self._session.on_unsubscribe(unsubscribe.topic_filters)
        self._send(Unsuback(unsubscribe.packet_id, codes if self._level == 5 else ()))

    # --- outgoing --------------------------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes, qos: int = 0, on_acknowledged: Acknowledged | None = None
    ) -> bool:
        """Send an application message at QoS 0 or 1 to the client, if it is still connected,
        reads what we send, and the message fits the client's Maximum Packet Size (and, at QoS
        1, its Receive Maximum). ``on_acknowledged`` runs when the client's PUBACK arrives; a
        message never acknowledged before the connection ends stays unacknowledged (sessions
        are not kept across connections: the sender re-sends on reconnect)."""
        if self.state is not State.CONNECTED or self._flow.write_paused:
            return False
        packet_id = None
        if qos:
            assert self._in_flight is not None
            packet_id = self._in_flight.add(on_acknowledged)
            if packet_id is None:
                return False
        data = encode(Publish(topic, payload, 1 if qos else 0, packet_id=packet_id), self._level)
        if self._client_max_packet and len(data) > self._client_max_packet:
            log.warning(
                "MQTT %s: message on %r is over the client's size limit", self._who(), topic
            )
            self._server.metrics.sent_too_large.inc()
            if packet_id is not None and self._in_flight is not None:
                self._in_flight.forget(packet_id)
            return False
        self._transport.write(data)
        self._server.metrics.sent.inc()
        return True

    def disconnect(self, reason_code: int) -> None:
        log.info("MQTT %s: closed by the server (%s)", self._who(), _reason_text(reason_code))
        self._close(reason_code)

    async def _on_puback(self, puback: Puback) -> None:
        if self._in_flight is None:
            return
        known, on_acknowledged = self._in_flight.acknowledged(puback.packet_id)
        if not known or on_acknowledged is None:
            return  # unknown or already acknowledged: nothing to release
        try:
            await on_acknowledged()
        except Exception:
            log.exception("MQTT %s: acknowledgement handler failed", self._who())

    def _send(self, packet: Packet) -> None:
        if not self._transport.is_closing():
            self._transport.write(encode(packet, self._level))

    # --- timers ------------------------------------------------------------------------------
    def _start_keep_alive(self, keep_alive_seconds: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if keep_alive_seconds:
            self._keep_alive_limit = keep_alive_seconds * self._server.limits.keep_alive_factor
            self._timer = self._loop.call_later(self._keep_alive_limit, self._check_idle)

    def _check_idle(self) -> None:
        """Runs when the connection may have been silent too long: before CONNECT that is the
        connect timeout, afterwards 1.5 x the client's keep-alive."""
        self._timer = None
        if self.state is State.CLOSED:
            return
        idle = self._loop.time() - self._last_received
        if self.state is State.CONNECTED and idle < self._keep_alive_limit:
            self._timer = self._loop.call_later(self._keep_alive_limit - idle, self._check_idle)
            return
        if self.state is State.CONNECTED:
            log.info("MQTT %s: keep-alive expired", self._who())
            self._close(ReasonCode.KEEP_ALIVE_TIMEOUT)
        elif self.state is State.AWAITING_CONNECT:
            log.info("MQTT %s: no CONNECT in time; closing", self._peer)
            self._close(ReasonCode.MAXIMUM_CONNECT_TIME)
        else:  # still authenticating: the database is slow; give it another period
            self._timer = self._loop.call_later(self._keep_alive_limit, self._check_idle)

    # --- errors and closing -----------------------------------------------------------------------
    def _malformed(self, exc: MalformedPacket) -> None:
        if self.state is State.AWAITING_CONNECT and isinstance(exc, UnsupportedProtocolVersion):
            log.info("MQTT %s: refused: %s", self._peer, exc)
            self._level = 4  # answer in a form every version can read
            self._refuse(Refusal.UNSUPPORTED_PROTOCOL_VERSION)
            return
        log.warning("MQTT %s: malformed packet (%s); closing the connection", self._who(), exc)
        self._close(exc.reason_code)

    def _protocol_violation(self, what: str) -> None:
        log.warning("MQTT %s: protocol error (%s); closing the connection", self._who(), what)
        self._close(ReasonCode.PROTOCOL_ERROR)

    def _close(self, reason: int) -> None:
        """Close with a DISCONNECT carrying ``reason`` (level 5, after CONNACK only)."""
        if self.state is State.CLOSED:
            return
        if self.state is State.CONNECTED and self._level == 5:
            self._send(Disconnect(reason))
        self._close_reason = _reason_text(reason)
        self._mark_closed()
        self._transport.close()

    def _mark_closed(self) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        if self._inbox is not None:
            self._inbox.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._in_flight = None
        if self._session is not None:
            self._server.unregister_device(self._session.device_id, self)
            self._session.on_close()
            self._log_disconnected(self._session.device_id)

    def _log_disconnected(self, device_id: uuid.UUID) -> None:
        reason = self._close_reason or "closed"
        log.info(
            "MQTT %s: disconnected: %s",
            self._who(),
            reason,
            extra={"client": self._peer, "device_id": str(device_id), "reason": reason},
        )

    def _who(self) -> str:
        if self._session is not None:
            return f"{self._peer} ({self._session.description})"
        return self._peer


def _reason_text(code: int) -> str:
    """``0x8D`` -> ``"keep alive timeout (0x8d)"``: a reason code for a log line."""
    try:
        name = ReasonCode(code).name.lower().replace("_", " ")
    except ValueError:
        name = "reason"
    return f"{name} ({code:#04x})"


def _packet_id(publish: Publish) -> int:
    assert publish.packet_id is not None
    return publish.packet_id


def _connect_property(connect: Connect, property_id: int, default: int) -> int:
    for key, value in connect.properties:
        if key == property_id and isinstance(value, int):
            return value
    return default
