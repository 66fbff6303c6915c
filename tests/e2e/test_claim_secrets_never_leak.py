"""Claim secrets never reach a real server's database files, its log, nor an answer.

The scenario of ``tests/integration/test_claim_secrets_at_rest.py`` runs against ``gridlinks
serve`` on SQLite with debug logging; then every byte the server wrote - the database, its WAL
while the server runs and after it stopped, the log - is searched for every secret.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.running_server import Server, StartServer, stop
from tests.integration.factories import Api, create_tenant_admin_quickly, login, unique
from tests.integration.test_claim_secrets_at_rest import SecretTrail, exercise_claiming_with_secrets

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def sqlite_files(database_url: str) -> list[Path]:
    database = Path(database_url.removeprefix("sqlite:///"))
    return [database, database.with_name(database.name + "-wal")]


def files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def leaks_in_files(trail: SecretTrail, paths: list[Path]) -> dict[str, list[str]]:
    leaks = {}
    for path in paths:
        found = trail.found_in(path.read_bytes()) if path.exists() else []
        if found:
            leaks[str(path)] = found
    return leaks


async def signed_in_api(server: Server, client: httpx.AsyncClient) -> Api:
    return Api(client, await login(client, server.sysadmin_email, server.sysadmin_password))


async def run_scenario(server: Server) -> SecretTrail:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        return await exercise_claiming_with_secrets(await signed_in_api(server, client))


async def test_no_claim_secret_reaches_the_database_files_the_log_or_an_answer(
    start_server: StartServer, database_url: str, tmp_path: Path
) -> None:
    server = start_server(log_level="DEBUG")
    trail = await run_scenario(server)
    files = sqlite_files(database_url)
    assert files[1].exists(), "the WAL of the running server"
    leaks_while_running = leaks_in_files(trail, files)

    stop(server)

    log = server.log_text()
    assert " DEBUG " in log, "the server logged at debug level"
    assert "POST /api/customer/device/" in log  # the scenario's requests are in this log
    written = files_under(tmp_path)
    assert files[0] in written and server.log_path in written
    assert leaks_while_running == {}
    assert leaks_in_files(trail, written) == {}
    assert trail.leaks_in_responses() == {}


async def test_device_access_token_of_a_claim_announcement_is_not_logged_at_debug_level(
    start_server: StartServer,
) -> None:
    server = start_server(log_level="DEBUG")
    token = unique("announcing-token")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        api = await signed_in_api(server, client)
        tenant = await create_tenant_admin_quickly(api)
        await api.ok("POST", f"/api/device?accessToken={token}", tenant, json={"name": unique("D")})
        announced = await client.post(f"/api/v1/{token}/claim", json={"secretKey": "k"})
        assert announced.status_code == 200

    stop(server)

    assert "POST /api/v1/***/claim -> 200" in server.log_text()
    assert token not in server.log_text()
