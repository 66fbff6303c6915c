"""ThingsBoard's telemetry WebSocket commands and frames, without I/O.

A client message is a JSON object holding, in the classic form, ``tsSubCmds``, ``attrSubCmds``
and ``historyCmds`` lists, and in the newer form (``/api/ws``) an ``authCmd`` and a ``cmds``
list whose entries carry a ``type`` (``TIMESERIES``, ``ATTRIBUTES``, ``TIMESERIES_HISTORY``).
``parse_message`` turns it into commands; a command that cannot be served becomes a
``Rejected`` (answered with an error frame for its ``cmdId``), a message that is not a JSON
object raises ``GarbageMessage`` (the connection is closed with the reason).

Frames follow ThingsBoard's ``TelemetrySubscriptionUpdate``: ``{"subscriptionId", "errorCode",
"errorMsg", "data": {key: [[ts, "value"], ...]}, "latestValues": {key: ts}}``, values as
strings, as ThingsBoard's classic API sends them.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# ThingsBoard's SubscriptionErrorCode.
NO_ERROR = 0
INTERNAL_ERROR = 1
BAD_REQUEST = 2
UNAUTHORIZED = 3

# Largest client message (uvicorn closes the connection with 1009 beyond it).
MAX_MESSAGE_BYTES = 64 * 1024
# Commands one message may carry, and live subscriptions one connection may hold.
MAX_COMMANDS_PER_MESSAGE = 100
MAX_SUBSCRIPTIONS_PER_SESSION = 100
# Frames waiting for a client that does not read: past this, the connection is closed.
MAX_QUEUED_FRAMES = 1000
# Points per key a history command returns (default, and at most).
DEFAULT_HISTORY_LIMIT = 100
MAX_HISTORY_LIMIT = 10_000
MAX_TS = 2**63 - 1

SCOPES = ("CLIENT_SCOPE", "SHARED_SCOPE", "SERVER_SCOPE")
ENTITY_TYPE = "DEVICE"

Kind = Literal["TIMESERIES", "ATTRIBUTES"]


class GarbageMessage(Exception):
    """Not a JSON object: nothing in it can be answered command by command."""


@dataclass(frozen=True)
class Subscribe:
    """Follow an entity's latest telemetry or its attributes (``scope`` None: every scope)."""

    cmd_id: int
    kind: Kind
    entity_id: uuid.UUID
    keys: frozenset[str] | None = None
    scope: str | None = None

    def wants(self, key: str) -> bool:
        return self.keys is None or key in self.keys


@dataclass(frozen=True)
class History:
    """Stored points of ``keys`` between ``start_ts`` and ``end_ts`` (both inclusive)."""

    cmd_id: int
    entity_id: uuid.UUID
    keys: tuple[str, ...] | None
    start_ts: int
    end_ts: int
    limit: int = DEFAULT_HISTORY_LIMIT


@dataclass(frozen=True)
class Unsubscribe:
    cmd_id: int


@dataclass(frozen=True)
class Rejected:
    """A command that cannot be served: answered with an error frame, nothing else."""

    cmd_id: int
    error_code: int
    message: str


Command = Subscribe | History | Unsubscribe | Rejected


