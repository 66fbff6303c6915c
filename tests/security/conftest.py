"""Attacker-style tests (issue 9: stalled requests, lock-outs under concurrency, privilege
escalation, forged logs, ...). Every test here carries the ``security`` marker: run them alone
with ``scripts/test tests/security`` or ``scripts/test -m security``.

They use the in-process fixtures of ``tests/integration`` and the real-server fixtures of
``tests/e2e``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import pytest_runtest_makereport, server, start_server  # noqa: F401
from tests.integration.conftest import api, client  # noqa: F401
from tests.integration.mqtt.conftest import maker, mqtt  # noqa: F401

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.security)
