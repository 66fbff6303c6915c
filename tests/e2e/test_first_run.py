"""``scripts/serve`` as a new user runs it: the demo is loaded on the first start only, and an
MQTT port that another broker holds stops it with one line saying what to run instead (or, when
asked, HTTP comes up without MQTT).

Each test runs the script itself on the embedded default (SQLite in a data directory under
``tmp_path``), with the HTTP port picked by the system. ``scripts/serve`` reuses the checkout's
``.venv`` (an install with test extras satisfies it: see ``ensure_venv`` in scripts/_env.sh).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.running_server import server_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "scripts" / "serve"
START_TIMEOUT_SECONDS = 60.0
_LISTENING = re.compile(r"GridLinks HTTP listening on (http://[\d.]+:\d+)")
_CODE_LINE = re.compile(r"^  Demo Thermostat \d\s+[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}$", re.MULTILINE)


def script_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A test server's environment, but with scripts/serve's own defaults for the database
    (SQLite in the data directory) and the secret (generated there)."""
    extra = {f"GRIDLINKS_{name.upper()}": value for name, value in settings.items()}
    env = server_env(tmp_path / "data", "", extra)
    del env["GRIDLINKS_DATABASE_URL"], env["GRIDLINKS_SECRET_KEY"]
    return env


@contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port that something else is listening on (like Mosquitto on 1883)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``scripts/serve`` that is expected to stop by itself."""
    return subprocess.run(
        [str(SERVE)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``scripts/serve`` until it listens (its base URL), then SIGTERM: it must exit 0."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(SERVE)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield wait_until_listening(process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)  # the script execs the server: this reaches it
        code = process.wait(timeout=30)
    assert code == 0, log_path.read_text()


def wait_until_listening(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        found = _LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(
        f"scripts/serve did not start (exit code {process.returncode}):\n"
        f"{log_path.read_text(errors='replace')}"
    )


def test_serve_on_a_taken_mqtt_port_stops_with_one_line_saying_what_to_run(
    tmp_path: Path,
) -> None:
    with taken_port() as port:
        result = run_serve(script_env(tmp_path, mqtt_port=str(port)))
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
    hints = [line for line in result.stderr.splitlines() if "is taken" in line]
    assert hints == [
        f"gridlinks: port {port} is taken (another MQTT broker?): run "
        f"GRIDLINKS_MQTT_PORT={port + 1} {SERVE}, or GRIDLINKS_MQTT_ENABLED=false {SERVE} "
        "for HTTP only"
    ]
    assert "Traceback" not in result.stderr


def test_serve_with_mqtt_disabled_serves_http_while_the_mqtt_port_is_taken(
    tmp_path: Path,
) -> None:
    env = script_env(tmp_path, mqtt_enabled="false")
    with taken_port() as port:
        env["GRIDLINKS_MQTT_PORT"] = str(port)
        with serving(env, tmp_path / "serve.log") as base_url:
            login = httpx.post(
                f"{base_url}/api/auth/login",
                json={"username": "tenant@gridlinks.local", "password": "tenant"},
            )
            assert login.status_code == 200, login.text
    assert "MQTT is disabled (GRIDLINKS_MQTT_ENABLED=false)" in (tmp_path / "serve.log").read_text()


def test_serve_prints_the_demo_codes_on_the_first_start_only(tmp_path: Path) -> None:
    env = script_env(tmp_path)
    with serving(env, tmp_path / "first.log"):
        pass
    with serving(env, tmp_path / "second.log"):
        pass
    first, second = (tmp_path / "first.log").read_text(), (tmp_path / "second.log").read_text()
    assert len(_CODE_LINE.findall(first)) == 3
    assert "customer@gridlinks.local     customer" in first
    assert _CODE_LINE.findall(second) == []
    assert "customer@gridlinks.local" not in second
    assert "`.venv/bin/gridlinks demo --show` shows the accounts again" in second
