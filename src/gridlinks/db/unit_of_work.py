"""One unit of work per HTTP request, MQTT message or CLI step.

It opens a connection and a transaction; ``commit()`` makes the work durable and then runs the
after-commit callbacks (events for the bus). Leaving the block without ``commit()`` rolls back,
so a failure anywhere loses nothing half-done. A constraint violation that reaches the
database (two transactions passed the same uniqueness check at once) leaves as ``ConflictError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.db.engine import WRITE_OPTION, Database
from gridlinks.errors import ConflictError, ServiceUnavailableError

AfterCommit = Callable[[], Awaitable[None]]
_BUSY = "The server is busy (no database connection free); retry in a few seconds"
_UNREACHABLE = "The database is unavailable; retry in a few seconds"
log = logging.getLogger("gridlinks.db")


class UnitOfWork:
    """``async with UnitOfWork(db) as uow: ...; await uow.commit()``."""

    def __init__(self, database: Database, *, write: bool = True) -> None:
        self._database = database
        self._write = write
        self._connection: AsyncConnection | None = None
        self._after_commit: list[AfterCommit] = []
        self._holds_lock = False
        self.committed = False

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._connection

    async def __aenter__(self) -> UnitOfWork:
        """Take the SQLite write lock (writes) and a pooled connection, each within the
        database's wait bound; past it the work is refused with ``ServiceUnavailableError``."""
        lock = self._database.write_lock
        if self._write and lock is not None:
            try:
                await asyncio.wait_for(lock.acquire(), self._database.wait_seconds)
            except TimeoutError:
                raise ServiceUnavailableError(_BUSY) from None
            self._holds_lock = True
        try:
            connection = await self._open_uncancelled()
        except sa.exc.TimeoutError:
            self._release_lock()
            raise ServiceUnavailableError(_BUSY) from None
        except (sa.exc.DBAPIError, OSError) as refused:
            # The database refused or could not take the connection (down, "too many
            # clients", file not openable): the client may retry, it did nothing wrong.
            self._release_lock()
            log.warning("database connection failed: %s", _reason(refused))
            raise ServiceUnavailableError(_UNREACHABLE) from None
        except BaseException:
            self._release_lock()
            raise
        self._connection = connection
        return self

    async def _open_uncancelled(self) -> AsyncConnection:
        """Open the connection and its transaction in a task of its own that a cancellation
        does not cut short: cancelled inside the driver's connect, aiosqlite could leave the
        caller waiting forever. A cancelled caller waits for the opening to end (bounded by
        the pool's wait), gives the connection back, then leaves as cancelled."""
        opening = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await (await opening).close()
            raise

    async def _open(self) -> AsyncConnection:
        connection = await self._database.engine.connect()
        try:
            if self._write:
                connection = await connection.execution_options(**{WRITE_OPTION: True})
            await connection.begin()
        except BaseException:
            await connection.close()
            raise
        return connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._connection is not None:
                # Shielded: a cancelled request or task must not cut the rollback and the
                # return of the connection to the pool short (the pool would log an error and
                # drop the connection).
                await asyncio.shield(self._finish(self._connection))
        finally:
            self._connection = None
            self._release_lock()
        if isinstance(exc, sa.exc.IntegrityError):
            raise ConflictError("The item clashes with an existing one") from exc

    async def _finish(self, connection: AsyncConnection) -> None:
        if not self.committed:
            await connection.rollback()
        await connection.close()

    async def commit(self) -> None:
        """Commit, release the SQLite write lock, then run after-commit callbacks. A database
        lost at the commit is ``ServiceUnavailableError`` (nothing is known to be stored)."""
        try:
            await self.connection.commit()
        except sa.exc.DBAPIError as failed:
            if not _lost(failed):
                raise
            log.warning("database commit failed: %s", _reason(failed))
            raise ServiceUnavailableError(_UNREACHABLE) from None
        self.committed = True
        self._release_lock()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            await callback()

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` only once the work is committed (events reach the bus then)."""
        self._after_commit.append(callback)

    def _release_lock(self) -> None:
        if self._holds_lock and self._database.write_lock is not None:
            self._database.write_lock.release()
            self._holds_lock = False


def _lost(error: sa.exc.DBAPIError) -> bool:
    """The connection or the database went away (not a clash the client caused)."""
    if isinstance(error, sa.exc.IntegrityError):
        return False
    return error.connection_invalidated or isinstance(
        error, sa.exc.OperationalError | sa.exc.InterfaceError
    )


def _reason(error: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's SQL and parameters echo."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"[:200]
