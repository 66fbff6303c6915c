"""A real ``gridlinks serve`` under hostile or unlucky MQTT traffic: garbage, malformed
packets, a 2 MB PUBLISH, a device connecting twice, SIGTERM with devices connected. A bad
connection is closed on its own; every other device, the HTTP API and the process go on.

Raw sockets send the broken bytes (no client library can); the well-behaved devices beside
them are paho clients.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.e2e import running_server
from tests.e2e.claiming_helpers import (
    ClaimingTenancy,
    create_device,
    ok,
    set_up_claiming_tenancy,
    unique,
    unique_token,
)
from tests.e2e.mqtt_helpers import (
    DEADLINE_SECONDS,
    TELEMETRY_TOPIC,
    PahoDevice,
    connected_paho,
    server_log_has,
    timeseries,
    wait_until,
)
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

DISCONNECT = 0xE0
MALFORMED_PACKET = 0x81
PACKET_TOO_LARGE = 0x95
SESSION_TAKEN_OVER = 0x8E
SERVER_SHUTTING_DOWN = 0x8B
TWO_MEGABYTES = 2 * 1024 * 1024


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


# --- raw MQTT over a socket ------------------------------------------------------------------
def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + varint(len(body)) + body


def connect_packet(level: int, token: str) -> bytes:
    """CONNECT: clean start, user name = token, empty client id, keep-alive 60 s."""
    header = string(b"MQTT") + bytes((level, 0x82)) + (60).to_bytes(2, "big")
    if level == 5:
        header += b"\x00"  # no properties
    return packet(0x10, header + string(b"") + string(token.encode()))


def publish_packet(level: int, topic: bytes, payload: bytes) -> bytes:
    """PUBLISH at QoS 0 (no packet id)."""
    properties = b"\x00" if level == 5 else b""
    return packet(0x30, string(topic) + properties + payload)


class RawConnection:
    """A TCP connection to the MQTT listener, reading whole packets with a deadline."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=DEADLINE_SECONDS)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError(f"closed after {len(data)} of {count} bytes")
            data += chunk
        return data

    def read_packet(self) -> tuple[int, bytes]:
        """(first byte, body) of the next packet; EOFError if the server closed."""
        first = self._exactly(1)[0]
        length, shift = 0, 0
        while True:
            digit = self._exactly(1)[0]
            length += (digit & 0x7F) << shift
            shift += 7
            if not digit & 0x80:
                break
        return first, self._exactly(length)

    def connect(self, level: int, token: str) -> None:
        self.send(connect_packet(level, token))
        first, body = self.read_packet()
        assert first == 0x20 and body[1] == 0, f"CONNACK {first:#x} {body!r}"

    def closed_by_server(self) -> bool:
        """True once the server has closed (EOF or reset), reading and discarding anything
        it sent before; fails the test if the connection stays open past the deadline."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server: Server) -> Iterator[list[RawConnection]]:
    """Raw connections opened by a test (``open_raw``); all closed at the end."""
    opened: list[RawConnection] = []
    yield opened
    for connection in opened:
        connection.close()


def open_raw(opened: list[RawConnection], server: Server) -> RawConnection:
    connection = RawConnection(server.mqtt_address)
    opened.append(connection)
    return connection


def new_token(tenancy: ClaimingTenancy) -> tuple[str, str]:
    """(token, device id) of a new device."""
    token = unique_token()
    return token, create_device(tenancy.admin, unique("Meter"), token)["id"]["id"]


def still_serving(server: Server, tenancy: ClaimingTenancy, device: PahoDevice, n: int) -> None:
    """The bystander publishes a value that must be stored, the process is alive, HTTP
    answers."""
    reason = device.publish_json(TELEMETRY_TOPIC, {"n": n})
    assert reason is not None and not reason.is_failure
    assert server.process.poll() is None
    assert ok(tenancy.admin.get("/api/auth/user"))["authority"] == "TENANT_ADMIN"


def test_garbage_and_malformed_packets_close_only_their_own_connection(
    server: Server, tenancy: ClaimingTenancy, raw: list[RawConnection]
) -> None:
    token, device_id = new_token(tenancy)
    other_token, _ = new_token(tenancy)

    with connected_paho(server.mqtt_address, token, mqtt.MQTTv5) as bystander:
        still_serving(server, tenancy, bystander, 1)

        # A CONNECT whose remaining length is not a valid variable byte integer.
        bad_length = open_raw(raw, server)
        bad_length.send(b"\x10\xff\xff\xff\xff\x7f")
        assert bad_length.closed_by_server()
        still_serving(server, tenancy, bystander, 2)

        # Not MQTT at all.
        http = open_raw(raw, server)
        http.send(b"GET / HTTP/1.1\r\nHost: gridlinks\r\n\r\n")
        assert http.closed_by_server()
        still_serving(server, tenancy, bystander, 3)

        # A connected MQTT 5 device publishes to a topic that is not UTF-8: DISCONNECT
        # "malformed packet", then closed.
        broken = open_raw(raw, server)
        broken.connect(5, other_token)
        broken.send(publish_packet(5, b"v1/devices/me/\xff\xfe", b"{}"))
        assert broken.read_packet() == (DISCONNECT, bytes((MALFORMED_PACKET, 0)))
        assert broken.closed_by_server()

        # The same at MQTT 3.1.1 (no DISCONNECT from a server there): closed.
        broken_v3 = open_raw(raw, server)
        broken_v3.connect(4, other_token)
        broken_v3.send(publish_packet(4, b"v1/devices/me/\xc0\xaf", b"{}"))
        assert broken_v3.closed_by_server()

        # A PUBLISH before CONNECT.
        early = open_raw(raw, server)
        early.send(publish_packet(4, TELEMETRY_TOPIC.encode(), b'{"x":1}'))
        assert early.closed_by_server()

        still_serving(server, tenancy, bystander, 4)
        assert bystander.disconnects == []

    stored = timeseries(tenancy.admin, device_id, ["n"], startTs=0, endTs=2**62, limit=10)
    assert sorted(point["value"] for point in stored["n"]) == ["1", "2", "3", "4"]
    assert server_log_has(server, "malformed packet")


def test_a_2_mb_publish_is_refused_and_the_server_stays_up(
    server: Server, tenancy: ClaimingTenancy, raw: list[RawConnection]
) -> None:
    token, device_id = new_token(tenancy)
    big_token, big_device_id = new_token(tenancy)
    payload = b'{"blob":"' + b"x" * TWO_MEGABYTES + b'"}'

    with connected_paho(server.mqtt_address, token, mqtt.MQTTv5) as bystander:
        # paho sends it (it does not keep to the Maximum Packet Size announced in a v5
        # CONNACK); the server closes that connection as soon as it has read the length.
        for level in (mqtt.MQTTv311, mqtt.MQTTv5):
            with connected_paho(server.mqtt_address, big_token, level) as sender:
                sender.client.publish(TELEMETRY_TOPIC, payload, qos=1)
                sender.wait_for(lambda: sender.disconnects, "connection closed by the server")
                assert sender.acknowledged == {}

        # Raw MQTT 5: DISCONNECT "packet too large" once the length is read, then closed.
        sender = open_raw(raw, server)
        sender.connect(5, big_token)
        try:
            sender.send(publish_packet(5, TELEMETRY_TOPIC.encode(), payload))
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while the rest was still being sent
        else:
            assert sender.read_packet() == (DISCONNECT, bytes((PACKET_TOO_LARGE, 0)))
        assert sender.closed_by_server()

        still_serving(server, tenancy, bystander, 1)
    assert timeseries(tenancy.admin, big_device_id, ["blob"]) == {}
    assert server.log_text().count("exceeds 65536); closing the connection") == 3
    assert timeseries(tenancy.admin, device_id, ["n"])["n"][0]["value"] == "1"


def test_a_newer_connection_of_a_device_takes_over_with_disconnect_0x8e(
    server: Server, tenancy: ClaimingTenancy, raw: list[RawConnection]
) -> None:
    token, device_id = new_token(tenancy)
    first = open_raw(raw, server)
    first.connect(5, token)
    second = open_raw(raw, server)
    second.connect(5, token)

    assert first.read_packet() == (DISCONNECT, bytes((SESSION_TAKEN_OVER, 0)))
    assert first.closed_by_server()
    second.send(publish_packet(5, TELEMETRY_TOPIC.encode(), b'{"second":1}'))
    wait_until(lambda: timeseries(tenancy.admin, device_id, ["second"]), "QoS 0 value stored")


def test_sigterm_with_devices_connected_says_goodbye_and_exits_0(
    server: Server, tenancy: ClaimingTenancy, raw: list[RawConnection]
) -> None:
    token5, device5 = new_token(tenancy)
    token3, _ = new_token(tenancy)
    v5 = open_raw(raw, server)
    v5.connect(5, token5)
    v3 = open_raw(raw, server)
    v3.connect(4, token3)
    # A message sent just before the signal is still stored.
    v5.send(publish_packet(5, TELEMETRY_TOPIC.encode(), b'{"last":1}'))
    wait_until(lambda: timeseries(tenancy.admin, device5, ["last"]), "the last value stored")

    started = time.monotonic()
    running_server.stop(server)  # SIGTERM; requires exit code 0
    assert time.monotonic() - started < running_server.STOP_TIMEOUT_SECONDS

    assert v5.read_packet() == (DISCONNECT, bytes((SERVER_SHUTTING_DOWN, 0)))
    assert v5.closed_by_server()
    assert v3.closed_by_server()  # MQTT 3.1.1: closed without a word
    assert server_log_has(server, "closing 2 MQTT connections")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}/api/auth/user", timeout=2)
