"""End-to-end fixtures: a real ``gridlinks serve`` per test, on SQLite and (when configured)
PostgreSQL through the ``database_url`` fixture. A failed test's report shows the server log."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e import running_server
from tests.e2e.running_server import Server, StartServer

_STARTED = pytest.StashKey[list[Server]]()


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[StartServer]:
    """Start ``gridlinks serve`` with a system administrator on this test's database. Keyword
    arguments are settings: ``start_server(access_token_lifetime_seconds="2")``. Each server is
    stopped with SIGTERM at teardown and must exit with code 0."""
    started = request.node.stash.setdefault(_STARTED, [])

    def start(**settings: str) -> Server:
        extra = {f"GRIDLINKS_{name.upper()}": value for name, value in settings.items()}
        env = running_server.server_env(tmp_path / "data", database_url, extra)
        if not started:
            running_server.create_sysadmin(env)
        server = running_server.start(env, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        running_server.stop(server)


@pytest.fixture
def server(start_server: StartServer) -> Server:
    """A server with the default settings."""
    return start_server()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the logs of the test's servers to its report when it fails."""
    report = yield
    if report.failed:
        for server in item.stash.get(_STARTED, []):
            title = f"gridlinks serve log ({server.log_path})"
            report.sections.append((title, server.log_text()))
    return report
