"""A fresh server as ``scripts/serve`` starts one (``gridlinks init --demo``, then
``gridlinks serve --no-migrate``), on SQLite in a new data directory and on free loopback
ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
_HTTP_LISTENING = re.compile(r"GridLinks HTTP listening on http://[\d.]+:(\d+)")
_MQTT_LISTENING = re.compile(r"GridLinks MQTT listening on mqtt://[\d.]+:(\d+)")


@dataclass(frozen=True)
class DemoServer:
    """A running ``gridlinks serve`` with the demo data: its ports, its log file, and the
    directory that holds its ``gridlinks-data`` (where a user of ``scripts/serve`` stands)."""

    http_port: int
    mqtt_port: int
    log_path: Path
    directory: Path


def _gridlinks(*args: str) -> list[str]:
    return [sys.executable, "-m", "gridlinks.cli.main", *args]


def _environment(data_dir: Path) -> dict[str, str]:
    """This environment without the developer's GRIDLINKS_* settings; only the data directory,
    the loopback addresses and free ports are set, as a user of ``scripts/serve`` would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDLINKS_")}
    env.update(
        GRIDLINKS_DATA_DIR=str(data_dir),
        GRIDLINKS_HTTP_HOST="127.0.0.1",
        GRIDLINKS_HTTP_PORT="0",
        GRIDLINKS_MQTT_HOST="127.0.0.1",
        GRIDLINKS_MQTT_PORT="0",
    )
    return env


def _init_demo(env: dict[str, str]) -> None:
    result = subprocess.run(
        _gridlinks("init", "--demo"), env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"gridlinks init --demo failed:\n{result.stdout}{result.stderr}"


def _wait_for_ports(process: subprocess.Popen[bytes], log_path: Path) -> tuple[int, int]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        log = log_path.read_text(errors="replace")
        http, mqtt = _HTTP_LISTENING.search(log), _MQTT_LISTENING.search(log)
        if http and mqtt:
            return int(http.group(1)), int(mqtt.group(1))
        time.sleep(0.05)
    process.kill()
    process.wait()
    pytest.fail(
        f"gridlinks serve did not report its HTTP and MQTT ports within {START_TIMEOUT_SECONDS} s"
        f" (exit code {process.returncode}); its log:\n{log_path.read_text(errors='replace')}"
    )


def stop(process: subprocess.Popen[bytes], log_path: Path) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"gridlinks serve did not stop within {STOP_TIMEOUT_SECONDS} s of SIGTERM")
    assert code == 0, f"gridlinks serve exited with {code}:\n{log_path.read_text()}"


def start(directory: Path, log_path: Path) -> tuple[DemoServer, subprocess.Popen[bytes]]:
    """``gridlinks init --demo`` then ``gridlinks serve --no-migrate`` with the data in
    ``directory/gridlinks-data``, once both listen."""
    env = _environment(directory / "gridlinks-data")
    _init_demo(env)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _gridlinks("serve", "--no-migrate"), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    http_port, mqtt_port = _wait_for_ports(process, log_path)
    return DemoServer(http_port, mqtt_port, log_path, directory), process
