"""Pure rules of device credentials and names: CONNECT candidates, clash ids, name spelling,
the clash guard's lock-out window, sealed tokens."""

from __future__ import annotations

import unicodedata
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.devices.clashes import CredentialsClashGuard
from gridlinks.devices.domain import (
    basic_clash_ids,
    basic_user_name_key,
    device_name_problem,
    mqtt_basic_candidates,
    mqtt_basic_credentials_id,
    normalize_device_name,
)
from gridlinks.devices.tokens import AccessTokenSeal
from gridlinks.errors import ConflictError, TooManyRequestsError
from gridlinks.kit.clock import FixedClock
from gridlinks.kit.secrets import SecretBox, UnsealError
from gridlinks.limits.memory import MemoryRateLimiter

names = st.text(min_size=0, max_size=8)


# --- which registrations a CONNECT can match -------------------------------------------------
def matches(registration: tuple[str | None, str | None], client: str, user: str | None) -> bool:
    return registration in mqtt_basic_candidates(client, user)


def clash(first: tuple[str | None, str | None], second: tuple[str | None, str | None]) -> bool:
    """What the service refuses: an id in ``basic_clash_ids``, or, for user-name-only
    credentials, any credentials with that user name."""
    ids = set(basic_clash_ids(*second))
    if mqtt_basic_credentials_id(*first) in ids:
        return True
    return second[0] is None and basic_user_name_key(first[1]) == basic_user_name_key(second[1])


registrations = st.tuples(st.none() | st.sampled_from("ab"), st.none() | st.sampled_from("xy"))


@given(registrations, registrations, st.sampled_from("ab"), st.none() | st.sampled_from("xy"))
def test_two_registrations_one_connect_matches_both_only_if_the_second_is_refused(
    first: tuple[str | None, str | None],
    second: tuple[str | None, str | None],
    client: str,
    user: str | None,
) -> None:
    if first == second or first == (None, None) or second == (None, None):
        return
    if matches(first, client, user) and matches(second, client, user):
        assert clash(first, second)


def test_a_connect_without_user_name_matches_client_id_only_credentials() -> None:
    assert mqtt_basic_candidates("c", None) == [("c", None)]
    assert mqtt_basic_candidates("c", "u") == [("c", "u"), (None, "u")]
    assert mqtt_basic_candidates("", "u") == [(None, "u")]
    assert mqtt_basic_candidates("", None) == []


# --- names ---------------------------------------------------------------------------------
def test_nfd_and_nfc_spellings_normalize_to_one_name() -> None:
    nfd = unicodedata.normalize("NFD", "Café Thermostat")
    assert normalize_device_name(nfd) == normalize_device_name("Café Thermostat")
    assert normalize_device_name("\u3000 Boiler 7 \u00a0") == "Boiler 7"


@pytest.mark.parametrize(
    "name", ["a\nb", "a\rb", "tab\there", "esc\x1b[31m", "nul\x00", "x\u202egnp.exe", "l\u2028s"]
)
def test_names_with_control_characters_are_refused(name: str) -> None:
    assert device_name_problem(normalize_device_name(name)) is not None


@pytest.mark.parametrize("name", ["", " ", "   ", "\u3000", "\u200b", " \u200b \ufeff "])
def test_blank_names_are_refused(name: str) -> None:
    assert device_name_problem(normalize_device_name(name)) == "Device name should be specified!"


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=60))
def test_names_of_letters_digits_punctuation_and_symbols_are_accepted(name: str) -> None:
    assert device_name_problem(normalize_device_name(name)) is None


# --- the clash guard -----------------------------------------------------------------------
async def test_clash_guard_refuses_then_locks_until_the_window_ends() -> None:
    clock = FixedClock(1_700_000_040_000)  # a minute boundary
    guard = CredentialsClashGuard(MemoryRateLimiter(clock), clock, limit=2, window_seconds=60)
    tenant = uuid.uuid4()
    for _ in range(2):
        with pytest.raises(ConflictError):
            await guard.refuse(tenant, ConflictError("taken"))
    with pytest.raises(TooManyRequestsError) as over:
        await guard.refuse(tenant, ConflictError("taken"))
    assert over.value.retry_after_seconds == 60
    clock.advance(30_000)
    with pytest.raises(TooManyRequestsError) as waiting:
        guard.check(tenant)
    assert waiting.value.retry_after_seconds == 30
    guard.check(uuid.uuid4())  # another tenant is not limited
    clock.advance(30_000)
    guard.check(tenant)


# --- sealed tokens -------------------------------------------------------------------------
def test_a_sealed_token_opens_only_in_its_own_row() -> None:
    seal = AccessTokenSeal(b"l" * 32, b"s" * 32)
    row, device = uuid.uuid4(), uuid.uuid4()
    sealed = seal.seal("token-123", row, device)
    assert b"token-123" not in sealed
    assert seal.open(sealed, row, device) == "token-123"
    with pytest.raises(UnsealError):
        seal.open(sealed, uuid.uuid4(), device)
    with pytest.raises(UnsealError):
        AccessTokenSeal(b"l" * 32, b"t" * 32).open(sealed, row, device)


def test_sealing_twice_gives_different_bytes_and_lookup_ids_are_keyed() -> None:
    box = SecretBox(b"k" * 32)
    assert box.seal("same", b"row") != box.seal("same", b"row")
    first, second = AccessTokenSeal(b"a" * 32, b"s" * 32), AccessTokenSeal(b"b" * 32, b"s" * 32)
    assert first.lookup_id("tok") == first.lookup_id("tok") != second.lookup_id("tok")
    assert "tok" not in first.lookup_id("tok")


def test_altered_sealed_bytes_do_not_open() -> None:
    box = SecretBox(b"k" * 32)
    sealed = bytearray(box.seal("token", b"row"))
    sealed[-1] ^= 1
    with pytest.raises(UnsealError):
        box.open(bytes(sealed), b"row")
    with pytest.raises(UnsealError):
        box.open(b"\x02" + bytes(sealed[1:]), b"row")
