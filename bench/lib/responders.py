"""Devices that answer server-side RPC: each MQTT connection subscribes to
``v1/devices/me/rpc/request/+`` and replies to every request on
``v1/devices/me/rpc/response/{id}`` with ``{"ok": true, "echo": <the request>}``, as a device
running tb-mqtt-client's RPC handler would (PUBACK first when the request came at QoS 1).

Runs in a load-generator process of its own (``mqtt_common.spawn_generators``); the benchmark
reads its ``shared.connected`` and ``shared.acknowledged`` (= replies sent) counters."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mqtt_common import (
    STAGE_CONNECTED,
    BenchClient,
    Shared,
    connect_packet,
    generator_entry,
    open_connection,
    variable_byte_int,
    wait_until,
)

from gridlinks.mqtt.protocol.codec import encode
from gridlinks.mqtt.protocol.packets import Packet, Publish, Suback, Subscribe, Subscription

REQUEST_FILTER = "v1/devices/me/rpc/request/+"
REQUEST_PREFIX = "v1/devices/me/rpc/request/"
RESPONSE_PREFIX = b"v1/devices/me/rpc/response/"
KEEP_ALIVE_SECONDS = 600  # the run is shorter: no PINGREQ needed
SUBACK_SECONDS = 30.0
# The benchmark sets ``shared.phase`` to this when the responders may disconnect.
PHASE_DONE = 9


@dataclass(frozen=True)
class ResponderSpec:
    host: str
    port: int
    level: int
    qos: int  # the subscription's QoS: the server sends requests at it
    clients: list[tuple[str, str]]  # client id, access token
    connect_concurrency: int = 50
    connect_timeout_seconds: float = 30.0


@dataclass
class Stats:
    answered: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)


def reply_frame(level: int, request_id: bytes, payload: bytes) -> bytes:
    """QoS 0 PUBLISH of the reply, built by hand (the hot path)."""
    topic = RESPONSE_PREFIX + request_id
    properties = b"\x00" if level == 5 else b""
    body = len(topic).to_bytes(2, "big") + topic + properties + payload
    return b"\x30" + variable_byte_int(len(body)) + body


def check_reply_frame(level: int) -> None:
    expected = encode(Publish("v1/devices/me/rpc/response/17", b'{"a":1}'), level)
    if reply_frame(level, b"17", b'{"a":1}') != expected:
        raise RuntimeError(f"hand-built reply differs from the codec's at level {level}")


class Responder(BenchClient):
    def __init__(self, level: int, stats: Stats) -> None:
        super().__init__(level)
        self.stats = stats
        self.suback: asyncio.Future[Suback] = asyncio.get_running_loop().create_future()
        self._out: list[bytes] = []

    def on_packet(self, packet: Packet) -> None:
        if isinstance(packet, Publish):
            self.answer(packet)
        elif isinstance(packet, Suback):
            if not self.suback.done():
                self.suback.set_result(packet)
        else:
            super().on_packet(packet)

    def answer(self, request: Publish) -> None:
        if not request.topic.startswith(REQUEST_PREFIX):
            self.stats.unexpected[request.topic.split("/", 4)[-1][:40]] += 1
            return
        if request.qos and request.packet_id is not None:
            self._out.append(b"\x40\x02" + request.packet_id.to_bytes(2, "big"))
        request_id = request.topic[len(REQUEST_PREFIX) :].encode()
        payload = b'{"ok":true,"echo":' + (request.payload or b"null") + b"}"
        self._out.append(reply_frame(self.level, request_id, payload))
        self.stats.answered += 1

    def after_data(self) -> None:
        if self._out:
            out, self._out = b"".join(self._out), []
            self.write(out)


async def connect_all(
    spec: ResponderSpec, stats: Stats, shared: Shared
) -> tuple[list[Responder], Counter[str]]:
    """Connect and subscribe every device, ``connect_concurrency`` at a time."""
    responders: list[Responder] = []
    failures: Counter[str] = Counter()
    indexes = iter(range(len(spec.clients)))
    subscribe = encode(Subscribe(1, (Subscription(REQUEST_FILTER, spec.qos),)), spec.level)

    async def worker() -> None:
        for i in indexes:
            client_id, token = spec.clients[i]
            packet = connect_packet(client_id, token, spec.level, KEEP_ALIVE_SECONDS)
            client, outcome = await open_connection(
                lambda: Responder(spec.level, stats),
                spec.host,
                spec.port,
                packet,
                spec.connect_timeout_seconds,
            )
            if client is None:
                failures[outcome.failure] += 1
                continue
            assert isinstance(client, Responder)
            client.write(subscribe)
            try:
                suback = await asyncio.wait_for(client.suback, SUBACK_SECONDS)
            except (TimeoutError, ConnectionError):
                failures["no SUBACK"] += 1
                client.disconnect()
                continue
            if suback.reason_codes[0] >= 0x80:
                failures[f"SUBACK 0x{suback.reason_codes[0]:02x}"] += 1
                client.disconnect()
                continue
            responders.append(client)
            shared.connected.value += 1

    await asyncio.gather(
        *(worker() for _ in range(min(spec.connect_concurrency, len(spec.clients))))
    )
    return responders, failures


async def respond(spec: ResponderSpec, shared: Shared) -> dict[str, Any]:
    check_reply_frame(spec.level)
    stats = Stats()
    responders, failures = await connect_all(spec, stats, shared)
    shared.stage.value = STAGE_CONNECTED
    while shared.phase.value < PHASE_DONE:
        shared.acknowledged.value = stats.answered
        await asyncio.sleep(0.05)
    shared.acknowledged.value = stats.answered
    lost = Counter(r.close_reason for r in responders if r.closed)
    for responder in responders:
        responder.disconnect()
    await wait_until(lambda: all(r.closed for r in responders), 30)
    return {
        "connected": len(responders),
        "connect_failures": dict(failures),
        "answered": stats.answered,
        "unexpected_topics": dict(stats.unexpected),
        "lost_while_answering": dict(lost),
        "finished_at": time.time(),
    }


def responder_process(spec: ResponderSpec, shared: Shared, results: Any) -> None:
    generator_entry(lambda: respond(spec, shared), shared, results)
