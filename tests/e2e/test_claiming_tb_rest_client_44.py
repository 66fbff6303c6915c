"""Claiming with tb-rest-client 4.4 against a real server, through ``tb44_claim_scenario.py``
in its own venv; the tenant, its customers and their users are set up here over plain HTTP."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.claiming_helpers import PASSWORD, ClaimingTenancy, set_up_claiming_tenancy
from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

TB44_PYTHON_ENV = "GRIDLINKS_TB44_PYTHON"
SCENARIO = Path(__file__).with_name("tb44_claim_scenario.py")


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


@pytest.fixture
def tenancy(server: Server) -> Iterator[ClaimingTenancy]:
    tenancy = set_up_claiming_tenancy(server)
    yield tenancy
    tenancy.close()


def test_rest_client_44_claims_reports_claimed_releases_and_reads_the_audit_log(
    tb44_python: str, tenancy: ClaimingTenancy, tmp_path: Path
) -> None:
    arguments = [tenancy.base_url, tenancy.admin_email, tenancy.buyer.email, tenancy.other.email]
    result = subprocess.run(
        [tb44_python, str(SCENARIO), *arguments],
        env={**os.environ, "GRIDLINKS_E2E_PASSWORD": PASSWORD},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"tb44_claim_scenario.py exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )
    assert "tb-rest-client 4.4 claim scenario passed" in result.stdout
