"""Entity ids: UUIDs, ThingsBoard's null UUID and the ``{"entityType", "id"}`` objects."""

from __future__ import annotations

import uuid
from typing import Any

from gridlinks.errors import BadRequestError

NULL_UUID = uuid.UUID("13814000-1dd2-11b2-8080-808080808080")


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def parse_uuid(text: str, what: str = "id") -> uuid.UUID:
    """Parse a UUID from a path or body; a malformed one is the client's mistake (400)."""
    try:
        return uuid.UUID(str(text))
    except ValueError:
        raise BadRequestError(f"Invalid UUID string for {what}: {str(text)[:64]!r}") from None


def entity_id(entity_type: str, value: uuid.UUID | None) -> dict[str, Any]:
    """ThingsBoard id object; ``None`` becomes the null UUID."""
    return {"entityType": entity_type, "id": str(value or NULL_UUID)}


def optional_uuid(value: uuid.UUID | None) -> uuid.UUID | None:
    """Treat ThingsBoard's null UUID as "none"."""
    return None if value is None or value == NULL_UUID else value
