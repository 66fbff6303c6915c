"""A device waiting for one message (HTTP long-poll, later CoAP observe): a ``DeviceLink`` that
takes one message of its kind, registered only while someone waits.

A poll holds no database connection while it waits; it ends with the message, at its timeout,
when the client goes away, or when the device's access ends (``CloseConnection``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from gridlinks.delivery.messages import CloseConnection, RpcCall, ToDevice
from gridlinks.errors import BadRequestError

RPC = "rpc"
ATTRIBUTES = "attributes"
# ThingsBoard's HTTP transport: 0 or none means its default (transport.http.request_timeout).
DEFAULT_POLL_TIMEOUT_MS = 60_000
MAX_POLL_TIMEOUT_MS = 300_000  # ThingsBoard's transport.http.max_request_timeout default


def poll_timeout_seconds(value: str | None) -> float:
    """``timeout`` in ms from the query string -> seconds; 0 or missing -> the default;
    anything not an integer in 0..MAX -> 400."""
    if value is None or value.strip() == "":
        return DEFAULT_POLL_TIMEOUT_MS / 1000
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) > MAX_POLL_TIMEOUT_MS:
        raise BadRequestError(
            f"timeout must be a whole number of milliseconds from 0 to {MAX_POLL_TIMEOUT_MS}"
        )
    milliseconds = int(text)
    return (milliseconds or DEFAULT_POLL_TIMEOUT_MS) / 1000


class PollLink:
    """Takes the first message of ``kind`` (``"rpc"`` or ``"attributes"``), or a close."""

    __slots__ = ("_kind", "_now_ms", "answer")

    def __init__(self, kind: str, now_ms: Callable[[], int]) -> None:
        self._kind = kind
        self._now_ms = now_ms
        self.answer: asyncio.Future[ToDevice] = asyncio.get_running_loop().create_future()

    def deliver(self, message: ToDevice) -> bool:
        if self.answer.done():
            return False
        if isinstance(message, CloseConnection):
            self.answer.set_result(message)
            return True
        if message.kind != self._kind:
            return False
        if (
            isinstance(message, RpcCall)
            and message.expires_at
            and message.expires_at < self._now_ms()
        ):
            return False
        self.answer.set_result(message)
        return True


async def wait_for_answer(
    link: PollLink, timeout_seconds: float, client_gone: Awaitable[None] | None
) -> ToDevice | None:
    """The message ``link`` took, or None at the timeout or when the client went away."""
    gone = asyncio.ensure_future(client_gone) if client_gone is not None else None
    waiting: set[asyncio.Future[Any]] = {link.answer}
    if gone is not None:
        waiting.add(gone)
    try:
        await asyncio.wait(waiting, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if gone is not None:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await gone
    if link.answer.done():
        return link.answer.result()
    link.answer.cancel()  # the link takes nothing more, even before it is removed
    return None
