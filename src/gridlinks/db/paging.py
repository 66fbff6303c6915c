"""Run a ThingsBoard-style page query: text search, sort, offset/limit and the total count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.pagination import PageRequest


async def fetch_page(
    connection: AsyncConnection,
    query: sa.Select[tuple[object, ...]],
    request: PageRequest,
    *,
    search_column: sa.ColumnElement[str],
    sort_columns: Mapping[str, sa.ColumnElement[object]],
    default_sort: str,
    tiebreak: sa.ColumnElement[object] | None = None,
) -> tuple[Sequence[sa.Row[tuple[object, ...]]], int]:
    """Rows of the requested page and the number of rows matching overall."""
    if request.text_search:
        # ThingsBoard's textSearch is a case-insensitive "starts with".
        pattern = _escape_like(request.text_search.lower()) + "%"
        query = query.where(sa.func.lower(search_column).like(pattern, escape="\\"))
    sort_key = request.sort_property or default_sort
    if sort_key not in sort_columns:
        allowed = ", ".join(sorted(sort_columns))
        raise InvalidArgumentError(f"sortProperty must be one of: {allowed}")
    column = sort_columns[sort_key]
    total_query = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    total = int((await connection.execute(total_query)).scalar_one())
    ordered = query.order_by(column.asc() if request.sort_ascending else column.desc())
    if tiebreak is not None:  # stable pages when many rows share the sort value
        ordered = ordered.order_by(tiebreak)
    page_query = ordered.offset(request.offset).limit(request.page_size)
    rows = (await connection.execute(page_query)).all()
    return rows, total


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
