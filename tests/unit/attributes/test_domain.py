"""``attributes.domain``: scopes, write bodies and key lists."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gridlinks.attributes.domain import (
    KEY_MAX_LENGTH,
    MAX_KEYS_PER_WRITE,
    AttributeValue,
    attribute_json,
    parse_keys,
    scope_problem,
    values_problem,
)


def test_every_scope_may_be_read() -> None:
    for scope in ("SERVER_SCOPE", "SHARED_SCOPE", "CLIENT_SCOPE"):
        assert scope_problem(scope, for_write=False) is None


def test_users_write_server_and_shared_scope_but_not_client_scope() -> None:
    assert scope_problem("SERVER_SCOPE", for_write=True) is None
    assert scope_problem("SHARED_SCOPE", for_write=True) is None
    assert scope_problem("CLIENT_SCOPE", for_write=True) is not None


def test_unknown_or_lower_case_scope_is_refused() -> None:
    for scope in ("", "server_scope", "PRIVATE_SCOPE"):
        assert scope_problem(scope, for_write=False) is not None, scope


@given(
    st.dictionaries(st.text(min_size=1, max_size=KEY_MAX_LENGTH).filter(str.strip), st.integers())
)
def test_object_of_named_values_is_a_valid_write(values: dict[str, int]) -> None:
    assert values_problem(values) is None


def test_write_that_is_not_an_object_is_refused() -> None:
    for values in ([], [{"a": 1}], "a", 1, None):
        assert values_problem(values) is not None, values


def test_blank_or_overlong_key_is_refused() -> None:
    for key in ("", "   ", "k" * (KEY_MAX_LENGTH + 1)):
        assert values_problem({key: 1}) is not None, key


def test_too_many_keys_in_one_write_are_refused() -> None:
    assert values_problem({f"k{i}": i for i in range(MAX_KEYS_PER_WRITE)}) is None
    assert values_problem({f"k{i}": i for i in range(MAX_KEYS_PER_WRITE + 1)}) is not None


def test_keys_are_split_on_commas_and_trimmed() -> None:
    assert parse_keys("a, b,,c ") == ["a", "b", "c"]


def test_no_keys_means_every_key() -> None:
    for keys in (None, "", ",", " , "):
        assert parse_keys(keys) is None, keys


def test_attribute_is_rendered_as_thingsboard_attribute_data() -> None:
    rendered = attribute_json(AttributeValue("SERVER_SCOPE", "k", [1, "x"], 1700))
    assert rendered == {"lastUpdateTs": 1700, "key": "k", "value": [1, "x"]}
