"""JSON text in and out, with errors that say what was wrong but never echo the input.

Parsed values are also checked for what JSON allows but storage and rendering do not: ``NaN``
and infinite numbers (not JSON by RFC 8259; PostgreSQL's ``json`` type refuses them), NUL
characters (PostgreSQL text cannot hold them), lone surrogates (cannot be encoded as UTF-8) and
nesting deep enough to exhaust Python's recursion limit.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gridlinks.errors import BadRequestError

MAX_JSON_DEPTH = 64
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def parse_json(raw: bytes | str, what: str = "request body") -> Any:
    """Parse JSON or raise ``BadRequestError`` naming ``what`` and the position."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequestError(f"JSON in {what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        position = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequestError(f"Invalid JSON in {what}{position}") from None
    problem = json_value_problem(value)
    if problem:
        raise BadRequestError(f"{problem} in {what}")
    return value


def json_value_problem(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored and sent back, or ``None``."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str) and _UNSTORABLE_TEXT.search(item):
            return "Text with NUL characters or lone surrogates"
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` (a path or query value) cannot be stored, or ``None``."""
    if _UNSTORABLE_TEXT.search(text):
        return "Text with NUL characters or lone surrogates"
    return None


def dump_json(value: Any) -> str:
    """Compact JSON text (what the database stores for attribute values)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number
