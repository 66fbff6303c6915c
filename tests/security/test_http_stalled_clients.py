"""Slow and stalled HTTP clients against a real ``gridlinks serve``: they cost a socket, never a
database connection, SQLite's write lock or anybody else's latency."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest

from tests.e2e.claiming_helpers import (
    VALID_WINDOW_MS,
    announce,
    claim,
    create_device,
    ok,
    set_up_claiming_tenancy,
    signed_in,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import connected_paho
from tests.e2e.running_server import Server, StartServer

pytestmark = pytest.mark.e2e

# More stalled requests than the pool has connections (2 kept + 2 overflow).
POOL_SIZE = 2
STALLED_REQUESTS = 12
NORMAL_LATENCY_SECONDS = 2.0
STALLED_PATHS = (
    "/api/v1/some-token/claim",
    "/api/auth/login",
    "/api/customer/device/x/claim",
    "/api/v1/some-token/telemetry",
)


def _address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.base_url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(_address(server), timeout=10)


@contextmanager
def stalled_bodies(server: Server, count: int) -> Iterator[list[socket.socket]]:
    """``count`` POSTs announcing 100 bytes of body and sending one, held open."""
    with ExitStack() as stack:
        sockets = []
        for index in range(count):
            sock = stack.enter_context(_connect(server))
            path = STALLED_PATHS[index % len(STALLED_PATHS)]
            head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{"
            sock.sendall(head.encode())
            sockets.append(sock)
        time.sleep(0.5)  # the server has read every head and waits for the bodies
        yield sockets


def _timed(action: object) -> float:
    started = time.monotonic()
    assert callable(action)
    action()
    return time.monotonic() - started


def _read_until_closed(sock: socket.socket, timeout_seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails on timeout)."""
    sock.settimeout(timeout_seconds)
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


def test_stalled_bodies_beyond_the_pool_leave_sign_in_claims_and_mqtt_working(
    start_server: StartServer,
) -> None:
    server = start_server(database_pool_size=str(POOL_SIZE))
    tenancy = set_up_claiming_tenancy(server)
    name, token = unique("Meter"), unique_token()
    create_device(tenancy.admin, name, token)
    with stalled_bodies(server, STALLED_REQUESTS):
        sign_in = _timed(
            lambda: signed_in(server.base_url, tenancy.buyer.email, "user-password-123").close()
        )
        assert sign_in < NORMAL_LATENCY_SECONDS

        def claim_device() -> None:
            window = {"durationMs": VALID_WINDOW_MS}
            assert announce(server.base_url, token, window).status_code == 200
            assert ok(claim(tenancy.buyer.client, name))["response"] == "SUCCESS"

        assert _timed(claim_device) < NORMAL_LATENCY_SECONDS

        with connected_paho(server.mqtt_address, token, mqtt.MQTTv5) as device:
            reasons = []
            took = _timed(
                lambda: reasons.append(device.publish_json("v1/devices/me/telemetry", {"t": 1}))
            )
            assert reasons[0] is not None and not reasons[0].is_failure
            assert took < NORMAL_LATENCY_SECONDS
    tenancy.close()


def test_a_body_that_stops_arriving_is_answered_408_and_its_connection_closed(
    start_server: StartServer,
) -> None:
    server = start_server(http_body_timeout_seconds="1")
    with stalled_bodies(server, 1) as (sock,):
        answer = _read_until_closed(sock, timeout_seconds=5)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"errorCode":31' in answer


def test_a_connection_that_sends_no_request_is_closed(start_server: StartServer) -> None:
    server = start_server(http_header_timeout_seconds="1")
    with _connect(server) as sock:
        started = time.monotonic()
        assert _read_until_closed(sock, timeout_seconds=5) == b""
    assert time.monotonic() - started < 4


def test_headers_trickled_slower_than_the_header_timeout_close_the_connection(
    start_server: StartServer,
) -> None:
    server = start_server(http_header_timeout_seconds="1")
    with _connect(server) as sock:
        sock.sendall(b"GET /api/auth/user HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):
            time.sleep(0.3)
            sock.sendall(b"X-Slow: 1\r\n")
        assert _read_until_closed(sock, timeout_seconds=5) == b""


def test_a_request_head_over_64_kib_is_refused_and_closed(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /api/auth/user HTTP/1.1\r\nHost: x\r\n")
        filler = b"X-Filler: " + b"a" * 8000 + b"\r\n"
        try:
            for _ in range(12):
                sock.sendall(filler)
                time.sleep(0.05)
            answer = _read_until_closed(sock, timeout_seconds=5)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""  # closed with our unread headers in its buffer: a reset
    # The 431 is sent, though a reset may overtake it.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")


def test_a_body_declared_larger_than_the_limit_is_refused_before_it_is_sent(
    server: Server,
) -> None:
    with _connect(server) as sock:
        head = b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        sock.sendall(head)
        answer = _read_until_closed(sock, timeout_seconds=5)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_kept_alive_connection_still_serves_a_second_request(server: Server) -> None:
    with _connect(server) as sock:
        request = b"GET /api/noauth/nothing HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request)
        time.sleep(0.3)
        sock.sendall(request + b"")
        sock.settimeout(5)
        received = b""
        while received.count(b"HTTP/1.1 404") < 2:
            chunk = sock.recv(65536)
            assert chunk, f"closed early: {received!r}"
            received += chunk
