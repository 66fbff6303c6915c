"""Start and stop a real ``gridlinks serve`` process on a loopback port.

The server picks a free port (``GRIDLINKS_HTTP_PORT=0``) and logs the address it listens on; its
log (stdout and stderr) goes to a file, so a failing test can show it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridlinks.cli.commands import add_sysadmin
from gridlinks.config import Settings
from tests.conftest import TEST_POOL_SIZE

SYSADMIN_EMAIL = "root@e2e.test"
SYSADMIN_PASSWORD = "correct-horse-battery"
SECRET_KEY = "e2e-secret-" + "s" * 37  # 48 characters
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
_LISTENING = re.compile(r"GridLinks HTTP listening on (http://[\d.]+:\d+)")
_MQTT_LISTENING = re.compile(r"GridLinks MQTT listening on mqtt://([\d.]+):(\d+)")


@dataclass
class Server:
    """A running ``gridlinks serve``: where it listens, who administers it, what it logged."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    sysadmin_email: str = SYSADMIN_EMAIL
    sysadmin_password: str = SYSADMIN_PASSWORD

    @property
    def mqtt_address(self) -> tuple[str, int]:
        """Where the MQTT listener is (logged before the HTTP address)."""
        found = _MQTT_LISTENING.search(self.log_text())
        assert found, f"gridlinks serve did not report an MQTT listener:\n{self.log_text()}"
        return found.group(1), int(found.group(2))

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


# What the ``start_server`` fixture gives: keyword arguments are settings.
StartServer = Callable[..., Server]


def server_env(data_dir: Path, database_url: str, settings: dict[str, str]) -> dict[str, str]:
    """This environment without the developer's GRIDLINKS_* settings, plus the server's own;
    ``settings`` are extra ``GRIDLINKS_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env.update(
        GRIDLINKS_DATA_DIR=str(data_dir),
        GRIDLINKS_DATABASE_URL=database_url,
        GRIDLINKS_SECRET_KEY=SECRET_KEY,
        GRIDLINKS_PASSWORD_HASH_TIME_COST="1",
        GRIDLINKS_PASSWORD_HASH_MEMORY_KIB="1024",
        GRIDLINKS_HTTP_HOST="127.0.0.1",
        GRIDLINKS_HTTP_PORT="0",
        GRIDLINKS_MQTT_HOST="127.0.0.1",
        GRIDLINKS_MQTT_PORT="0",
        # Several test workers share one PostgreSQL: small pools (see tests/conftest.py).
        GRIDLINKS_DATABASE_POOL_SIZE=str(TEST_POOL_SIZE),
    )
    env.update(settings)
    return env


def _gridlinks(*args: str) -> list[str]:
    return [sys.executable, "-m", "gridlinks.cli.main", *args]


def create_sysadmin(env: dict[str, str]) -> None:
    """What ``gridlinks create-sysadmin`` does (migrate, then create the account), in this
    process: a second process start per server would cost more than the server's own start.
    The command itself is tested in tests/integration/test_cli.py."""
    settings = Settings(
        data_dir=Path(env["GRIDLINKS_DATA_DIR"]),
        database_url=env["GRIDLINKS_DATABASE_URL"],
        secret_key=env["GRIDLINKS_SECRET_KEY"],
        password_hash_time_cost=int(env["GRIDLINKS_PASSWORD_HASH_TIME_COST"]),
        password_hash_memory_kib=int(env["GRIDLINKS_PASSWORD_HASH_MEMORY_KIB"]),
        _env_file=None,  # type: ignore[call-arg]
    )
    create = add_sysadmin(settings, SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
    # On a loop of its own: async tests call this with their loop running.
    with ThreadPoolExecutor(max_workers=1) as aside:
        aside.submit(asyncio.run, create).result()


def start(env: dict[str, str], log_path: Path) -> Server:
    """``gridlinks serve``, once it has logged the address it listens on."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _gridlinks("serve"), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(_wait_until_listening(process, log_path), process, log_path)


def _wait_until_listening(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(
        f"gridlinks serve did not report its address within {START_TIMEOUT_SECONDS} s "
        f"(exit code {process.returncode}); its log:\n{log_path.read_text(errors='replace')}"
    )


def stop(server: Server) -> None:
    """SIGTERM, then require a clean exit (code 0) within the timeout."""
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail(f"gridlinks serve did not stop within {STOP_TIMEOUT_SECONDS} s of SIGTERM")
    assert code == 0, f"gridlinks serve exited with {code} on SIGTERM:\n{server.log_text()}"
