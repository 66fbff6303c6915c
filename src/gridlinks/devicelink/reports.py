"""Reports to the ``DeviceRpcEvents`` port from code that cannot wait (a link's synchronous
``deliver``, a subscription being granted): each runs as a task of its own, kept until done,
and a failure is logged, never raised into the transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger("gridlinks.devicelink")


class BackgroundReports:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, report: Awaitable[None], what: str) -> None:
        task = asyncio.ensure_future(self._run(report, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run(report: Awaitable[None], what: str) -> None:
        try:
            await report
        except Exception:
            log.exception("reporting %s failed", what)

    async def close(self) -> None:
        """Let the reports under way finish (the platform is stopping)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