@dataclass(frozen=True)
class ClientMessage:
    """What one client message asks: an authentication token (``authCmd``), then commands."""

    token: str | None
    commands: tuple[Command, ...]


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def parse_message(raw: str | bytes) -> ClientMessage:
    """The commands in ``raw``; raises ``GarbageMessage`` when it is not a JSON object."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GarbageMessage("Message is not valid JSON") from None
    if not isinstance(data, dict):
        raise GarbageMessage("Message must be a JSON object")
    entries = list(_entries(data))
    commands: list[Command]
    if len(entries) > MAX_COMMANDS_PER_MESSAGE:
        message = f"At most {MAX_COMMANDS_PER_MESSAGE} commands per message"
        commands = [Rejected(_cmd_id(entry), BAD_REQUEST, message) for _, entry in entries]
    else:
        commands = [_command(kind, entry) for kind, entry in entries]
    return ClientMessage(_auth_token(data), tuple(commands))


_CLASSIC = {"tsSubCmds": "TIMESERIES", "attrSubCmds": "ATTRIBUTES", "historyCmds": "HISTORY"}
_NEWER = {"TIMESERIES": "TIMESERIES", "ATTRIBUTES": "ATTRIBUTES", "TIMESERIES_HISTORY": "HISTORY"}
# ThingsBoard's other command lists: each of their commands gets an "unsupported" error frame.
_UNSUPPORTED = (
    "entityDataCmds",
    "entityDataUnsubscribeCmds",
    "alarmDataCmds",
    "alarmDataUnsubscribeCmds",
    "entityCountCmds",
    "entityCountUnsubscribeCmds",
    "alarmCountCmds",
    "alarmCountUnsubscribeCmds",
)
# The kind of an entry that is not a list of commands where one is expected.
_NOT_A_LIST = "NOT_A_LIST"


def _entries(data: Mapping[str, Any]) -> Iterable[tuple[str | None, Any]]:
    """(kind, command) pairs of both forms; kind None for types not supported."""
    for name, kind in _CLASSIC.items():
        listed = data.get(name)
        if isinstance(listed, list):
            yield from ((kind, entry) for entry in listed)
        elif listed is not None:
            yield _NOT_A_LIST, name
    for name in _UNSUPPORTED:
        listed = data.get(name)
        if isinstance(listed, list):
            yield from ((None, entry) for entry in listed)
    cmds = data.get("cmds")
    if isinstance(cmds, list):
        for entry in cmds:
            cmd_type = entry.get("type") if isinstance(entry, dict) else None
            yield _NEWER.get(str(cmd_type)), entry
    elif cmds is not None:
        yield _NOT_A_LIST, "cmds"


def _auth_token(data: Mapping[str, Any]) -> str | None:
    auth = data.get("authCmd")
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    return None


def _cmd_id(entry: Any) -> int:
    if isinstance(entry, dict):
        value = entry.get("cmdId")
        if type(value) is int:
            return value
    return 0


def _command(kind: str | None, entry: Any) -> Command:
    cmd_id = _cmd_id(entry)
    try:
        if kind == _NOT_A_LIST:
            raise _Invalid(f"{entry} must be a list of commands")
        if kind is None:
            raise _Invalid(
                "Unsupported command type; use TIMESERIES, ATTRIBUTES or TIMESERIES_HISTORY"
            )
        if not isinstance(entry, dict):
            raise _Invalid("A command must be a JSON object")
        if type(entry.get("cmdId")) is not int:
            raise _Invalid("cmdId must be an integer")
        if entry.get("unsubscribe") is True and kind != "HISTORY":
            return Unsubscribe(cmd_id)
        if kind == "HISTORY":
            return _history(cmd_id, entry)
        return _subscribe(cmd_id, kind, entry)
    except _Invalid as problem:
        return Rejected(cmd_id, BAD_REQUEST, problem.message)


def _subscribe(cmd_id: int, kind: str, entry: Mapping[str, Any]) -> Subscribe:
    entity_id = _entity_id(entry)
    keys = _keys(entry.get("keys"))
    if kind == "TIMESERIES":
        scope = entry.get("scope")
        if scope not in (None, "LATEST_TELEMETRY"):
            raise _Invalid("Telemetry subscriptions support scope LATEST_TELEMETRY")
        return Subscribe(cmd_id, "TIMESERIES", entity_id, _key_set(keys))
    scope = entry.get("scope")
    if scope in (None, "", "ANY"):
        scope = None
    elif scope not in SCOPES:
        raise _Invalid(f"Invalid attribute scope; use one of {', '.join(SCOPES)}")
    return Subscribe(cmd_id, "ATTRIBUTES", entity_id, _key_set(keys), scope)


def _history(cmd_id: int, entry: Mapping[str, Any]) -> History:
    entity_id = _entity_id(entry)
    keys = _keys(entry.get("keys"))
    start_ts = _timestamp(entry, "startTs", 0)
    end_ts = _timestamp(entry, "endTs", MAX_TS)
    if start_ts > end_ts:
        raise _Invalid("startTs must not be after endTs")
    limit = entry.get("limit", DEFAULT_HISTORY_LIMIT)
    if type(limit) is not int or not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise _Invalid(f"limit must be an integer from 1 to {MAX_HISTORY_LIMIT}")
    if str(entry.get("agg") or "NONE").upper() != "NONE":
        raise _Invalid("Only agg NONE is supported")
    return History(cmd_id, entity_id, keys, start_ts, end_ts, limit)


def _entity_id(entry: Mapping[str, Any]) -> uuid.UUID:
    entity_type = entry.get("entityType", ENTITY_TYPE)
    if entity_type != ENTITY_TYPE:
        raise _Invalid("Only entityType DEVICE is supported")
    raw = entry.get("entityId")
    if isinstance(raw, dict):  # {"entityType", "id"} as in REST bodies
        raw = raw.get("id")
    if not isinstance(raw, str):
        raise _Invalid("entityId must be a UUID")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _Invalid("entityId must be a UUID") from None


def _keys(raw: Any) -> tuple[str, ...] | None:
    """``"a,b"`` or ``["a", "b"]``; None (every key) when missing or empty."""
    if raw is None:
        return None
    if isinstance(raw, str):
        parts = [part.strip() for part in raw.split(",")]
    elif isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        parts = [part.strip() for part in raw]
    else:
        raise _Invalid("keys must be a comma-separated string")
    keys = tuple(dict.fromkeys(part for part in parts if part))
    if any(len(key) > 255 for key in keys):
        raise _Invalid("A key is longer than 255 characters")
    return keys or None


def _key_set(keys: tuple[str, ...] | None) -> frozenset[str] | None:
    return frozenset(keys) if keys else None


def _timestamp(entry: Mapping[str, Any], name: str, default: int) -> int:
    value = entry.get(name, default)
    if value is None:
        return default
    if type(value) is not int or not 0 <= value <= MAX_TS:
        raise _Invalid(f"{name} must be epoch milliseconds")
    return value


# --- frames -------------------------------------------------------------------------------
Points = Mapping[str, list[tuple[int, Any]]]


def as_text(value: Any) -> str:
    """A value as ThingsBoard's ``getValueAsString``: ``"22.5"``, ``"true"``, JSON for
    objects and arrays."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def data_frame(subscription_id: int, points: Points) -> dict[str, Any]:
    """An update (or the first values) of ``subscription_id``: ``points`` by key, each as
    (ts, value) pairs."""
    data = {key: [[ts, as_text(value)] for ts, value in pairs] for key, pairs in points.items()}
    latest = {key: max(ts for ts, _ in pairs) for key, pairs in points.items() if pairs}
    return {
        "subscriptionId": subscription_id,
        "errorCode": NO_ERROR,
        "errorMsg": None,
        "data": data,
        "latestValues": latest,
    }


