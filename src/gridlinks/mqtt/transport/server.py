"""The MQTT listeners (plain and optional TLS) and their graceful shutdown.

Shutdown follows uvicorn: stop accepting, tell every client (DISCONNECT 0x8B at level 5) and
close, wait for in-flight messages to finish (bounded), then drop whatever is left.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from gridlinks.kit.metrics import Metrics
from gridlinks.mqtt.transport.connection import MqttConnection
from gridlinks.mqtt.transport.state import (
    Authenticator,
    ConnectionLimits,
    ServerState,
    TransportMetrics,
)

log = logging.getLogger("gridlinks.mqtt")

# create_server(sock=...) calls listen() again with its own backlog, 100 unless told: when
# thousands of devices reconnect at once (a restart), a queue of 100 overflows, the kernel drops
# their handshakes and they retransmit for seconds. The same as gridlinks serve's bind_socket.
LISTEN_BACKLOG = 2048


@dataclass(frozen=True)
class Listener:
    """A bound listening socket, with the TLS context when it is the TLS listener."""

    sock: socket.socket
    tls: ssl.SSLContext | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{port}"


class MqttServer:
    def __init__(
        self,
        authenticator: Authenticator,
        limits: ConnectionLimits,
        max_connections: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.state = ServerState(
            limits, authenticator, max_connections, metrics=TransportMetrics(metrics)
        )
        self._servers: list[asyncio.Server] = []

    async def start(self, listeners: list[Listener]) -> None:
        loop = asyncio.get_running_loop()
        for listener in listeners:
            server = await loop.create_server(
                lambda: MqttConnection(self.state),
                sock=listener.sock,
                backlog=LISTEN_BACKLOG,
                ssl=listener.tls,
                ssl_handshake_timeout=10.0 if listener.tls else None,
            )
            self._servers.append(server)
            log.info("GridLinks MQTT listening on %s", listener.url)

    def is_listening(self) -> bool:
        """Every listener accepts connections (for readiness)."""
        return bool(self._servers) and all(server.is_serving() for server in self._servers)

    @property
    def connection_count(self) -> int:
        return len(self.state.connections)

    async def close(self, timeout_seconds: float = 10.0) -> None:
        for server in self._servers:
            server.close()
        connections = list(self.state.connections)
        if connections:
            log.info("closing %d MQTT connections", len(connections))
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        for connection in connections:
            connection.stop_reading()
        # Messages already received are processed and acknowledged before the goodbye.
        await _wait_until(lambda: not any(c.busy for c in connections), deadline)
        for connection in connections:
            connection.shut_down()
        await _wait_until(lambda: all(c.finished for c in connections), deadline)
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers.clear()


async def _wait_until(condition: Callable[[], bool], deadline: float) -> None:
    """Poll ``condition`` until true or ``deadline`` (loop time). Polling, because giving each
    of thousands of connections an event to wait on would cost memory on every connection."""
    loop = asyncio.get_running_loop()
    while not condition() and loop.time() < deadline:  # noqa: ASYNC110 - see docstring
        await asyncio.sleep(0.02)


def tls_context(cert_file: str, key_file: str, ca_file: str | None) -> ssl.SSLContext:
    """Server TLS (1.2+); with ``ca_file`` clients must present a certificate signed by it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if ca_file:
        context.load_verify_locations(ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
