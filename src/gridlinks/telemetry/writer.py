"""Batched, durable telemetry writes shared by every device connection (MQTT and HTTP).

Committing each message on its own would cap a node at a few hundred messages a second (one
transaction, and on SQLite one turn of the single writer, each). ``TelemetryWriter`` queues the
points of every caller and one flusher task stores them in one transaction when
``max_batch_points`` are pending or ``max_delay_ms`` after the first pending write, whichever
comes first. ``write`` returns only once its points are committed, so a transport may
acknowledge them then (MQTT PUBACK, HTTP 200); a failed batch fails every write in it, and the
flusher carries on with the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa

from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import ServiceUnavailableError
from gridlinks.kit.metrics import Metrics
from gridlinks.telemetry.domain import DataPoint
from gridlinks.telemetry.repository import Row
from gridlinks.telemetry.service import TelemetryService

log = logging.getLogger("gridlinks.telemetry")

# One queued write: its rows (already in stored form) and the future its caller awaits.
_Write = tuple[list[Row], asyncio.Future[None]]
_FAILED = "Telemetry could not be stored; try again later"
# Told about every committed batch (bootstrap publishes ``TelemetryStored`` on the bus).
OnStored = Callable[[Sequence[Row]], Awaitable[None]]


class TelemetryWriter:
    """``await writer.write(device_id, points)`` returns once the points are committed.

    ``start()`` starts the flusher (``write`` starts it too when needed); ``close()`` stores
    what is pending, then stops it. Writes after ``close()`` are refused."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        telemetry: TelemetryService,
        *,
        max_batch_points: int = 5000,
        max_delay_ms: float = 5.0,
        metrics: Metrics | None = None,
        on_stored: OnStored | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._on_stored = on_stored
        self._notifying: set[asyncio.Task[None]] = set()
        self._telemetry = telemetry
        self._max_batch_points = max_batch_points
        self._max_delay_seconds = max_delay_ms / 1000
        self._pending: list[_Write] = []
        self._pending_points = 0
        self._ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        metrics = metrics or Metrics()
        self._batch_points = metrics.telemetry_batch_points
        self._commit_duration = metrics.telemetry_commit_duration
        self._stored = metrics.telemetry_batches.labels("stored")
        self._failed = metrics.telemetry_batches.labels("failed")

    async def start(self) -> None:
        """Start the flusher task on the running loop (idempotent; restarts a cancelled one)."""
        if (self._task is None or self._task.done()) and not self._closed:
            self._task = asyncio.create_task(self._run(), name="telemetry-writer")

    async def write(self, entity_id: uuid.UUID, points: Sequence[DataPoint]) -> None:
        """Queue ``points`` of ``entity_id``; return when the batch holding them is committed.

        Raises ``ServiceUnavailableError`` when the batch could not be stored, or when the
        writer is closed. No points: returns at once."""
        if not points:
            return
        if self._closed:
            raise ServiceUnavailableError("Telemetry writer is closed")
        if self._task is None or self._task.done():
            await self.start()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((self._telemetry.rows_of(entity_id, points), future))
        self._pending_points += len(points)
        if self._pending_points >= self._max_batch_points:
            self._flush_soon()
        elif len(self._pending) == 1:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._max_delay_seconds, self._ready.set)
        await future

    async def close(self) -> None:
        """Store every pending write, then stop the flusher."""
        self._closed = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        self._flush_soon()
        await task
        if self._notifying:
            await asyncio.gather(*self._notifying, return_exceptions=True)

    def _flush_soon(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ready.set()

    async def _run(self) -> None:
        batch: list[_Write] = []
        try:
            while not (self._closed and not self._pending):
                await self._ready.wait()
                batch = self._take_batch()
                if batch:
                    await self._flush(batch)
        finally:
            # Only reached early when the task is cancelled: nobody may wait forever.
            _fail_waiting([*batch, *self._pending], ServiceUnavailableError(_FAILED))
            self._pending.clear()

    def _take_batch(self) -> list[_Write]:
        """Whole writes up to ``max_batch_points`` (at least one); what is left is flushed
        right after, since it has already waited for this flush."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        count, points = 0, 0
        for rows, _ in self._pending:
            if count and points + len(rows) > self._max_batch_points:
                break
            count += 1
            points += len(rows)
        batch, self._pending = self._pending[:count], self._pending[count:]
        self._pending_points -= points
        if not self._pending and not self._closed:
            self._ready.clear()
        return batch

    async def _flush(self, batch: list[_Write]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        self._batch_points.observe(len(rows))
        started = time.perf_counter()
        try:
            async with self._unit_of_work() as uow:
                await self._telemetry.save_rows(uow, rows)
                await uow.commit()
        except Exception as exc:
            self._failed.inc()
            log.error(
                "telemetry batch of %d points from %d writes was not stored: %s",
                len(rows),
                len(batch),
                _describe(exc),
            )
            _fail_waiting(batch, exc)
            return
        self._commit_duration.observe(time.perf_counter() - started)
        self._stored.inc()
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._on_stored is not None:
            # Beside the flusher: live subscribers must not slow the next batch down.
            task = asyncio.create_task(self._notify(self._on_stored, rows))
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)

    async def _notify(self, on_stored: OnStored, rows: Sequence[Row]) -> None:
        try:
            await on_stored(rows)
        except Exception:
            log.exception("telemetry listeners failed for a batch of %d points", len(rows))


def _fail_waiting(batch: Sequence[_Write], cause: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            error = ServiceUnavailableError(_FAILED)
            error.__cause__ = cause
            future.set_exception(error)


def _describe(exc: BaseException) -> str:
    """The error's class and first line, without SQL parameters (they hold device values)."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        exc = exc.orig
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
