"""``gridlinks serve`` and MQTT start-up errors; the TLS listener with a real certificate."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from gridlinks.bootstrap import Platform
from gridlinks.mqtt.app import create_mqtt_server
from gridlinks.mqtt.protocol.codec import PacketDecoder, encode
from gridlinks.mqtt.protocol.packets import Connack, Connect
from gridlinks.mqtt.transport.server import Listener, tls_context
from tests.integration.mqtt.conftest import Maker
from tests.integration.mqtt.harness import listening_socket
from tests.integration.test_cli import cli_env, run_cli


@pytest.mark.slow  # starts gridlinks processes
def test_a_taken_mqtt_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = cli_env(tmp_path, "")
        env.update(
            GRIDLINKS_HTTP_HOST="127.0.0.1",
            GRIDLINKS_HTTP_PORT="0",
            GRIDLINKS_MQTT_HOST="127.0.0.1",
            GRIDLINKS_MQTT_PORT=str(taken.getsockname()[1]),
        )
        result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert "GRIDLINKS_MQTT_PORT" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # starts gridlinks processes
def test_half_a_tls_configuration_is_a_clear_error(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    env.update(
        GRIDLINKS_HTTP_PORT="0",
        GRIDLINKS_MQTT_PORT="0",
        GRIDLINKS_MQTT_TLS_CERT_FILE=str(tmp_path / "cert.pem"),
    )
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert "GRIDLINKS_MQTT_TLS_KEY_FILE" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # starts gridlinks processes
def test_help_names_the_mqtt_settings(tmp_path: Path) -> None:
    result = run_cli("--help", env=cli_env(tmp_path, ""))
    assert "GRIDLINKS_MQTT_HOST/PORT" in result.stdout
    assert "GRIDLINKS_MQTT_TLS_" in result.stdout


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def tls_connect(port: int, context: ssl.SSLContext, token: str) -> Connack:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        writer.write(encode(Connect("", protocol_level=5, username=token), 5))
        decoder = PacketDecoder(protocol_level=5)
        while True:
            data = await asyncio.wait_for(reader.read(1024), 5)
            if not data:
                raise ConnectionError("closed by the server")
            if packets := decoder.feed(data):
                assert isinstance(packets[0], Connack)
                return packets[0]
    finally:
        writer.close()


async def test_tls_listener_serves_devices(
    platform: Platform, maker: Maker, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path, "server")
    client_cert, client_key = self_signed(tmp_path, "client")
    _, token = await maker.device()
    plain_tls = Listener(listening_socket(), tls_context(str(cert), str(key), None))
    mutual_tls = Listener(listening_socket(), tls_context(str(cert), str(key), str(client_cert)))
    server = create_mqtt_server(platform)
    await server.start([plain_tls, mutual_tls])
    try:
        client_context = ssl.create_default_context(cafile=str(cert))
        connack = await tls_connect(plain_tls.address[1], client_context, token)
        assert connack.reason_code == 0
        # The CA-verified listener refuses a client without a certificate ...
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await tls_connect(mutual_tls.address[1], client_context, token)
        # ... and serves one that presents a certificate signed by the CA file.
        client_context.load_cert_chain(str(client_cert), str(client_key))
        connack = await tls_connect(mutual_tls.address[1], client_context, token)
        assert connack.reason_code == 0
    finally:
        await server.close()
