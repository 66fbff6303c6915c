"""Shared fixtures: a fresh database per test (SQLite always, PostgreSQL when configured).

Every test gets a database of its own, already migrated: each test process (each xdist worker)
migrates one template database per engine once, then copies it per test (``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL, a file copy on SQLite). Tests of the migrations themselves carry the
``empty_database`` marker and get an empty database instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings
from gridlinks.db.engine import async_database_url, create_database
from gridlinks.db.migrate import upgrade_schema
from gridlinks.kit.files import create_private_file

TEST_SECRET = "test-secret-" + "x" * 40
POSTGRES_ENV = "GRIDLINKS_TEST_DATABASE_URL"
# Connections per test platform (and as many again in overflow).
TEST_POOL_SIZE = 5
REDIS_ENV = "GRIDLINKS_TEST_REDIS_URL"
EMPTY_DATABASE = "empty_database"


def _postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


async def _admin_execute(base_url: str, sql: str) -> None:
    url = make_url(base_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _with_database(base_url: str, name: str) -> str:
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def _migrate(url: str) -> None:
    """Upgrade the schema at ``url`` to the newest revision, then close every connection (a
    PostgreSQL template must have none, a SQLite file must have its WAL folded back)."""
    database = create_database(async_database_url(url, Path("unused.db")))
    try:
        await upgrade_schema(database)
    finally:
        await database.dispose()


def _run_aside(coroutine: Coroutine[object, object, None]) -> None:
    """Run ``coroutine`` to the end on a loop of its own: session fixtures are first asked for
    from inside a test's running loop (``database_url``), where ``asyncio.run`` cannot run."""
    with ThreadPoolExecutor(max_workers=1) as aside:
        aside.submit(asyncio.run, coroutine).result()


# --- what runs: variants without their service are left out, with one line saying so -------

_SERVICES = (("postgres", "PostgreSQL", POSTGRES_ENV), ("redis", "Redis", REDIS_ENV))
SLOW = "slow"
# Every end-to-end test starts ``gridlinks`` processes; elsewhere these fixtures start a server.
_E2E = Path(__file__).parent / "e2e"
_SERVER_FIXTURES = {"start_server", "fresh_demo_server"}


def _missing_services() -> list[tuple[str, str, str]]:
    return [service for service in _SERVICES if not os.environ.get(service[2])]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that start a real server process ``slow``; leave out the PostgreSQL and Redis
    variants when their service is not configured (rather than skip each one on its own line).
    """
    for item in items:
        starts_server = _SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if starts_server or _E2E in item.path.parents:
            item.add_marker(SLOW)
    # Slow tests first: xdist hands tests out in this order, so the long ones do not start last
    # and keep one worker busy after the others are done.
    items.sort(key=lambda item: item.get_closest_marker(SLOW) is None)
    missing = {marker for marker, _, _ in _missing_services()}
    if not missing:
        return
    kept, left_out = [], []
    for item in items:
        needs = {mark.name for mark in item.iter_markers()} & missing
        (left_out if needs else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per service whose variants were left out, and one per reason for the tests that
    skipped themselves (instead of a line per test with ``-rs``)."""
    for marker, name, env in _missing_services():
        terminalreporter.write_line(
            f"{name} variants (marker '{marker}') were not run: {env} is not set"
        )
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "skipped"
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda pair: -pair[1]):
        terminalreporter.write_line(f"skipped {count}: {reason}")


# --- templates: migrated once per test process ---------------------------------------------


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest revision, to copy (never opened by tests)."""
    path = tmp_path_factory.mktemp("template") / "gridlinks.db"
    _run_aside(_migrate(f"sqlite:///{path}"))
    assert not path.with_name(path.name + "-wal").exists(), "template left a WAL file behind"
    return path


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database at the newest revision, with no connections, to
    ``CREATE DATABASE ... TEMPLATE``. One per test process, so xdist workers never share it."""
    base = _postgres_base_url()
    assert base is not None
    name = f"{make_url(base).database}_tmpl{uuid.uuid4().hex[:12]}"
    _run_aside(_admin_execute(base, f'CREATE DATABASE "{name}"'))
    try:
        _run_aside(_migrate(_with_database(base, name)))
        yield name
    finally:
        _run_aside(_admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _copy_private(source: Path, target: Path) -> None:
    """Copy a SQLite file to a new file of mode 0600, as GridLinks creates its own."""
    target.parent.mkdir(parents=True, exist_ok=True)
    assert create_private_file(target), f"{target} already exists"
    with source.open("rb") as reading, target.open("r+b") as writing:
        shutil.copyfileobj(reading, writing)


# --- the fixtures tests use -----------------------------------------------------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to a database of its own, at the newest schema revision (empty with the
    ``empty_database`` marker): a SQLite file, or a new PostgreSQL database."""
    empty = request.node.get_closest_marker(EMPTY_DATABASE) is not None
    if request.param == "sqlite":
        path = tmp_path / "gridlinks.db"
        if not empty:
            _copy_private(request.getfixturevalue("migrated_sqlite_file"), path)
        yield f"sqlite:///{path}"
        return
    base = _postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL variant: set {POSTGRES_ENV} to run it")
    name = f"{make_url(base).database}_t{uuid.uuid4().hex[:12]}"
    template = (
        ""
        if empty
        else ' TEMPLATE "{}"'.format(request.getfixturevalue("migrated_postgres_template"))
    )
    await _admin_execute(base, f'CREATE DATABASE "{name}"{template}')
    try:
        yield _with_database(base, name)
    finally:
        await _admin_execute(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        # Cheap Argon2 for speed: hashing is real, only its cost is lowered.
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        public_url="http://gridlinks.test",
        # Small pools: several workers share one PostgreSQL (max_connections 100); the
        # default 20 (+20 overflow) per platform ran it out of connections.
        database_pool_size=TEST_POOL_SIZE,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """Services over a migrated, empty database."""
    built = build_platform(settings)
    await built.migrate()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No GRIDLINKS_* variables from the developer's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("GRIDLINKS_") and not key.startswith("GRIDLINKS_TEST"):
            monkeypatch.delenv(key)
    yield
