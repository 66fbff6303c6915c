"""``kit.jsonvalue.parse_json``: JSON in, or a 400 that says why without echoing the input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.errors import BadRequestError
from gridlinks.kit.jsonvalue import MAX_JSON_DEPTH, dump_json, parse_json

storable_text = st.text().filter(lambda s: "\x00" not in s)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(storable_text, children, max_size=4)
    ),
    max_leaves=20,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@given(json_values)
def test_storable_json_survives_parse_and_dump(value: Any) -> None:
    assert parse_json(dump_json(value)) == value


def test_types_are_kept() -> None:
    parsed = parse_json('{"b": true, "s": "true", "i": 1, "f": 1.0, "n": null}')
    assert [type(parsed[k]) for k in "bsifn"] == [bool, str, int, float, type(None)]


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert parse_json(nested(MAX_JSON_DEPTH)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "not json",
        "{'a': 1}",
        "NaN",
        '{"a": Infinity}',
        '{"a": -Infinity}',
        '{"a": 1e400}',
        '"a\\u0000b"',
        '{"a\\u0000": 1}',
        '["\\ud800"]',
        nested(MAX_JSON_DEPTH + 1),
        nested(200_000),
    ],
)
def test_what_cannot_be_stored_or_sent_back_is_a_bad_request(text: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        parse_json(text, "attributes")
    assert refused.value.error_code == 31
    assert "attributes" in refused.value.message


def test_invalid_utf8_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError):
        parse_json(b'{"a": "\xff"}')


def test_error_names_the_position_but_not_the_content() -> None:
    with pytest.raises(BadRequestError) as refused:
        parse_json('{"password": "hunter2"', "request body")
    assert "position" in refused.value.message and "hunter2" not in refused.value.message


def test_dump_is_compact_and_keeps_unicode() -> None:
    assert dump_json({"a": [1, "温"]}) == '{"a":[1,"温"]}'
    assert json.loads(dump_json(2.0)) == 2.0
