"""Shared fixtures: a fresh database per test (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gridlinks.bootstrap import Platform, build_platform
from gridlinks.config import Settings

TEST_SECRET = "test-secret-" + "x" * 40
POSTGRES_ENV = "GRIDLINKS_TEST_DATABASE_URL"


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


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gridlinks.db'}"
        return
    base = _postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL variant: set {POSTGRES_ENV} to run it")
    name = f"{make_url(base).database}_t{uuid.uuid4().hex[:12]}"
    await _admin_execute(base, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
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
