"""Attribute rules (pure): scopes, key limits, JSON types kept as given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SERVER_SCOPE = "SERVER_SCOPE"
SHARED_SCOPE = "SHARED_SCOPE"
CLIENT_SCOPE = "CLIENT_SCOPE"
SCOPES = (CLIENT_SCOPE, SHARED_SCOPE, SERVER_SCOPE)
# Users write SERVER and SHARED attributes; CLIENT attributes come from the device.
USER_WRITABLE_SCOPES = frozenset({SERVER_SCOPE, SHARED_SCOPE})
KEY_MAX_LENGTH = 255
MAX_KEYS_PER_WRITE = 1000


@dataclass(frozen=True)
class AttributeValue:
    scope: str
    key: str
    value: Any
    last_update_ts: int


def scope_problem(scope: str, *, for_write: bool) -> str | None:
    """Why ``scope`` is not acceptable here, or ``None``."""
    if scope not in SCOPES:
        return f"Invalid attribute scope; use one of {', '.join(SCOPES)}"
    if for_write and scope not in USER_WRITABLE_SCOPES:
        return "Only SERVER_SCOPE and SHARED_SCOPE attributes can be written through the REST API"
    return None


def values_problem(values: Any) -> str | None:
    """Why a write body is not a ``{key: json value}`` object, or ``None``."""
    if not isinstance(values, dict):
        return "Attributes must be a JSON object {key: value}"
    if len(values) > MAX_KEYS_PER_WRITE:
        return f"At most {MAX_KEYS_PER_WRITE} attributes per request"
    for key in values:
        if not key.strip() or len(key) > KEY_MAX_LENGTH:
            return f"Attribute keys must be 1 to {KEY_MAX_LENGTH} characters and not blank"
    return None


def parse_keys(keys: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; missing or empty -> ``None`` (all keys)."""
    if not keys:
        return None
    parsed = [k.strip() for k in keys.split(",") if k.strip()]
    return parsed or None


def attribute_json(attribute: AttributeValue) -> dict[str, Any]:
    return {
        "lastUpdateTs": attribute.last_update_ts,
        "key": attribute.key,
        "value": attribute.value,
    }
