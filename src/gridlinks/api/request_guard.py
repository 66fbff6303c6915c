"""Slow and stalled clients cost a socket, never a database connection.

Two guards, one per stage of a request:

- ``head_timeout_protocol``: uvicorn's HTTP protocol with a deadline for the request head. A
  connection that opens and sends nothing, or trickles its headers (slowloris), is closed once
  ``header_timeout_seconds`` have passed; uvicorn itself only times out idle keep-alive
  connections between requests.
- ``BodyFirstMiddleware``: reads the whole body before the application runs, bounded in size
  and in time. Dependencies (the unit of work, its pooled connection and SQLite's write lock)
  are therefore only taken for a request that has fully arrived; a body that stalls is answered
  408 and its connection closed, an oversized one 413.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gridlinks.api.errors import error_response


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class BodyFirstMiddleware:
    """Buffer each HTTP request body (at most ``max_body_bytes``, within ``timeout_seconds``)
    and hand the application a receive channel that replays it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await self._refuse(scope, receive, send, 413, self._too_large_message())
            return
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.timeout_seconds)
        except TimeoutError:
            message = (
                f"Request timed out: the body did not arrive within {self.timeout_seconds:g} s"
            )
            await self._refuse(scope, receive, send, 408, message)
            return
        except _BodyTooLarge:
            await self._refuse(scope, receive, send, 413, self._too_large_message())
            return
        except _ClientGone:
            return
        await self.app(scope, _replay(body, receive), send)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return value.isdigit() and int(value) > self.max_body_bytes
        return False

    def _too_large_message(self) -> str:
        return f"Request body is larger than {self.max_body_bytes} bytes"

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
        """Answer ``status`` and close the connection: the rest of the body is not read."""
        response = error_response(status, text, 31, headers={"Connection": "close"})
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives ``body`` once, then waits on the real one (disconnect)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# Largest request head (request line and headers) accepted; h11's default is 16 KiB.
MAX_HEAD_BYTES = 64 * 1024
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


def head_timeout_protocol(header_timeout_seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing connections whose request head does not arrive
    within ``header_timeout_seconds`` (counted from the connection's opening, and from the
    first byte of each further request on a kept-alive connection), or grows past
    ``MAX_HEAD_BYTES``."""

    class HeadTimeoutProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is not None:
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._cancel_head_timer()
                    self.transport.write(_HEAD_TOO_LARGE)
                    self.transport.close()
                    return
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_head_timer()

        def on_headers_complete(self) -> None:
            self._cancel_head_timer()
            super().on_headers_complete()

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(header_timeout_seconds, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutProtocol
