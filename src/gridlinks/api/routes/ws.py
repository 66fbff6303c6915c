"""ThingsBoard's telemetry WebSocket: ``/api/ws/plugins/telemetry?token=JWT`` and ``/api/ws``
(first message ``{"authCmd": {"cmdId": 0, "token": JWT}, "cmds": [...]}``).

The connection is a thin adapter over ``LiveService``: a reader turns client messages into
commands, a writer drains the session's send queue. Authentication failures close with 1008
and the error's message (the token is never echoed or logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gridlinks.accounts.domain import Principal
from gridlinks.bootstrap import Platform
from gridlinks.errors import AuthenticationError, GridLinksError
from gridlinks.live.domain import MAX_MESSAGE_BYTES, ClientMessage, GarbageMessage, parse_message
from gridlinks.live.service import LiveService
from gridlinks.live.session import CLOSE_POLICY_VIOLATION, Ending, LiveSession

log = logging.getLogger("gridlinks.live")

# How long ``/api/ws`` waits for the first message with its ``authCmd``.
AUTH_TIMEOUT_SECONDS = 10.0
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


async def telemetry_websocket(websocket: WebSocket) -> None:
    """One live connection: authenticate, then serve commands and updates until either side
    closes; its subscriptions end with it."""
    platform: Platform = websocket.app.state.platform
    live = platform.live
    await websocket.accept()
    try:
        token, first = await _credentials(websocket)
        principal = await _authenticate(live, token)
    except _Closed as closed:
        await _close(websocket, closed.code, closed.reason)
        return
    session = live.open_session(principal, token)
    log.info("live session opened user=%s", principal.user_id)
    try:
        if first is not None:
            await live.handle(session, first)
        await _serve(websocket, live, session)
    finally:
        live.close_session(session)
        log.info("live session closed user=%s", principal.user_id)


# Plain Starlette routes: the app's HTTP dependencies (which take a ``Request``) do not apply
# to a WebSocket, and everything they check is checked here.
routes = [
    WebSocketRoute("/api/ws/plugins/telemetry", telemetry_websocket),
    WebSocketRoute("/api/ws", telemetry_websocket),
]


async def _credentials(websocket: WebSocket) -> tuple[str, ClientMessage | None]:
    """The token of the query string, else of the first message's ``authCmd`` (with the
    commands that came along)."""
    token = websocket.query_params.get("token")
    if token:
        return token, None
    try:
        text = await asyncio.wait_for(_receive_text(websocket), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        raise _Closed(CLOSE_POLICY_VIOLATION, "Authentication timed out") from None
    if text is None:
        raise _Closed(1000, "")
    try:
        message = parse_message(text)
    except GarbageMessage as garbage:
        raise _Closed(CLOSE_POLICY_VIOLATION, str(garbage)) from None
    if message.token is None:
        raise _Closed(CLOSE_POLICY_VIOLATION, "Send authCmd with a JWT token first")
    return message.token, message


async def _authenticate(live: LiveService, token: str) -> Principal:
    try:
        return await live.authenticate(token)
    except AuthenticationError as exc:
        raise _Closed(CLOSE_POLICY_VIOLATION, exc.message) from None
    except GridLinksError as exc:  # the database is down: try again later
        raise _Closed(1013, exc.message) from None


async def _serve(websocket: WebSocket, live: LiveService, session: LiveSession) -> None:
    """Read and write until either side ends; then close. A client too slow to read its
    frames is dropped at once: the writer may be stuck behind them, and returning lets uvicorn
    close the transport."""
    reader = asyncio.create_task(_read(websocket, live, session))
    writer = asyncio.create_task(_write(websocket, session))
    dropped = asyncio.create_task(session.dropped.wait())
    tasks: tuple[asyncio.Task[Any], ...] = (reader, writer, dropped)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if dropped in done:
        log.warning("live session dropped: client too slow user=%s", session.principal.user_id)
        return
    for task in done:
        failure = None if task.cancelled() else task.exception()
        if isinstance(failure, _Closed):
            await _close(websocket, failure.code, failure.reason)
        elif failure is not None:
            log.error("live session failed", exc_info=failure)
            await _close(websocket, CLOSE_INTERNAL_ERROR, "Internal error")


async def _read(websocket: WebSocket, live: LiveService, session: LiveSession) -> None:
    while True:
        text = await _receive_text(websocket)
        if text is None:
            return
        try:
            message = parse_message(text)
        except GarbageMessage as garbage:
            raise _Closed(CLOSE_POLICY_VIOLATION, str(garbage)) from None
        await live.handle(session, message)


async def _write(websocket: WebSocket, session: LiveSession) -> None:
    while True:
        frame = await session.next_frame()
        if isinstance(frame, Ending):
            raise _Closed(frame.code, frame.reason)
        await websocket.send_text(frame)


async def _receive_text(websocket: WebSocket) -> str | None:
    """The next text (or UTF-8 bytes) message; None when the client has gone."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    raw = message.get("text")
    if raw is None:
        data = message.get("bytes") or b""
        if len(data) > MAX_MESSAGE_BYTES:
            raise _Closed(CLOSE_MESSAGE_TOO_BIG, "Message too big")
        try:
            raw = data.decode()
        except UnicodeDecodeError:
            raise _Closed(CLOSE_POLICY_VIOLATION, "Message is not UTF-8 text") from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise _Closed(CLOSE_MESSAGE_TOO_BIG, "Message too big")
    return str(raw)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.close(code, reason)
