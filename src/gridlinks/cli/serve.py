"""``gridlinks serve``: the HTTP server and the MQTT transport, with clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn

from gridlinks.api.app import create_app
from gridlinks.api.request_guard import head_timeout_protocol
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.cli.hints import PortTakenError
from gridlinks.config import Settings
from gridlinks.errors import ConfigurationError
from gridlinks.live.domain import MAX_MESSAGE_BYTES
from gridlinks.mqtt.app import create_mqtt_server, mqtt_tls_context
from gridlinks.mqtt.transport.server import Listener, MqttServer

log = logging.getLogger("gridlinks")


def bind_socket(host: str, port: int, env_name: str) -> socket.socket:
    """Bind now, so a taken port is a clear error and port 0 gives a real port to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP; without it every kept-alive answer waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"cannot listen on {host}:{port} ({exc.strerror})"
        if exc.errno != errno.EADDRINUSE:
            raise ConfigurationError(f"{message}; check {env_name}") from None
        raise PortTakenError(
            f"{message}; is another server running? Set {env_name} to another port",
            env_name,
            port,
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` owns SIGINT/SIGTERM, so that one
    signal stops every listener (HTTP and MQTT) and the process exits 0 after a clean stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop_on_signals(server: uvicorn.Server) -> None:
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        if server.should_exit:  # a second signal: stop without waiting for open requests
            server.force_exit = True
        log.info("received %s, shutting down", sig.name)
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)


async def serve(settings: Settings, *, migrate: bool = True) -> None:
    """Run until SIGINT/SIGTERM; uvicorn finishes open requests, then we close the database."""
    platform = build_platform(settings)
    try:
        if migrate:
            await platform.migrate()
        http_socket = bind_socket(settings.http_host, settings.http_port, "GRIDLINKS_HTTP_PORT")
        host, port = http_socket.getsockname()[:2]
        config = uvicorn.Config(
            create_app(platform),
            log_config=None,
            access_log=False,
            lifespan="off",
            http=head_timeout_protocol(settings.http_header_timeout_seconds),
            proxy_headers=True,
            server_header=False,
            ws_max_size=MAX_MESSAGE_BYTES,  # live API commands; larger: close 1009
            # Live frames are small JSON: deflating each for every subscriber cost more than
            # the fan-out itself (1,000 subscribers: 0.8 s instead of 0.3 s on 2 cores).
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=10,
        )
        mqtt_listeners = _mqtt_listeners(settings)
        server = _HttpServer(config)
        _stop_on_signals(server)
        await platform.start()
        mqtt = await _start_mqtt(platform, mqtt_listeners)
        housekeeping = asyncio.create_task(platform.housekeeping(), name="housekeeping")
        log.info("GridLinks HTTP listening on http://%s:%d (API docs at /swagger-ui)", host, port)
        try:
            await server.serve(sockets=[http_socket])
        finally:
            if mqtt is not None:
                await mqtt.close()
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
        log.info("GridLinks stopped")
    finally:
        await platform.close()


def _mqtt_listeners(settings: Settings) -> list[Listener]:
    """Bind the MQTT ports now, so that a taken port stops start-up with a clear error."""
    if not settings.mqtt_enabled:
        return []
    tls = mqtt_tls_context(settings)
    listeners = [
        Listener(bind_socket(settings.mqtt_host, settings.mqtt_port, "GRIDLINKS_MQTT_PORT"))
    ]
    if tls is not None:
        sock = bind_socket(settings.mqtt_host, settings.mqtt_tls_port, "GRIDLINKS_MQTT_TLS_PORT")
        listeners.append(Listener(sock, tls))
    return listeners


async def _start_mqtt(platform: Platform, listeners: list[Listener]) -> MqttServer | None:
    if not listeners:
        log.info("MQTT is disabled (GRIDLINKS_MQTT_ENABLED=false)")
        return None
    mqtt = create_mqtt_server(platform)
    await mqtt.start(listeners)
    platform.readiness.mqtt_listening = mqtt.is_listening  # for /readyz
    return mqtt
