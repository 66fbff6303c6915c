"""The ``gridlinks`` command: init is idempotent, --help explains and answers without loading
the server. The demo data: test_cli_demo.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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
        # Cheap Argon2 for speed, as in the ``settings`` fixture: hashing is real.
        GRIDLINKS_PASSWORD_HASH_TIME_COST="1",
        GRIDLINKS_PASSWORD_HASH_MEMORY_KIB="1024",
    )
    return env


def test_help_explains_every_command(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    top = run_cli("--help", env=env)
    assert top.returncode == 0
    for command in ("serve", "init", "create-sysadmin", "demo", "GRIDLINKS_DATABASE_URL"):
        assert command in top.stdout
    init_help = run_cli("init", "--help", env=env)
    assert "--demo" in init_help.stdout


def test_help_lists_the_demo_command_and_explains_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    top = run_cli("--help", env=env)
    assert "gridlinks demo --show" in top.stdout
    assert "gridlinks create-sysadmin --email" in top.stdout  # the quick start without demo
    demo_help = run_cli("demo", "--help", env=env)
    assert demo_help.returncode == 0
    assert "--new-codes" in demo_help.stdout
    assert "stored hashed" in demo_help.stdout


# What --help must not load: the server and the database layer (seconds to import).
HEAVY_MODULES = ("fastapi", "sqlalchemy", "uvicorn", "pydantic", "gridlinks.bootstrap")
_MODULES_AFTER = """
import contextlib, json, sys
from gridlinks.cli.main import main
with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(*args: str, env: dict[str, str]) -> set[str]:
    """The modules imported once ``gridlinks ARGS`` has answered (in a fresh interpreter)."""
    result = subprocess.run(
        [sys.executable, "-c", _MODULES_AFTER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_help_and_version_answer_without_loading_the_server(tmp_path: Path) -> None:
    env = cli_env(tmp_path, "")
    for args in (["--help"], ["--version"], ["serve", "--help"], ["demo", "--help"]):
        loaded = modules_loaded_by(*args, env=env)
        heavy = sorted(m for m in loaded for h in HEAVY_MODULES if m == h or m.startswith(h + "."))
        assert heavy == [], (args, heavy)
        assert "gridlinks.cli.main" in loaded  # the check ran the real command


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


def test_a_bad_setting_is_a_clear_error_naming_the_variable_not_a_traceback(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path, "")
    env.update(GRIDLINKS_LOG_FORMAT="xml", GRIDLINKS_METRICS_TOKEN="tok", GRIDLINKS_HTTP_PORT="x1")
    result = run_cli("init", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("gridlinks: error: bad setting: ")
    assert "GRIDLINKS_LOG_FORMAT: Input should be 'text' or 'json'" in result.stderr
    assert "GRIDLINKS_HTTP_PORT:" in result.stderr
    assert "xml" not in result.stderr and "x1" not in result.stderr  # values are not echoed


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


def test_serve_on_a_taken_http_port_exits_2_with_the_error_and_what_to_run(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path, "")
    env.update(GRIDLINKS_HTTP_HOST="127.0.0.1", GRIDLINKS_MQTT_PORT="0")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_cli("serve", env={**env, "GRIDLINKS_HTTP_PORT": str(port)})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-2:] == [
        f"gridlinks: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "is another server running? Set GRIDLINKS_HTTP_PORT to another port",
        f"gridlinks: port {port} is taken (another server?): run "
        f"GRIDLINKS_HTTP_PORT={port + 1} gridlinks serve",
    ]
