"""Telemetry rules (pure): the payload forms devices send, read queries, how values render.

Devices send ThingsBoard's forms: ``{"t": 22.5}`` (timestamped now), ``{"ts": <ms>, "values":
{...}}``, or a JSON array of either (tb-mqtt-client always sends an array). Values keep their
JSON type; objects and arrays are stored as JSON, as ThingsBoard does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gridlinks.errors import BadRequestError
from gridlinks.kit.jsonvalue import json_value_problem, parse_json

KEY_MAX_LENGTH = 255
MAX_POINTS_PER_MESSAGE = 10_000
# Timestamps are stored as BIGINT: anything larger would fail the whole write batch.
MAX_TS = 2**63 - 1
DEFAULT_READ_LIMIT = 100
MAX_READ_LIMIT = 10_000
TS_FORM_KEYS = frozenset({"ts", "values", "metadata"})

# Compact JSON, as ``kit.jsonvalue.dump_json`` writes it, with the encoder built once: it runs
# for every stored point.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

EXPECTED_FORMS = (
    'expected a JSON object {"key": value}, {"ts": <epoch ms>, "values": {"key": value}}, '
    "or a JSON array of these"
)


@dataclass(frozen=True, slots=True)
class DataPoint:
    """One value of one key at one time (epoch milliseconds)."""

    key: str
    ts: int
    value: Any


@dataclass(frozen=True)
class RangeQuery:
    """A time range read: ``start_ts`` and ``end_ts`` both inclusive, ``limit`` per key."""

    keys: list[str] | None
    start_ts: int
    end_ts: int
    limit: int = DEFAULT_READ_LIMIT
    newest_first: bool = True


def parse_telemetry(payload: Any, now_ms: int) -> list[DataPoint]:
    """The data points of a parsed telemetry payload; points without a ``ts`` get ``now_ms``.

    Raises ``BadRequestError`` (never echoing keys or values) for anything that is not one of
    the accepted forms. ``{}`` is valid and yields no points (clients send it as a probe); JSON
    ``null`` values are skipped, as ThingsBoard does."""
    problem = json_value_problem(payload)
    if problem:
        raise BadRequestError(f"{problem} in telemetry")
    return _points_of(payload, now_ms)


def parse_telemetry_bytes(raw: bytes, now_ms: int) -> list[DataPoint]:
    """``parse_telemetry`` for the raw body or MQTT payload (JSON text)."""
    return _points_of(parse_json(raw, what="telemetry"), now_ms)


def _points_of(payload: Any, now_ms: int) -> list[DataPoint]:
    entries = payload if isinstance(payload, list) else (payload,)
    points: list[DataPoint] = []
    for entry in entries:
        ts, values = _entry_parts(entry, now_ms)
        _append_points(points, ts, values)
        if len(points) > MAX_POINTS_PER_MESSAGE:
            raise BadRequestError(
                f"Too many data points in one message (at most {MAX_POINTS_PER_MESSAGE})"
            )
    return points


def _entry_parts(entry: Any, now_ms: int) -> tuple[int, dict[str, Any]]:
    """``(ts, values)`` of one entry: the timestamped form when it has ``ts`` and ``values``
    (as ThingsBoard decides), else a flat ``{key: value}`` object stamped ``now_ms``."""
    if not isinstance(entry, dict):
        raise BadRequestError(f"Invalid telemetry: {EXPECTED_FORMS}")
    if "ts" not in entry or "values" not in entry:
        return now_ms, entry
    if not entry.keys() <= TS_FORM_KEYS:
        raise BadRequestError('Invalid telemetry: a timestamped entry has only "ts", "values"')
    ts, values = entry["ts"], entry["values"]
    if type(ts) is not int or not 0 <= ts <= MAX_TS:
        raise BadRequestError('Invalid telemetry: "ts" must be a non-negative integer (epoch ms)')
    if not isinstance(values, dict):
        raise BadRequestError('Invalid telemetry: "values" must be a JSON object {"key": value}')
    return ts, values


def _append_points(points: list[DataPoint], ts: int, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if not 0 < len(key) <= KEY_MAX_LENGTH or key.isspace():
            raise BadRequestError(
                f"Invalid telemetry: keys must be 1 to {KEY_MAX_LENGTH} characters and not blank"
            )
        if value is not None:
            points.append(DataPoint(key, ts, value))


def parse_keys(keys: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; missing or empty -> ``None`` (all keys)."""
    if not keys:
        return None
    parsed = [k.strip() for k in keys.split(",") if k.strip()]
    return parsed or None


def range_query(
    keys: list[str] | None, start_ts: int, end_ts: int, limit: int, order_by: str
) -> RangeQuery:
    """A validated ``RangeQuery`` from the REST parameters; ``BadRequestError`` otherwise."""
    if start_ts < 0 or end_ts < 0:
        raise BadRequestError("startTs and endTs must be non-negative epoch milliseconds")
    if start_ts > end_ts:
        raise BadRequestError("startTs must not be after endTs")
    if not 1 <= limit <= MAX_READ_LIMIT:
        raise BadRequestError(f"limit must be between 1 and {MAX_READ_LIMIT}")
    order = order_by.upper()
    if order not in ("ASC", "DESC"):
        raise BadRequestError("orderBy must be ASC or DESC")
    return RangeQuery(keys, start_ts, end_ts, limit, newest_first=order == "DESC")


def value_json(value: Any) -> str:
    """A value as stored: compact JSON text, so ``true`` and ``"true"`` stay different."""
    kind = type(value)
    if kind is float or kind is int:
        return repr(value)  # what ``json`` writes for them, without its overhead
    return _encode_json(value)


def value_as_text(value: Any) -> str:
    """ThingsBoard's default rendering: every value as a string (``"22.5"``, ``"true"``, JSON
    objects and arrays as compact JSON text)."""
    if isinstance(value, str):
        return value
    return value_json(value)


def timeseries_json(
    points: Iterable[DataPoint], *, strict_types: bool
) -> dict[str, list[dict[str, Any]]]:
    """``{key: [{"ts", "value"}, ...]}`` in the order given; values as strings unless
    ``strict_types`` (``useStrictDataTypes=true``)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        value = point.value if strict_types else value_as_text(point.value)
        result.setdefault(point.key, []).append({"ts": point.ts, "value": value})
    return result
