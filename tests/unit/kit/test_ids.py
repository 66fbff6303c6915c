"""``kit.ids``: UUIDs from paths and bodies, ThingsBoard id objects."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.errors import BadRequestError
from gridlinks.kit.ids import NULL_UUID, entity_id, optional_uuid, parse_uuid


@given(st.uuids())
def test_uuid_text_in_either_case_is_parsed(value: uuid.UUID) -> None:
    assert parse_uuid(str(value)) == value
    assert parse_uuid(str(value).upper()) == value


def test_malformed_uuid_is_a_bad_request_naming_the_field() -> None:
    for text in ("", "abc", "1234", "0b6f1a5e-0000-4000-8000-00000000000g"):
        with pytest.raises(BadRequestError) as refused:
            parse_uuid(text, "entityGroupId")
        assert refused.value.status == 400 and refused.value.error_code == 31
        assert "entityGroupId" in refused.value.message


def test_refusal_echoes_at_most_64_characters_of_the_input() -> None:
    with pytest.raises(BadRequestError) as refused:
        parse_uuid("z" * 10_000)
    assert "z" * 65 not in refused.value.message


def test_none_becomes_the_null_uuid_in_id_objects() -> None:
    assert entity_id("CUSTOMER", None) == {"entityType": "CUSTOMER", "id": str(NULL_UUID)}


def test_null_uuid_means_no_id() -> None:
    some = uuid.uuid4()
    assert (optional_uuid(NULL_UUID), optional_uuid(None), optional_uuid(some)) == (
        None,
        None,
        some,
    )
