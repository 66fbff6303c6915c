"""An in-process MQTT server over the test's platform, and a raw MQTT client built on the
GridLinks codec (client side), so tests can send any packet - including broken ones - and see
exactly what comes back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any

from gridlinks.bootstrap import Platform
from gridlinks.mqtt.app import create_mqtt_server
from gridlinks.mqtt.protocol.codec import PacketDecoder, encode
from gridlinks.mqtt.protocol.packets import Connack, Connect, Packet, Puback, Publish
from gridlinks.mqtt.transport.server import Listener, MqttServer

TIMEOUT = 5.0


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class RunningMqtt:
    server: MqttServer
    host: str
    port: int
    clients: list[RawClient] = field(default_factory=list)

    async def client(self, level: int = 5) -> RawClient:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        client = RawClient(reader, writer, level)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        await self.server.close(timeout_seconds=5)


async def start_mqtt(platform: Platform) -> RunningMqtt:
    server = create_mqtt_server(platform)
    listener = Listener(listening_socket())
    await server.start([listener])
    host, port = listener.address
    return RunningMqtt(server, host, port)


class RawClient:
    """One TCP connection speaking MQTT at ``level`` through the codec."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, level: int
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.level = level
        self._decoder = PacketDecoder(protocol_level=level)
        self._pending: list[Packet] = []
        self._next_id = 0

    def packet_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send(self, packet: Packet) -> None:
        await self.send_raw(encode(packet, self.level))

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, wait_seconds: float = TIMEOUT) -> Packet:
        """The next packet from the server; fails on timeout or a closed connection."""
        while not self._pending:
            data = await asyncio.wait_for(self.reader.read(65536), wait_seconds)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._pending.extend(self._decoder.feed(data))
        return self._pending.pop(0)

    async def closed_by_server(self, wait_seconds: float = TIMEOUT) -> list[Packet]:
        """Read until the server closes; returns the packets it sent before closing."""
        seen: list[Packet] = list(self._pending)
        self._pending.clear()
        try:
            while data := await asyncio.wait_for(self.reader.read(65536), wait_seconds):
                seen.extend(self._decoder.feed(data))
        except ConnectionResetError:
            pass
        await self.close()
        return seen

    async def connect(self, username: str | None, **fields: Any) -> Connack:
        fields.setdefault("client_id", "")
        fields.setdefault("keep_alive_seconds", 60)
        await self.send(Connect(protocol_level=self.level, username=username, **fields))
        connack = await self.receive()
        assert isinstance(connack, Connack), connack
        return connack

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> Packet | None:
        """Publish and return the acknowledgement (None for QoS 0)."""
        packet_id = self.packet_id() if qos else None
        await self.send(Publish(topic, payload, qos=qos, packet_id=packet_id))
        if not qos:
            return None
        ack = await self.receive()
        assert getattr(ack, "packet_id", None) == packet_id, ack
        return ack

    async def publish_ok(self, topic: str, payload: bytes) -> None:
        ack = await self.publish(topic, payload)
        assert isinstance(ack, Puback), ack
        assert ack.reason_code == 0, f"refused with reason 0x{ack.reason_code:02x}"

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
