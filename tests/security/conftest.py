"""Attacker-style tests of issue 9: the in-process API fixtures and the real-server fixtures."""

from tests.e2e.conftest import pytest_runtest_makereport, server, start_server  # noqa: F401
from tests.integration.conftest import api, client  # noqa: F401
