"""``claiming.domain``: device announcements, ``claimingData`` values, who may open a window,
and refusals that never echo a secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.claiming import domain
from gridlinks.claiming.domain import (
    MASKED_SECRET,
    MAX_SECRET_LENGTH,
    Announcement,
    ClaimDataError,
    ClaimReason,
    ServerClaimData,
    announcement_refusal,
    masked_claiming_data,
    parse_announcement,
    parse_claiming_data,
    window_expiry_ms,
)

EXPIRES_MS = 1_700_000_000_000
DAY_MS = 86_400_000
CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000c1")


# --- parse_announcement ----------------------------------------------------------------------
def test_empty_body_announces_an_empty_key_for_the_default_duration() -> None:
    assert parse_announcement(None) == Announcement("", 0)


def test_empty_object_announces_an_empty_key_for_the_default_duration() -> None:
    assert parse_announcement({}) == Announcement("", 0)


def test_announcement_carries_key_and_duration() -> None:
    parsed = parse_announcement({"secretKey": "Ab-12", "durationMs": 60_000})
    assert parsed == Announcement("Ab-12", 60_000)


def test_numeric_key_is_taken_as_its_text() -> None:
    assert parse_announcement({"secretKey": 123456}).secret_key == "123456"
    assert parse_announcement({"secretKey": 12.5}).secret_key == "12.5"


def test_boolean_key_is_taken_as_its_json_text() -> None:
    assert parse_announcement({"secretKey": True}).secret_key == "true"
    assert parse_announcement({"secretKey": False}).secret_key == "false"


def test_null_key_is_the_empty_key() -> None:
    assert parse_announcement({"secretKey": None}).secret_key == ""


def test_structured_key_is_refused() -> None:
    for key in ({"value": "Ab-12"}, ["Ab-12"], []):
        with pytest.raises(ClaimDataError):
            parse_announcement({"secretKey": key})


def test_key_of_the_maximum_length_is_accepted() -> None:
    key = "k" * MAX_SECRET_LENGTH
    assert parse_announcement({"secretKey": key}).secret_key == key


def test_overlong_key_is_refused() -> None:
    with pytest.raises(ClaimDataError):
        parse_announcement({"secretKey": "k" * (MAX_SECRET_LENGTH + 1)})


def test_numeric_string_duration_is_accepted() -> None:
    assert parse_announcement({"durationMs": "60000"}).duration_ms == 60_000


def test_whole_float_duration_is_accepted() -> None:
    assert parse_announcement({"durationMs": 60000.0}).duration_ms == 60_000


def test_null_duration_means_the_default() -> None:
    assert parse_announcement({"durationMs": None}).duration_ms == 0


def test_negative_duration_is_passed_on_for_the_default_to_apply() -> None:
    assert parse_announcement({"durationMs": -5}).duration_ms == -5
    assert parse_announcement({"durationMs": "-5"}).duration_ms == -5


def test_non_numeric_string_duration_is_refused() -> None:
    for duration in ("soon", "60s", "", "1.5", "1e3", "1_000", "- 5"):
        with pytest.raises(ClaimDataError):
            parse_announcement({"durationMs": duration})


@pytest.mark.parametrize("duration", ["--5", "²", "-²"])
def test_malformed_digit_string_duration_is_refused_as_claim_data(duration: str) -> None:
    with pytest.raises(ClaimDataError):
        parse_announcement({"durationMs": duration})


def test_boolean_duration_is_refused() -> None:
    for duration in (True, False):
        with pytest.raises(ClaimDataError):
            parse_announcement({"durationMs": duration})


def test_fractional_duration_is_refused() -> None:
    for duration in (1.5, 0.1, float("inf"), float("nan")):
        with pytest.raises(ClaimDataError):
            parse_announcement({"durationMs": duration})


def test_structured_duration_is_refused() -> None:
    for duration in ([60000], {"ms": 60000}):
        with pytest.raises(ClaimDataError):
            parse_announcement({"durationMs": duration})


def test_out_of_range_duration_is_refused() -> None:
    for duration in (2**63, -(2**63), str(2**63), 1e300):
        with pytest.raises(ClaimDataError):
            parse_announcement({"durationMs": duration})


def test_announcement_that_is_not_an_object_is_refused() -> None:
    for payload in (["Ab-12", 60000], [], 42, 4.2, "Ab-12", True):
        with pytest.raises(ClaimDataError):
            parse_announcement(payload)


def test_unknown_announcement_fields_are_ignored() -> None:
    parsed = parse_announcement({"secretKey": "Ab-12", "durationMs": 5, "firmware": {"v": 2}})
    assert parsed == Announcement("Ab-12", 5)


@given(st.text(max_size=MAX_SECRET_LENGTH), st.integers(min_value=-(2**62), max_value=2**62))
def test_any_string_key_and_integer_duration_are_taken_as_they_are(key: str, ms: int) -> None:
    assert parse_announcement({"secretKey": key, "durationMs": ms}) == Announcement(key, ms)


@given(st.integers(min_value=0, max_value=2**62))
def test_duration_as_a_decimal_string_is_its_number(ms: int) -> None:
    assert parse_announcement({"durationMs": str(ms)}).duration_ms == ms


# --- window_expiry_ms ----------------------------------------------------------------------------
def test_window_expires_after_the_announced_duration() -> None:
    assert window_expiry_ms(EXPIRES_MS, 60_000, DAY_MS) == EXPIRES_MS + 60_000


def test_zero_or_negative_duration_means_the_default() -> None:
    for duration in (0, -1, -60_000):
        assert window_expiry_ms(EXPIRES_MS, duration, DAY_MS) == EXPIRES_MS + DAY_MS


@given(st.integers(min_value=0, max_value=2**50), st.integers(max_value=2**40))
def test_window_never_expires_before_it_was_received(received_ms: int, duration_ms: int) -> None:
    assert window_expiry_ms(received_ms, duration_ms, DAY_MS) > received_ms


# --- announcement_refusal --------------------------------------------------------------------
def test_unassigned_device_may_open_a_window_by_default() -> None:
    for allowed in (None, False, "false", True):
        assert announcement_refusal(None, True, allowed) is None


def test_assigned_device_may_not_open_a_window() -> None:
    for by_default in (True, False):
        for allowed in (True, None):
            refusal = announcement_refusal(CUSTOMER, by_default, allowed)
            assert refusal is ClaimReason.ALREADY_CLAIMED


def test_without_claiming_by_default_a_true_claiming_allowed_opens_the_way() -> None:
    assert announcement_refusal(None, False, True) is None


def test_without_claiming_by_default_only_boolean_true_counts_as_allowed() -> None:
    for allowed in ("true", "True", 1, 1.0, None, False, [True], {"value": True}):
        assert announcement_refusal(None, False, allowed) is ClaimReason.NOT_ALLOWED, allowed


# --- parse_claiming_data ---------------------------------------------------------------------
def test_claiming_data_object_is_read() -> None:
    parsed = parse_claiming_data({"secretKey": "Ab-12", "expirationTime": EXPIRES_MS})
    assert parsed == ServerClaimData("Ab-12", EXPIRES_MS)


def test_claiming_data_in_a_json_string_is_read() -> None:
    text = json.dumps({"secretKey": "Ab-12", "expirationTime": EXPIRES_MS})
    assert parse_claiming_data(text) == ServerClaimData("Ab-12", EXPIRES_MS)


def test_numeric_string_expiration_time_is_accepted() -> None:
    parsed = parse_claiming_data({"secretKey": "Ab-12", "expirationTime": str(EXPIRES_MS)})
    assert parsed.expiration_time_ms == EXPIRES_MS


def test_claiming_data_without_a_key_opens_an_empty_key_window() -> None:
    assert parse_claiming_data({"expirationTime": EXPIRES_MS}).secret_key == ""


def test_claiming_data_without_expiration_time_is_refused() -> None:
    with pytest.raises(ClaimDataError, match="expirationTime"):
        parse_claiming_data({"secretKey": "Ab-12"})


def test_claiming_data_with_an_unknown_field_is_refused_naming_the_field() -> None:
    with pytest.raises(ClaimDataError, match="secretkey"):
        parse_claiming_data({"secretkey": "Ab-12", "expirationTime": EXPIRES_MS})


def test_claiming_data_with_a_non_string_key_is_refused() -> None:
    for key in (123456, True, ["Ab-12"], {"value": "Ab-12"}):
        with pytest.raises(ClaimDataError):
            parse_claiming_data({"secretKey": key, "expirationTime": EXPIRES_MS})


def test_claiming_data_with_an_overlong_key_is_refused() -> None:
    with pytest.raises(ClaimDataError):
        parse_claiming_data(
            {"secretKey": "k" * (MAX_SECRET_LENGTH + 1), "expirationTime": EXPIRES_MS}
        )


def test_claiming_data_with_a_malformed_expiration_time_is_refused() -> None:
    for expiration in ("tomorrow", True, 1.5, [EXPIRES_MS], {"ms": EXPIRES_MS}):
        with pytest.raises(ClaimDataError):
            parse_claiming_data({"secretKey": "Ab-12", "expirationTime": expiration})


def test_malformed_json_string_is_refused() -> None:
    for text in ('{"secretKey": "Ab-12", "expirationTime": }', "{", "", "Ab-12"):
        with pytest.raises(ClaimDataError):
            parse_claiming_data(text)


def test_claiming_data_that_is_not_an_object_is_refused() -> None:
    for value in ([{"secretKey": "Ab-12", "expirationTime": EXPIRES_MS}], [], 42, None, True):
        with pytest.raises(ClaimDataError):
            parse_claiming_data(value)


def test_json_string_holding_something_other_than_an_object_is_refused() -> None:
    inner = json.dumps({"secretKey": "Ab-12", "expirationTime": EXPIRES_MS})
    for text in ("[1, 2]", "42", '"text"', "null", json.dumps(inner)):
        with pytest.raises(ClaimDataError):
            parse_claiming_data(text)


# --- refusals never echo a secret ----------------------------------------------------------------
# Every fixed message is text in the module's source: a secret that happens to be a piece of
# that text ("claimi", "millis") would be "found" in any message, so such secrets are skipped.
DOMAIN_SOURCE = Path(domain.__file__).read_text(encoding="utf-8")
hidden_secrets = st.text(min_size=6, max_size=64).filter(lambda s: s not in DOMAIN_SOURCE)

MALFORMED_CLAIMING_DATA: list[Callable[[str], Any]] = [
    lambda s: {"secretKey": s},
    lambda s: {"secretKey": s, "expirationTime": s + "x"},
    lambda s: {"secretKey": s, "expirationTime": {"at": s}},
    lambda s: {"secretKey": s, "expirationTime": EXPIRES_MS, "note": s},
    lambda s: {"secretkey": s, "expirationTime": EXPIRES_MS},
    lambda s: {"secretKey": [s], "expirationTime": EXPIRES_MS},
    lambda s: {"secretKey": {"value": s}, "expirationTime": EXPIRES_MS},
    lambda s: {"secretKey": s * (MAX_SECRET_LENGTH // 6 + 1), "expirationTime": EXPIRES_MS},
    lambda s: json.dumps({"secretKey": s, "expirationTime": EXPIRES_MS})[:-1],
    lambda s: json.dumps({"secretKey": s}),
    lambda s: json.dumps([s, EXPIRES_MS]),
    lambda s: json.dumps(json.dumps({"secretKey": s, "expirationTime": EXPIRES_MS})),
    lambda s: f"secretKey={s}; expirationTime={EXPIRES_MS}",
    lambda s: [s, EXPIRES_MS],
]

MALFORMED_ANNOUNCEMENTS: list[Callable[[str], Any]] = [
    lambda s: {"secretKey": {"value": s}},
    lambda s: {"secretKey": [s]},
    lambda s: {"secretKey": s, "durationMs": s + "x"},
    lambda s: {"secretKey": s, "durationMs": [s]},
    lambda s: {"secretKey": s * (MAX_SECRET_LENGTH // 6 + 1)},
    lambda s: [s],
    lambda s: s,
]


@given(hidden_secrets, st.sampled_from(MALFORMED_CLAIMING_DATA))
def test_claiming_data_refusal_never_contains_the_secret(
    secret: str, malformed: Callable[[str], Any]
) -> None:
    with pytest.raises(ClaimDataError) as refused:
        parse_claiming_data(malformed(secret))
    assert secret not in str(refused.value)


@given(hidden_secrets, st.sampled_from(MALFORMED_ANNOUNCEMENTS))
def test_announcement_refusal_never_contains_the_secret(
    secret: str, malformed: Callable[[str], Any]
) -> None:
    with pytest.raises(ClaimDataError) as refused:
        parse_announcement(malformed(secret))
    assert secret not in str(refused.value)


def test_refused_json_string_is_not_kept_as_the_cause() -> None:
    with pytest.raises(ClaimDataError) as refused:
        parse_claiming_data('{"secretKey": "Zq7-secret-Wx", "expirationTime": }')
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__


def test_digit_secret_in_a_malformed_expiration_time_is_refused_without_echo() -> None:
    with pytest.raises(ClaimDataError) as refused:
        parse_claiming_data({"secretKey": "80417265", "expirationTime": "--80417265"})
    assert "80417265" not in str(refused.value)


# --- masked_claiming_data --------------------------------------------------------------------
def test_read_back_claiming_data_shows_the_expiry_and_a_masked_key() -> None:
    masked = masked_claiming_data(ServerClaimData("Ab-12", EXPIRES_MS))
    assert masked == {"secretKey": MASKED_SECRET, "expirationTime": EXPIRES_MS}


def test_empty_key_reads_back_as_empty() -> None:
    masked = masked_claiming_data(ServerClaimData("", EXPIRES_MS))
    assert masked == {"secretKey": "", "expirationTime": EXPIRES_MS}


@given(st.text(min_size=1).filter(lambda s: s != MASKED_SECRET), st.integers(min_value=0))
def test_masked_claiming_data_never_contains_the_key(secret: str, expires_ms: int) -> None:
    masked = masked_claiming_data(ServerClaimData(secret, expires_ms))
    assert masked == {"secretKey": MASKED_SECRET, "expirationTime": expires_ms}
    assert secret not in masked.values()


def test_claiming_data_read_back_masked_cannot_be_written_again() -> None:
    masked = masked_claiming_data(ServerClaimData("real-key", 1_700_000_000_000))
    with pytest.raises(ClaimDataError, match="masked"):
        parse_claiming_data(masked)
