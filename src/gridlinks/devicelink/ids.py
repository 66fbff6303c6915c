"""Request ids as devices write them in topics and paths."""

from __future__ import annotations

MAX_REQUEST_ID = 2**31 - 1


def request_id_from_text(text: str) -> int | None:
    """``"42"`` -> 42; None for anything but ASCII digits up to ``MAX_REQUEST_ID``."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number <= MAX_REQUEST_ID else None
