"""Engines for SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg).

``Database`` owns the engine and, on SQLite, the in-process write lock: SQLite allows one writer
at a time, so write units of work queue on an ``asyncio.Lock`` and start with
``BEGIN IMMEDIATE`` instead of failing with "database is locked" when two deferred
transactions both try to upgrade.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gridlinks.errors import ConfigurationError
from gridlinks.kit.files import create_private_file, private_directory, tighten_file

WRITE_OPTION = "gridlinks_write"


def async_database_url(database_url: str, sqlite_path: Path) -> URL:
    """Turn a user-given URL (``postgresql://user@host/db``, ``sqlite:///x.db``) into an
    async one."""
    if not database_url:
        return make_url(f"sqlite+aiosqlite:///{sqlite_path}")
    try:
        url = make_url(database_url)
    except sa.exc.ArgumentError:
        raise ConfigurationError(
            "GRIDLINKS_DATABASE_URL is not a database URL; use postgresql://user@host:5432/db"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    raise ConfigurationError(
        f"GRIDLINKS_DATABASE_URL uses {backend!r}; GridLinks supports postgresql and sqlite"
    )


class Database:
    """The engine plus what a unit of work needs to know about the backend.

    ``wait_seconds`` bounds how long a unit of work waits for a pooled connection or for
    SQLite's write lock; past it the work is refused (503) instead of queueing forever."""

    def __init__(self, engine: AsyncEngine, *, wait_seconds: float = 10.0) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self.wait_seconds = wait_seconds

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        """``SELECT 1`` on a pooled connection (readiness): raises when the database does not
        answer. Never waits for SQLite's write lock."""
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    def pool_checked_out(self) -> int:
        """Connections in use now (for the metrics)."""
        checked_out = getattr(self.engine.pool, "checkedout", None)
        return int(checked_out()) if checked_out else 0

    def pool_size(self) -> int:
        """Connections the pool keeps open (overflow comes on top)."""
        size = getattr(self.engine.pool, "size", None)
        return int(size()) if size else 0

    async def compact(self) -> None:
        """SQLite: rebuild the file and empty the write-ahead log, so rows rewritten to hide a
        secret leave no old copy in free pages. Nothing to do on PostgreSQL (see
        docs/security.md: ``VACUUM FULL``)."""
        if self.write_lock is None:
            return
        async with self.write_lock, self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            for statement in ("VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
                cursor = await driver.execute(statement)
                await cursor.close()


def create_database(
    url: URL, *, pool_size: int = 10, echo: bool = False, wait_seconds: float = 10.0
) -> Database:
    """Build the engine for ``url``; nothing connects until first use."""
    if url.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(url, pool_size, echo, wait_seconds)
        return Database(engine, wait_seconds=wait_seconds)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=wait_seconds,
        pool_pre_ping=True,
        echo=echo,
    )
    return Database(engine, wait_seconds=wait_seconds)


def _prepare_private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would make it 0644 less the
    umask); its -wal and -shm files take the database file's mode. Files of an older start
    that others may read are made 0600."""
    # The data directory warns about its mode (bootstrap); any other directory is the user's.
    private_directory(path.parent, warn_if_open=False)
    if not create_private_file(path):
        for suffix in ("", "-wal", "-shm"):
            tighten_file(path.with_name(path.name + suffix))


def _create_sqlite_engine(url: URL, pool_size: int, echo: bool, wait_seconds: float) -> AsyncEngine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        _prepare_private_sqlite_file(Path(url.database))
    # Every aiosqlite connection is a thread: keep them in the pool rather than opening and
    # closing overflow connections under load.
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=wait_seconds,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's own transaction handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
