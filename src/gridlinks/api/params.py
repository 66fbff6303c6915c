"""Integer query parameters with their ranges, declared once.

Python integers have no size, but the database's do: a value past 64 bits reaching a query is a
driver error (a 500), not the client's mistake it is. Every integer parameter therefore states
its range here; FastAPI checks it before any query runs (a 400 with errorCode 31, like any other
bad parameter) and the OpenAPI document shows it as ``minimum``/``maximum``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from gridlinks.kit.pagination import MAX_PAGE, MAX_PAGE_SIZE

# A comma-separated key list (``keys=a,b``). The HTTP server refuses request targets over 64 KiB
# before the app sees them; this many characters fit even when each is percent-encoded UTF-8
# (up to 12 bytes), so a request the document calls valid is never refused by the transport.
KEY_LIST_MAX_LENGTH = 4096
# Epoch milliseconds are stored as BIGINT (a Java long in ThingsBoard).
MAX_EPOCH_MS = 2**63 - 1


# Path words such as DEVICE or SERVER_SCOPE: short, so a long one is refused before any lookup.
EntityTypePath = Annotated[str, Path(max_length=32, description="e.g. DEVICE")]
ScopePath = Annotated[str, Path(max_length=32, description="e.g. SERVER_SCOPE")]


def page_size_query(**kwargs: Any) -> Any:
    return Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE, **kwargs)


def page_query(**kwargs: Any) -> Any:
    return Query(ge=0, le=MAX_PAGE, **kwargs)


def epoch_ms_query(alias: str, description: str | None = None) -> Any:
    """A point in time: milliseconds since the epoch, never negative."""
    return Query(alias=alias, ge=0, le=MAX_EPOCH_MS, description=description)


def bounded_int_query(minimum: int, maximum: int, **kwargs: Any) -> Any:
    return Query(ge=minimum, le=maximum, **kwargs)
