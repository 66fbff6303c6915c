"""``/healthz`` and ``/readyz`` of a real server: ready while the database answers, Redis
answers (when configured) and MQTT listens; 503 naming what failed otherwise, and ready again
once it is back."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from tests.e2e.mqtt_helpers import wait_until
from tests.e2e.operations_helpers import readyz
from tests.e2e.running_server import Server, StartServer

pytestmark = pytest.mark.e2e


def test_healthz_answers_ok_while_the_process_serves(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/healthz", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_when_the_database_answers_and_mqtt_listens(server: Server) -> None:
    response = readyz(server)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "mqtt": "ok"}}


def test_readyz_does_not_ask_for_mqtt_on_an_http_only_node(start_server: StartServer) -> None:
    response = readyz(start_server(mqtt_enabled="false"))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


def test_probes_are_not_api_operations(server: Server) -> None:
    paths = httpx.get(f"{server.base_url}/v3/api-docs", timeout=10).json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


# --- the database goes away (PostgreSQL: it refuses connections) --------------------------------
def _admin(database_url: str, sql: str) -> None:
    url = make_url(database_url)

    async def execute() -> None:
        connection = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, database="postgres"
        )
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute())


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_readyz_is_503_naming_the_database_while_it_refuses_connections(
    server: Server, database_url: str
) -> None:
    name = make_url(database_url).database
    assert readyz(server).status_code == 200
    _admin(database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    try:
        _admin(
            database_url,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
        )
        wait_until(lambda: readyz(server).status_code == 503, "readyz answering 503")
        refused = readyz(server)
        assert refused.json()["status"] == "unavailable"
        assert refused.json()["checks"]["database"].startswith("unreachable")
        assert refused.json()["checks"]["mqtt"] == "ok"
    finally:
        _admin(database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    wait_until(lambda: readyz(server).status_code == 200, "readyz ready again")


# --- Redis goes away ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server of this test's own (no disk), so the test may stop it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    client = Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except RedisError:  # not listening yet
            return False

    try:
        wait_until(answers, "redis-server answering PING")
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_readyz_is_503_naming_redis_once_redis_is_gone(
    start_server: StartServer, own_redis: tuple[subprocess.Popen[bytes], str]
) -> None:
    process, redis_url = own_redis
    server = start_server(redis_url=redis_url)
    assert readyz(server).json()["checks"] == {"database": "ok", "redis": "ok", "mqtt": "ok"}
    process.terminate()
    process.wait(timeout=10)
    response = readyz(server)
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("unreachable")
    assert response.json()["checks"]["database"] == "ok"