def update_text(subscription_id: int, points_json: str) -> str:
    """``data_frame`` as JSON text, from ``points_json`` (``points_text``) made once for every
    subscriber that follows the same keys: the fan-out encodes each update once, not once per
    subscriber."""
    return f'{{"subscriptionId":{subscription_id:d},"errorCode":0,"errorMsg":null,{points_json}}}'


def points_text(points: Points) -> str:
    """The ``"data": ..., "latestValues": ...`` members of a data frame, as JSON text."""
    frame = data_frame(0, points)
    return encode({"data": frame["data"], "latestValues": frame["latestValues"]})[1:-1]


def error_frame(subscription_id: int, error_code: int, message: str) -> dict[str, Any]:
    return {
        "subscriptionId": subscription_id,
        "errorCode": error_code,
        "errorMsg": message,
        "data": None,
        "latestValues": {},
    }


def encode(frame: Mapping[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def group_points(
    rows: Iterable[tuple[str, int, Any]], wants: Subscribe | None = None
) -> dict[str, list[tuple[int, Any]]]:
    """(key, ts, value) rows as ``Points``, only the keys ``wants`` follows."""
    points: dict[str, list[tuple[int, Any]]] = {}
    for key, ts, value in rows:
        if wants is None or wants.wants(key):
            points.setdefault(key, []).append((ts, value))
    return points
