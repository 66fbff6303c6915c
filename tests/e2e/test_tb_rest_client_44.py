"""tb-rest-client 4.4 against a real server, through ``tb44_scenario.py`` in its own venv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

TB44_PYTHON_ENV = "GRIDLINKS_TB44_PYTHON"
SCENARIO = Path(__file__).with_name("tb44_scenario.py")


@pytest.fixture
def tb44_python() -> str:
    """The Python of the venv holding tb-rest-client 4.4 (it cannot live beside 4.3)."""
    python = os.environ.get(TB44_PYTHON_ENV)
    if not python:
        pytest.skip(
            f"{TB44_PYTHON_ENV} is not set: point it at a Python with tb-rest-client==4.4 "
            "(scripts/test builds .venv-tb44 and sets it)"
        )
    assert os.access(python, os.X_OK), f"{TB44_PYTHON_ENV}={python} is not an executable"
    return python


def test_rest_client_44_manages_accounts_devices_attributes_owners_and_roles(
    tb44_python: str, server: Server, tmp_path: Path
) -> None:
    result = subprocess.run(
        [tb44_python, str(SCENARIO), server.base_url, server.sysadmin_email],
        env={**os.environ, "GRIDLINKS_E2E_SYSADMIN_PASSWORD": server.sysadmin_password},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"tb44_scenario.py exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )
    assert "tb-rest-client 4.4 scenario passed" in result.stdout
