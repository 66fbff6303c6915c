"""``devices.domain``: which access tokens are acceptable, what marks a gateway."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from gridlinks.devices.domain import ACCESS_TOKEN_MAX_LENGTH, access_token_problem, is_gateway

token_text = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=255)


@given(token_text)
def test_token_of_letters_digits_and_dashes_is_acceptable(token: str) -> None:
    assert access_token_problem(token) is None


def test_empty_or_padded_token_is_refused() -> None:
    for token in ("", " ", " tok", "tok ", "\ttok"):
        assert access_token_problem(token) is not None, repr(token)


def test_token_longer_than_the_limit_is_refused() -> None:
    assert access_token_problem("x" * ACCESS_TOKEN_MAX_LENGTH) is None
    assert access_token_problem("x" * (ACCESS_TOKEN_MAX_LENGTH + 1)) is not None


@given(st.sampled_from("/#+"), token_text)
def test_token_with_an_mqtt_topic_character_is_refused(special: str, token: str) -> None:
    assert access_token_problem(token[:100] + special + token[:100]) is not None


def test_gateway_is_marked_by_a_true_gateway_flag_only() -> None:
    assert is_gateway({"gateway": True})
    for info in ({"gateway": "true"}, {"gateway": 1}, {}, None, ["gateway"]):
        assert not is_gateway(info), info
