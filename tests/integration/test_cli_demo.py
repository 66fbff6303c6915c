"""The demo data: ``init --demo`` loads it once and prints the accounts and claim codes only
then; ``demo --show`` lists it again and never prints a password that was changed; ``demo
--new-codes`` replaces the codes of unclaimed demo devices."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from tests.integration.test_cli import cli_env, run_cli

pytestmark = pytest.mark.slow  # every test runs `gridlinks init --demo` as a process

CODE_LINE = re.compile(r"^  (Demo Thermostat \d)\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})$", re.MULTILINE)
DEMO_DEVICES = {"Demo Thermostat 1", "Demo Thermostat 2", "Demo Thermostat 3"}


def claim_codes(output: str) -> dict[str, str]:
    return dict(CODE_LINE.findall(output))


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return cli_env(tmp_path, database_url)


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the same database as the commands."""
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        yield api


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"username": email, "password": password})
    assert response.status_code == 200, (email, response.text)
    return {"X-Authorization": f"Bearer {response.json()['token']}"}


async def claim(client: httpx.AsyncClient, name: str, code: str) -> httpx.Response:
    headers = await sign_in(client, "customer@gridlinks.local", "customer")
    path = f"/api/customer/device/{name}/claim"
    return await client.post(path, headers=headers, json={"secretKey": code})


def test_first_init_demo_prints_the_accounts_and_a_claim_code_per_device(
    env: dict[str, str],
) -> None:
    first = run_cli("init", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    for account in (
        "sysadmin@gridlinks.local     sysadmin",
        "customer@gridlinks.local     customer",
    ):
        assert account in first.stdout
    assert set(claim_codes(first.stdout)) == DEMO_DEVICES
    assert "gridlinks demo --show" in first.stdout


def test_second_init_demo_prints_no_codes_and_says_how_to_see_them_again(
    env: dict[str, str],
) -> None:
    run_cli("init", "--demo", env=env)
    second = run_cli("init", "--demo", env=env)
    assert second.returncode == 0, second.stderr
    assert claim_codes(second.stdout) == {}
    assert "customer@gridlinks.local" not in second.stdout
    hint = [line for line in second.stdout.splitlines() if "demo --show" in line]
    assert hint == [
        "demo data was loaded on the first run; `gridlinks demo --show` shows the accounts again"
    ]


async def test_claim_codes_of_the_first_run_still_work_after_init_demo_runs_again(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    codes = claim_codes(run_cli("init", "--demo", env=env).stdout)
    run_cli("init", "--demo", env=env)  # what every scripts/serve start does
    claimed = await claim(client, "Demo Thermostat 1", codes["Demo Thermostat 1"])
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["response"] == "SUCCESS"


async def test_init_demo_twice_creates_the_demo_data_once(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    run_cli("init", "--demo", env=env)
    run_cli("init", "--demo", env=env)
    headers = await sign_in(client, "tenant@gridlinks.local", "tenant")
    devices = await client.get("/api/tenant/devices?pageSize=50&page=0", headers=headers)
    assert devices.json()["totalElements"] == 3


async def test_a_deleted_demo_account_does_not_come_back_with_its_demo_password(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    run_cli("init", "--demo", env=env)
    tenant = await sign_in(client, "tenant@gridlinks.local", "tenant")
    users = await client.get("/api/users?pageSize=10&page=0", headers=tenant)
    buyer = next(u for u in users.json()["data"] if u["email"] == "customer@gridlinks.local")
    deleted = await client.delete(f"/api/user/{buyer['id']['id']}", headers=tenant)
    assert deleted.status_code == 200, deleted.text
    run_cli("init", "--demo", env=env)
    gone = await client.post(
        "/api/auth/login", json={"username": "customer@gridlinks.local", "password": "customer"}
    )
    assert gone.status_code == 401
    shown = run_cli("demo", "--show", env=env)
    assert re.search(r"customer@gridlinks.local\s+\(deleted\)", shown.stdout), shown.stdout


async def test_demo_show_says_changed_instead_of_printing_a_changed_password(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    run_cli("init", "--demo", env=env)
    headers = await sign_in(client, "customer@gridlinks.local", "customer")
    changed = await client.post(
        "/api/auth/changePassword",
        headers=headers,
        json={"currentPassword": "customer", "newPassword": "my-own-secret-1"},
    )
    assert changed.status_code == 200, changed.text
    shown = run_cli("demo", "--show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^  customer@gridlinks.local\s+\(changed\)", shown.stdout, re.MULTILINE)
    assert re.search(r"^  tenant@gridlinks.local\s+tenant\s", shown.stdout, re.MULTILINE)
    assert "my-own-secret-1" not in shown.stdout + shown.stderr


async def test_demo_show_lists_the_demo_devices_without_their_codes(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    codes = claim_codes(run_cli("init", "--demo", env=env).stdout)
    await claim(client, "Demo Thermostat 1", codes["Demo Thermostat 1"])
    shown = run_cli("demo", "--show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Demo Thermostat 1            claimed by 'Demo Customer'" in shown.stdout
    assert re.search(
        r"Demo Thermostat 2\s+unclaimed; its claim code is valid until 20", shown.stdout
    )
    assert claim_codes(shown.stdout) == {}
    assert not any(code in shown.stdout for code in codes.values())
    assert "gridlinks demo --new-codes" in shown.stdout


async def test_demo_new_codes_replaces_the_codes_of_the_unclaimed_demo_devices_only(
    env: dict[str, str], client: httpx.AsyncClient
) -> None:
    old = claim_codes(run_cli("init", "--demo", env=env).stdout)
    await claim(client, "Demo Thermostat 1", old["Demo Thermostat 1"])
    renewed = run_cli("demo", "--new-codes", env=env)
    assert renewed.returncode == 0, renewed.stderr
    new = claim_codes(renewed.stdout)
    assert set(new) == {"Demo Thermostat 2", "Demo Thermostat 3"}
    assert (await claim(client, "Demo Thermostat 2", old["Demo Thermostat 2"])).status_code == 400
    claimed = await claim(client, "Demo Thermostat 2", new["Demo Thermostat 2"])
    assert claimed.json()["response"] == "SUCCESS", claimed.text


def test_demo_show_without_demo_data_is_a_clear_error(env: dict[str, str]) -> None:
    run_cli("init", env=env)
    shown = run_cli("demo", "--show", env=env)
    assert shown.returncode == 2
    assert "No demo data in this database; `gridlinks init --demo` loads it" in shown.stderr
    assert "Traceback" not in shown.stderr
