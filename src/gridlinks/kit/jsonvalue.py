"""JSON text in and out, with errors that say what was wrong but never echo the input."""

from __future__ import annotations

import json
from typing import Any

from gridlinks.errors import BadRequestError


def parse_json(raw: bytes | str, what: str = "request body") -> Any:
    """Parse JSON or raise ``BadRequestError`` naming ``what`` and the position."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        position = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequestError(f"Invalid JSON in {what}{position}") from None


def dump_json(value: Any) -> str:
    """Compact JSON text (what the database stores for attribute values)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
