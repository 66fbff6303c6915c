"""``PageRequest.build``: ThingsBoard paging parameters, validated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.errors import InvalidArgumentError
from gridlinks.kit.pagination import MAX_PAGE, MAX_PAGE_SIZE, Page, PageRequest


@given(st.integers(1, MAX_PAGE_SIZE), st.integers(0, MAX_PAGE))
def test_valid_page_starts_at_page_times_page_size(page_size: int, page: int) -> None:
    request = PageRequest.build(page_size, page)
    assert request.offset == page * page_size
    assert request.offset < 2**63  # fits a 64-bit SQL integer


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_PAGE_SIZE + 1)))
def test_page_size_outside_its_range_is_refused(page_size: int) -> None:
    with pytest.raises(InvalidArgumentError):
        PageRequest.build(page_size, 0)


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_PAGE + 1)))
def test_page_outside_its_range_is_refused(page: int) -> None:
    with pytest.raises(InvalidArgumentError):
        PageRequest.build(10, page)


def test_sort_order_is_read_in_any_case() -> None:
    assert PageRequest.build(10, 0, sort_order="desc").sort_ascending is False
    assert PageRequest.build(10, 0, sort_order="Asc").sort_ascending is True
    assert PageRequest.build(10, 0).sort_ascending is True


def test_unknown_sort_order_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        PageRequest.build(10, 0, sort_order="UP")


def test_empty_search_and_sort_mean_none() -> None:
    request = PageRequest.build(10, 0, text_search="", sort_property="")
    assert (request.text_search, request.sort_property) == (None, None)


def test_page_data_counts_pages_and_says_whether_more_follow() -> None:
    request = PageRequest.build(2, 1)
    page = Page(["c", "d"], 5, request).to_json(str.upper)
    assert page == {"data": ["C", "D"], "totalPages": 3, "totalElements": 5, "hasNext": True}
    assert Page([], 0, request).to_json(str)["totalPages"] == 0
