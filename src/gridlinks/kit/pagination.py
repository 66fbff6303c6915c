"""ThingsBoard paging: ``pageSize``, ``page``, ``textSearch``, ``sortProperty``, ``sortOrder``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gridlinks.errors import InvalidArgumentError

T = TypeVar("T")

MAX_PAGE_SIZE = 10_000
# ThingsBoard's page is a Java int; the bound also keeps offsets inside a 64-bit SQL integer.
MAX_PAGE = 2**31 - 1


@dataclass(frozen=True)
class PageRequest:
    """One page of a listing, validated."""

    page_size: int
    page: int
    text_search: str | None = None
    sort_property: str | None = None
    sort_ascending: bool = True

    @classmethod
    def build(
        cls,
        page_size: int,
        page: int,
        text_search: str | None = None,
        sort_property: str | None = None,
        sort_order: str | None = None,
    ) -> PageRequest:
        if page_size < 1 or page_size > MAX_PAGE_SIZE:
            raise InvalidArgumentError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        if page < 0 or page > MAX_PAGE:
            raise InvalidArgumentError(f"page must be between 0 and {MAX_PAGE}")
        order = (sort_order or "ASC").upper()
        if order not in ("ASC", "DESC"):
            raise InvalidArgumentError("sortOrder must be ASC or DESC")
        return cls(page_size, page, text_search or None, sort_property or None, order == "ASC")

    @property
    def offset(self) -> int:
        return self.page * self.page_size


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of items and the total count, rendered as ThingsBoard ``PageData``."""

    items: Sequence[T]
    total: int
    request: PageRequest

    def to_json(self, render: Any) -> dict[str, Any]:
        total_pages = math.ceil(self.total / self.request.page_size) if self.total else 0
        return {
            "data": [render(item) for item in self.items],
            "totalPages": total_pages,
            "totalElements": self.total,
            "hasNext": self.request.offset + len(self.items) < self.total,
        }
