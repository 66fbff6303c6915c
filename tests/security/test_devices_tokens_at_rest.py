"""Defect 13: device access tokens are not in a database dump, yet still work and read back.

The database keeps a keyed hash of each token (the lookup) and the token sealed with AES-GCM
under a key derived from the server secret. Every path that makes a token is exercised; then
every row of every table (and, on SQLite, the bytes of the database, -wal and -shm files) is
searched for the tokens. Tokens an older version stored in plaintext are sealed at start-up.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import make_url

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.db.migrate import _alembic_config
from gridlinks.db.tables import device_credentials, devices
from gridlinks.devices.tokens import LOOKUP_PURPOSE, SEAL_PURPOSE, AccessTokenSeal
from gridlinks.kit.secrets import UnsealError, derive_key
from tests.conftest import TEST_SECRET
from tests.integration.factories import (
    PASSWORD,
    Account,
    Api,
    create_tenant_admin_quickly,
    login,
    unique,
)
from tests.integration.mqtt.harness import RunningMqtt
from tests.integration.test_claim_secrets_at_rest import every_row_as_text
from tests.integration.test_cli import cli_env, run_cli
from tests.security.devices_support import (
    TELEMETRY,
    create_with_token,
    device_id,
    latest_keys,
    read_token,
    set_basic,
    set_token,
)

pytestmark = pytest.mark.security

SEAL = AccessTokenSeal(
    derive_key(TEST_SECRET, LOOKUP_PURPOSE), derive_key(TEST_SECRET, SEAL_PURPOSE)
)


def database_files(database_url: str) -> list[Path]:
    """The SQLite database file with its -wal and -shm files (none for PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    path = Path(url.database)
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


async def found_at_rest(platform: Platform, database_url: str, tokens: list[str]) -> list[str]:
    """Tokens found in any row of any table, or in the bytes of the SQLite files."""
    stored = (await every_row_as_text(platform)).encode()
    files = b"".join(p.read_bytes() for p in database_files(database_url) if p.exists())
    return [t for t in tokens if t.encode() in stored or t.encode() in files]


async def send_over_http(api: Api, token: str) -> httpx.Response:
    return await api.client.post(f"/api/v1/{token}/telemetry", json={"atRest": 1})


async def tokens_of_every_kind(api: Api, tenant: Account) -> dict[str, tuple[Any, str]]:
    """Devices whose tokens were made every way the API makes one: name -> (device, token)."""
    chosen, replaced, by_credentials = (unique(f"tok-{kind}") for kind in "abc")
    made: dict[str, tuple[Any, str]] = {}
    created = await create_with_token(api, tenant, chosen)
    made["chosen"] = (created.json(), chosen)
    generated = await api.create_device(tenant)
    made["generated"] = (generated, await read_token(api, tenant, generated))
    changed = await api.create_device(tenant)
    assert (await set_token(api, tenant, changed, replaced)).status_code == 200
    made["replaced"] = (changed, replaced)
    regenerated = await api.create_device(tenant)
    assert (await set_token(api, tenant, regenerated, "")).status_code == 200
    made["regenerated"] = (regenerated, await read_token(api, tenant, regenerated))
    body = {
        "device": {"name": unique("WithCredentials")},
        "credentials": {"credentialsType": "ACCESS_TOKEN", "credentialsId": by_credentials},
    }
    with_credentials = await api.ok("POST", "/api/device-with-credentials", tenant, json=body)
    made["with-credentials"] = (with_credentials, by_credentials)
    return made


async def test_no_access_token_is_stored_in_any_table_or_database_file(
    api: Api, platform: Platform, database_url: str
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    made = await tokens_of_every_kind(api, tenant)
    tokens = [token for _device, token in made.values()]
    for token in tokens:
        assert (await send_over_http(api, token)).status_code == 200

    assert await found_at_rest(platform, database_url, tokens) == []
    stored = await every_row_as_text(platform)
    assert all(SEAL.lookup_id(token) in stored for token in tokens)


async def test_a_token_reads_back_through_the_api_and_works_over_http_and_mqtt(
    api: Api, mqtt: RunningMqtt
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    for device, token in (await tokens_of_every_kind(api, tenant)).values():
        assert await read_token(api, tenant, device) == token
        assert (await send_over_http(api, token)).status_code == 200
        client = await mqtt.client(4)
        assert (await client.connect(token, client_id=unique("c"))).reason_code == 0
        await client.publish_ok(TELEMETRY, b'{"overMqtt": 1}')
        await client.close()
        assert await latest_keys(api, tenant, device) == {"atRest", "overMqtt"}


@pytest.mark.slow  # runs `gridlinks init --demo` as a process
async def test_demo_device_tokens_are_not_stored(
    tmp_path: Path, database_url: str, platform: Platform
) -> None:
    result = run_cli("init", "--demo", env=cli_env(tmp_path, database_url))
    assert result.returncode == 0, result.stderr
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        maker = await login(client, "tenant@gridlinks.local", "tenant")
        api = Api(client, maker)
        page = await api.ok("GET", "/api/tenant/devices?pageSize=10&page=0", maker)
        tokens = [await read_token(api, maker, device) for device in page["data"]]
        assert len(tokens) == 3
        for token in tokens:
            assert (await send_over_http(api, token)).status_code == 200

    assert await found_at_rest(platform, database_url, tokens) == []


# --- an installation upgraded from revision 0003 ----------------------------------------------
async def run_alembic(platform: Platform, step: Callable[..., None], revision: str) -> None:
    async with platform.database.engine.connect() as connection:
        await connection.run_sync(lambda sync: step(_alembic_config(sync), revision))
        await connection.commit()


async def as_revision_0003_stored_it(
    platform: Platform, token_device: Any, token: str, named: Any, name: str
) -> None:
    """Back to revision 0003, rows as its code wrote them: the token in plaintext, a name as
    typed (NFD, spaces)."""
    await run_alembic(platform, command.downgrade, "0003")
    async with platform.database.engine.begin() as connection:
        await connection.execute(
            device_credentials.update()
            .where(device_credentials.c.device_id == uuid.UUID(device_id(token_device)))
            .values(credentials_id=token)
        )
        await connection.execute(
            devices.update().where(devices.c.id == uuid.UUID(device_id(named))).values(name=name)
        )


async def test_plaintext_tokens_of_an_older_version_are_sealed_at_start(
    api: Api, platform: Platform, database_url: str
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    token = unique("legacy-token")
    legacy = (await create_with_token(api, tenant, token)).json()
    basic, named = await api.create_device(tenant), await api.create_device(tenant)
    user_name = unique("legacy-user")
    assert (await set_basic(api, tenant, basic, clientId="c-1", userName=user_name)).is_success
    name = f"Caf\u00e9 {unique('legacy')}"
    await as_revision_0003_stored_it(
        platform, legacy, token, named, f" {unicodedata.normalize('NFD', name)} "
    )
    assert await found_at_rest(platform, database_url, [token]) == [token]

    await platform.migrate()
    # Going back to 0003 dropped the users' token generations: sign in again.
    tenant = await login(api.client, tenant.email, PASSWORD)

    assert await found_at_rest(platform, database_url, [token]) == []
    assert await read_token(api, tenant, legacy) == token
    assert (await send_over_http(api, token)).status_code == 200
    await platform.migrate()  # idempotent: nothing left to seal, the token still works
    assert (await send_over_http(api, token)).status_code == 200
    # The migration indexed the MQTT basic user name and respelled the device name.
    clash = await set_basic(api, tenant, await api.create_device(tenant), userName=user_name)
    assert clash.status_code == 400, clash.text
    found = await api.ok("GET", "/api/tenant/device", tenant, params={"deviceName": name})
    assert (found["id"], found["name"]) == (named["id"], name)


async def test_start_seals_tokens_left_by_a_schema_only_upgrade(
    api: Api, platform: Platform, database_url: str
) -> None:
    """``alembic upgrade`` alone (no secret) then ``serve --no-migrate``: start() seals."""
    tenant = await create_tenant_admin_quickly(api)
    token = unique("legacy-token")
    legacy = (await create_with_token(api, tenant, token)).json()
    await as_revision_0003_stored_it(platform, legacy, token, legacy, legacy["name"])
    await run_alembic(platform, command.upgrade, "head")

    await platform.start()

    assert await found_at_rest(platform, database_url, [token]) == []
    assert (await send_over_http(api, token)).status_code == 200


async def test_sealed_tokens_of_another_server_secret_do_not_open(
    platform: Platform, api: Api
) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    async with platform.database.engine.connect() as connection:
        query = sa.select(device_credentials.c.token_sealed, device_credentials.c.id)
        sealed, row_id = (
            await connection.execute(
                query.where(device_credentials.c.device_id == uuid.UUID(device_id(device)))
            )
        ).one()
    token = await read_token(api, tenant, device)

    assert SEAL.open(sealed, row_id, uuid.UUID(device_id(device))) == token
    other = AccessTokenSeal(b"x" * 32, derive_key("another-secret-" + "y" * 40, SEAL_PURPOSE))
    with pytest.raises(UnsealError):
        other.open(sealed, row_id, uuid.UUID(device_id(device)))


async def test_after_the_server_secret_changed_a_token_can_still_be_replaced(
    api: Api, settings: Settings
) -> None:
    """Old tokens no longer open (a clear 500 on reading them back), but new ones can be set."""
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    changed = build_platform(settings.model_copy(update={"secret_key": "changed-" + "z" * 40}))
    try:
        transport = httpx.ASGITransport(app=create_app(changed))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            other = Api(client, api.sysadmin)
            admin = await login(client, tenant.email, PASSWORD)
            path = f"/api/device/{device_id(device)}/credentials"
            unreadable = await client.get(path, headers=admin.headers)
            assert unreadable.status_code == 500, unreadable.text
            assert "server secret" in unreadable.json()["message"]
            token = unique("new-token")
            assert (await set_token_by_id(other, admin, device, token)).status_code == 200
            assert await read_token(other, admin, device) == token
    finally:
        await changed.close()


async def set_token_by_id(api: Api, account: Account, device: Any, token: str) -> httpx.Response:
    body = {
        "deviceId": device["id"],
        "credentialsType": "ACCESS_TOKEN",
        "credentialsId": token,
    }
    return await api.client.post("/api/device/credentials", headers=account.headers, json=body)
