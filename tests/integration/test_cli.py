"""The ``gridlinks`` command: init is idempotent, --demo gives working accounts, --help explains."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gridlinks.api.app import create_app
from gridlinks.bootstrap import Platform
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.slow  # every test starts ``gridlinks`` processes


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridlinks.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env.update(
        GRIDLINKS_DATA_DIR=str(tmp_path / "data"),
        GRIDLINKS_DATABASE_URL=database_url,
        GRIDLINKS_SECRET_KEY=TEST_SECRET,
    )
    return env


async def test_init_demo_twice_creates_the_demo_accounts_once(
    tmp_path: Path, database_url: str, platform: Platform
) -> None:
    env = cli_env(tmp_path, database_url)
    first = run_cli("init", "--demo", env=env)
    second = run_cli("init", "--demo", env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "tenant@gridlinks.local" in second.stdout
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for email, password in [
            ("sysadmin@gridlinks.local", "sysadmin"),
            ("tenant@gridlinks.local", "tenant"),
            ("customer@gridlinks.local", "customer"),
        ]:
            response = await client.post(
                "/api/auth/login", json={"username": email, "password": password}
            )
            assert response.status_code == 200, (email, response.text)
        token = (
            await client.post(
                "/api/auth/login", json={"username": "tenant@gridlinks.local", "password": "tenant"}
            )
        ).json()["token"]
        devices = await client.get(
            "/api/tenant/devices?pageSize=50&page=0", headers={"X-Authorization": f"Bearer {token}"}
        )
        assert devices.json()["totalElements"] == 3  # not doubled by the second init


async def test_init_demo_prints_claim_codes_the_demo_customer_can_claim_with(
    tmp_path: Path, database_url: str, platform: Platform
) -> None:
    env = cli_env(tmp_path, database_url)
    run_cli("init", "--demo", env=env)
    second = run_cli("init", "--demo", env=env)
    codes = dict(
        re.findall(
            r"^  (Demo Thermostat \d)\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})$",
            second.stdout,
            re.MULTILINE,
        )
    )
    assert set(codes) == {"Demo Thermostat 1", "Demo Thermostat 2", "Demo Thermostat 3"}
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        login = await client.post(
            "/api/auth/login", json={"username": "customer@gridlinks.local", "password": "customer"}
        )
        headers = {"X-Authorization": f"Bearer {login.json()['token']}"}
        path = "/api/customer/device/Demo Thermostat 1/claim"
        claimed = await client.post(
            path, headers=headers, json={"secretKey": codes["Demo Thermostat 1"]}
        )
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["response"] == "SUCCESS"
    third = run_cli("init", "--demo", env=env)
    assert "Demo Thermostat 1 " not in third.stdout  # claimed: no new code
    assert "Demo Thermostat 2 " in third.stdout


def test_help_explains_every_command(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    top = run_cli("--help", env=env)
    assert top.returncode == 0
    for command in ("serve", "init", "create-sysadmin", "GRIDLINKS_DATABASE_URL"):
        assert command in top.stdout
    init_help = run_cli("init", "--help", env=env)
    assert "--demo" in init_help.stdout


def test_postgres_without_secret_is_a_clear_error(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "postgresql://nobody@127.0.0.1:1/none")
    env.pop("GRIDLINKS_SECRET_KEY")
    result = run_cli("init", env=env)
    assert result.returncode == 2
    assert "GRIDLINKS_SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsupported_database_is_a_clear_error(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "mysql://root@127.0.0.1/test")
    result = run_cli("init", env=env)
    assert result.returncode == 2
    assert "supports postgresql and sqlite" in result.stderr


def test_create_sysadmin_refuses_a_malformed_email_and_a_short_password(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    bad_email = run_cli(
        "create-sysadmin",
        "--email",
        "not-an-email",
        env={**env, "GRIDLINKS_ADMIN_PASSWORD": "long-enough-1"},
    )
    assert bad_email.returncode == 2
    assert "e-mail must look like" in bad_email.stderr
    short = run_cli(
        "create-sysadmin", "--email", "a@b.test", env={**env, "GRIDLINKS_ADMIN_PASSWORD": "123"}
    )
    assert short.returncode == 2
    assert "at least 6 characters" in short.stderr
    created = run_cli(
        "create-sysadmin",
        "--email",
        "a@b.test",
        env={**env, "GRIDLINKS_ADMIN_PASSWORD": "long-enough-1"},
    )
    assert created.returncode == 0, created.stderr  # the refused attempt left nothing behind
