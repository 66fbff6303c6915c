"""A fresh demo server per test, as ``scripts/serve`` starts one; a failed test's report shows
the server's log."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.docs import demo_server
from tests.docs.demo_server import DemoServer

_LOG_PATH = pytest.StashKey[Path]()


@pytest.fixture
def fresh_demo_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DemoServer]:
    """``gridlinks init --demo`` then ``gridlinks serve --no-migrate`` in a new data directory."""
    log_path = tmp_path / "server.log"
    request.node.stash[_LOG_PATH] = log_path
    server, process = demo_server.start(tmp_path, log_path)
    yield server
    demo_server.stop(process, log_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the server's log to the report of a failed test."""
    report = yield
    log_path = item.stash.get(_LOG_PATH, None)
    if report.failed and log_path is not None and log_path.exists():
        report.sections.append((f"gridlinks serve log ({log_path})", log_path.read_text()))
    return report
