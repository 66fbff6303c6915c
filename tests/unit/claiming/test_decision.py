"""``claiming.domain.decide_claim``: the SPEC 3.2 table, cell by cell, the caller's customer's
lock-out, and the lock-out policy."""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.claiming.domain import (
    ClaimDecision,
    ClaimReason,
    ClaimResponse,
    ClaimWindow,
    LockoutPolicy,
    WindowSource,
    decide_claim,
    effective_window,
)
from gridlinks.kit.secrets import keyed_hash

HASH_KEY = b"claim-secret-key-for-tests"
NOW_MS = 1_700_000_000_000
DEVICE_ID = uuid.UUID("00000000-0000-0000-0000-0000000000d1")
CALLERS_CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000c1")
OTHER_CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000c2")


def hashed(secret: str) -> str:
    return keyed_hash(HASH_KEY, secret)


def create_window(
    source: WindowSource = WindowSource.DEVICE,
    secret: str = "K3Y-device",
    expires_at_ms: int = NOW_MS + 60_000,
) -> ClaimWindow:
    return ClaimWindow(
        device_id=DEVICE_ID,
        source=source,
        secret_hash=hashed(secret),
        expires_at_ms=expires_at_ms,
        created_time=NOW_MS - 1_000,
    )


def claim(
    windows: list[ClaimWindow],
    presented: str,
    owner: uuid.UUID | None = None,
    locked_until_ms: int = 0,
) -> ClaimDecision:
    """A claim by a caller whose customer is locked out of the device until ``locked_until_ms``."""
    return decide_claim(windows, hashed(presented), owner, NOW_MS, locked_until_ms)


# --- the table, row by row ---------------------------------------------------------------------
def test_right_key_on_an_unassigned_device_succeeds_and_consumes_the_windows() -> None:
    window = create_window(secret="K3Y")
    decision = claim([window], "K3Y")
    assert decision == ClaimDecision(
        ClaimResponse.SUCCESS, ClaimReason.CLAIMED, window, assign=True, consume_windows=True
    )


def test_right_key_on_a_device_of_another_customer_gets_claimed_and_consumes_the_windows() -> None:
    window = create_window(secret="K3Y")
    decision = claim([window], "K3Y", owner=OTHER_CUSTOMER)
    assert decision == ClaimDecision(
        ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED, window, consume_windows=True
    )


def test_right_key_on_a_device_the_callers_customer_owns_gets_claimed_too() -> None:
    decision = claim([create_window(secret="K3Y")], "K3Y", owner=CALLERS_CUSTOMER)
    assert (decision.response, decision.assign) == (ClaimResponse.CLAIMED, False)


def test_wrong_key_keeps_the_window_and_counts_a_failure() -> None:
    window = create_window(secret="K3Y")
    decision = claim([window], "guess")
    assert decision == ClaimDecision(
        ClaimResponse.FAILURE, ClaimReason.WRONG_KEY, window, count_failure=True
    )


def test_wrong_key_on_an_assigned_device_is_a_failure_not_claimed() -> None:
    decision = claim([create_window(secret="K3Y")], "guess", owner=OTHER_CUSTOMER)
    assert (decision.response, decision.reason) == (ClaimResponse.FAILURE, ClaimReason.WRONG_KEY)


def test_no_window_on_an_unassigned_device_is_a_failure_with_nothing_to_count() -> None:
    assert claim([], "K3Y") == ClaimDecision(ClaimResponse.FAILURE, ClaimReason.NO_WINDOW)


def test_no_window_on_an_assigned_device_gets_claimed() -> None:
    decision = claim([], "K3Y", owner=OTHER_CUSTOMER)
    assert decision == ClaimDecision(ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED)


def test_empty_key_matches_an_empty_secret() -> None:
    assert claim([create_window(secret="")], "").response is ClaimResponse.SUCCESS


def test_empty_key_does_not_match_a_secret() -> None:
    assert claim([create_window(secret="K3Y")], "").reason is ClaimReason.WRONG_KEY


def test_key_does_not_match_an_empty_secret() -> None:
    assert claim([create_window(secret="")], "K3Y").reason is ClaimReason.WRONG_KEY


def test_keys_are_compared_case_sensitively() -> None:
    assert claim([create_window(secret="AbCd-1234")], "abcd-1234").reason is ClaimReason.WRONG_KEY


def test_window_is_still_valid_at_its_expiry_millisecond() -> None:
    window = create_window(secret="K3Y", expires_at_ms=NOW_MS)
    assert claim([window], "K3Y").response is ClaimResponse.SUCCESS


def test_window_has_expired_one_millisecond_after_its_expiry() -> None:
    window = create_window(secret="K3Y", expires_at_ms=NOW_MS - 1)
    decision = claim([window], "K3Y")
    assert decision == ClaimDecision(
        ClaimResponse.FAILURE, ClaimReason.EXPIRED, window, count_failure=True
    )


def test_locked_out_customer_is_refused_even_the_right_key_with_retry_after() -> None:
    window = create_window(secret="K3Y")
    decision = claim([window], "K3Y", locked_until_ms=NOW_MS + 30_000)
    assert decision == ClaimDecision(
        ClaimResponse.LOCKED, ClaimReason.LOCKED, window, retry_after_seconds=30
    )


def test_locked_out_customer_does_not_learn_that_there_is_no_window() -> None:
    decision = claim([], "K3Y", locked_until_ms=NOW_MS + 30_000)
    assert decision == ClaimDecision(
        ClaimResponse.LOCKED, ClaimReason.LOCKED, None, retry_after_seconds=30
    )


def test_locked_out_customer_does_not_learn_that_the_device_is_owned() -> None:
    decision = claim([], "K3Y", owner=OTHER_CUSTOMER, locked_until_ms=NOW_MS + 1_000)
    assert (decision.response, decision.retry_after_seconds) == (ClaimResponse.LOCKED, 1)


def test_retry_after_of_a_lock_is_rounded_up_to_whole_seconds() -> None:
    window = create_window()
    assert claim([window], "K3Y-device", locked_until_ms=NOW_MS + 30_001).retry_after_seconds == 31


def test_lock_is_over_at_its_last_millisecond() -> None:
    window = create_window(secret="K3Y")
    assert claim([window], "K3Y", locked_until_ms=NOW_MS).response is ClaimResponse.SUCCESS


def test_lock_one_millisecond_from_its_end_still_asks_for_one_second() -> None:
    window = create_window()
    assert claim([window], "K3Y-device", locked_until_ms=NOW_MS + 1).retry_after_seconds == 1


def test_no_lock_out_is_the_default() -> None:
    window = create_window(secret="K3Y")
    assert decide_claim([window], hashed("K3Y"), None, NOW_MS).response is ClaimResponse.SUCCESS


def test_device_window_takes_precedence_over_the_server_window() -> None:
    device = create_window(WindowSource.DEVICE, secret="device-key")
    server = create_window(WindowSource.SERVER, secret="server-key")
    decision = claim([server, device], "server-key")
    assert (decision.reason, decision.window) == (ClaimReason.WRONG_KEY, device)


def test_expired_device_window_gives_way_to_the_server_window() -> None:
    device = create_window(WindowSource.DEVICE, secret="device-key", expires_at_ms=NOW_MS - 1)
    server = create_window(WindowSource.SERVER, secret="server-key")
    decision = claim([device, server], "server-key")
    assert (decision.response, decision.window) == (ClaimResponse.SUCCESS, server)


def test_expired_device_window_alone_answers_expired() -> None:
    device = create_window(WindowSource.DEVICE, secret="device-key", expires_at_ms=NOW_MS - 1)
    assert claim([device], "device-key").reason is ClaimReason.EXPIRED


def test_server_window_is_used_when_there_is_no_device_window() -> None:
    server = create_window(WindowSource.SERVER, secret="server-key")
    decision = claim([server], "server-key")
    assert (decision.response, decision.window) == (ClaimResponse.SUCCESS, server)


def test_effective_window_prefers_the_open_device_window_in_any_order() -> None:
    device = create_window(WindowSource.DEVICE)
    server = create_window(WindowSource.SERVER)
    expired = create_window(WindowSource.DEVICE, expires_at_ms=NOW_MS - 1)
    assert effective_window([device, server], NOW_MS) == device
    assert effective_window([server, device], NOW_MS) == device
    assert effective_window([server], NOW_MS) == server
    assert effective_window([expired, server], NOW_MS) == server
    assert effective_window([expired], NOW_MS) == expired
    assert effective_window([], NOW_MS) is None


# --- every cell ------------------------------------------------------------------------------
LAYOUTS = ("no window", "device window", "server window", "both windows")
KEYS = {  # stored secret, presented key
    "same key": ("Xk9-42ab", "Xk9-42ab"),
    "other key": ("Xk9-42ab", "Qz1-77cd"),
    "empty vs empty": ("", ""),
    "empty key vs secret": ("Xk9-42ab", ""),
    "key vs empty secret": ("", "Xk9-42ab"),
    "other case": ("Xk9-42ab", "xK9-42AB"),
}
EXPIRIES = {"valid": NOW_MS + 1, "at expiry": NOW_MS, "1 ms after expiry": NOW_MS - 1}
OWNERS = {
    "unassigned": None,
    "callers customer": CALLERS_CUSTOMER,
    "other customer": OTHER_CUSTOMER,
}
LOCKS = {"unlocked": 0, "lock ended now": NOW_MS, "locked 90.5 s": NOW_MS + 90_500}


@dataclass(frozen=True)
class Cell:
    layout: str
    key: str
    expiry: str
    owner: str
    lock: str

    @property
    def id(self) -> str:
        return f"{self.layout}|{self.key}|{self.expiry}|{self.owner}|{self.lock}"


CELLS = [
    Cell(*combination)
    for combination in itertools.product(LAYOUTS, KEYS, EXPIRIES, OWNERS, LOCKS)
    # Without a window, key and expiry have nothing to apply to: one cell per owner and lock.
    if combination[0] != "no window" or combination[1:3] == ("same key", "valid")
]


def windows_of(cell: Cell) -> list[ClaimWindow]:
    stored, presented = KEYS[cell.key]
    expires = EXPIRIES[cell.expiry]
    # A valid server window for the presented key: only the device window's precedence
    # keeps it from deciding.
    open_server = create_window(WindowSource.SERVER, secret=presented)
    return {
        "no window": [],
        "device window": [create_window(WindowSource.DEVICE, stored, expires)],
        "server window": [create_window(WindowSource.SERVER, stored, expires)],
        "both windows": [open_server, create_window(WindowSource.DEVICE, stored, expires)],
    }[cell.layout]


def expected_decision(cell: Cell, windows: list[ClaimWindow]) -> ClaimDecision:
    """SPEC 3.2, written out independently of the code under test."""
    unassigned = OWNERS[cell.owner] is None
    # The device window when there are both (see windows_of), unless it expired: then it gives
    # way to the (open, matching) server window.
    gives_way = cell.layout == "both windows" and cell.expiry == "1 ms after expiry"
    window = (windows[0] if gives_way else windows[-1]) if windows else None
    if cell.lock == "locked 90.5 s":
        return ClaimDecision(
            ClaimResponse.LOCKED, ClaimReason.LOCKED, window, retry_after_seconds=91
        )
    if window is None:
        if unassigned:
            return ClaimDecision(ClaimResponse.FAILURE, ClaimReason.NO_WINDOW)
        return ClaimDecision(ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED)
    if gives_way:
        if unassigned:
            return ClaimDecision(
                ClaimResponse.SUCCESS,
                ClaimReason.CLAIMED,
                window,
                assign=True,
                consume_windows=True,
            )
        return ClaimDecision(
            ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED, window, consume_windows=True
        )
    if cell.expiry == "1 ms after expiry":
        return ClaimDecision(ClaimResponse.FAILURE, ClaimReason.EXPIRED, window, count_failure=True)
    stored, presented = KEYS[cell.key]
    if stored != presented:
        return ClaimDecision(
            ClaimResponse.FAILURE, ClaimReason.WRONG_KEY, window, count_failure=True
        )
    if unassigned:
        return ClaimDecision(
            ClaimResponse.SUCCESS, ClaimReason.CLAIMED, window, assign=True, consume_windows=True
        )
    return ClaimDecision(
        ClaimResponse.CLAIMED, ClaimReason.ALREADY_CLAIMED, window, consume_windows=True
    )


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_every_cell_of_the_decision_table(cell: Cell) -> None:
    windows = windows_of(cell)
    presented, owner, lock = hashed(KEYS[cell.key][1]), OWNERS[cell.owner], LOCKS[cell.lock]
    decision = decide_claim(windows, presented, owner, NOW_MS, lock)
    assert decision == expected_decision(cell, windows)


def test_the_table_covers_every_combination() -> None:
    with_window = (len(LAYOUTS) - 1) * len(KEYS) * len(EXPIRIES) * len(OWNERS) * len(LOCKS)
    assert len(CELLS) == with_window + len(OWNERS) * len(LOCKS)


# --- properties --------------------------------------------------------------------------------
secrets = st.text(max_size=12)
owners = st.sampled_from([None, CALLERS_CUSTOMER, OTHER_CUSTOMER])
offsets_ms = st.integers(min_value=-200_000, max_value=200_000)
locks_ms = st.just(0) | offsets_ms.map(lambda offset: NOW_MS + offset)


@dataclass(frozen=True)
class Attempt:
    windows: list[ClaimWindow]
    presented: str
    owner: uuid.UUID | None
    locked_until_ms: int  # the caller's customer's lock-out on the device

    def decide(self) -> ClaimDecision:
        presented = hashed(self.presented)
        return decide_claim(self.windows, presented, self.owner, NOW_MS, self.locked_until_ms)


@st.composite
def claim_windows(draw: st.DrawFn, source: WindowSource) -> tuple[ClaimWindow, str]:
    secret = draw(secrets)
    window = create_window(source, secret=secret, expires_at_ms=NOW_MS + draw(offsets_ms))
    return window, secret


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    """Zero, one or two windows; the key presented is often one of theirs; maybe a lock."""
    drawn = [
        draw(st.none() | claim_windows(WindowSource.DEVICE)),
        draw(st.none() | claim_windows(WindowSource.SERVER)),
    ]
    windows = [pair[0] for pair in drawn if pair is not None]
    their_keys = [pair[1] for pair in drawn if pair is not None]
    keys = st.sampled_from(their_keys) | secrets if their_keys else secrets
    return Attempt(windows, draw(keys), draw(owners), draw(locks_ms))


@given(attempts())
def test_success_only_with_an_open_unexpired_matching_window_on_an_unassigned_device(
    attempt: Attempt,
) -> None:
    window = effective_window(attempt.windows, NOW_MS)
    succeeds = (
        window is not None
        and attempt.locked_until_ms <= NOW_MS
        and window.expires_at_ms >= NOW_MS
        and window.secret_hash == hashed(attempt.presented)
        and attempt.owner is None
    )
    decision = attempt.decide()
    assert (decision.response is ClaimResponse.SUCCESS) == succeeds
    assert decision.assign == succeeds


@given(attempts())
def test_claimed_never_assigns(attempt: Attempt) -> None:
    decision = attempt.decide()
    if decision.response is ClaimResponse.CLAIMED:
        assert not decision.assign
        assert decision.reason is ClaimReason.ALREADY_CLAIMED


@given(attempts())
def test_wrong_key_never_consumes_the_windows(attempt: Attempt) -> None:
    window = effective_window(attempt.windows, NOW_MS)
    if window is not None and window.secret_hash != hashed(attempt.presented):
        decision = attempt.decide()
        assert not decision.consume_windows
        assert not decision.assign


@given(attempts())
def test_windows_are_consumed_only_by_the_right_key_on_a_valid_window(attempt: Attempt) -> None:
    decision = attempt.decide()
    if decision.consume_windows:
        assert decision.window is not None
        assert decision.window.secret_hash == hashed(attempt.presented)
        assert decision.response in (ClaimResponse.SUCCESS, ClaimResponse.CLAIMED)


@given(
    claim_windows(WindowSource.DEVICE),
    claim_windows(WindowSource.SERVER),
    owners,
    locks_ms,
    st.data(),
)
def test_open_device_window_always_decides_over_the_server_window(
    device: tuple[ClaimWindow, str],
    server: tuple[ClaimWindow, str],
    owner: uuid.UUID | None,
    lock: int,
    data: st.DataObject,
) -> None:
    presented = hashed(data.draw(st.sampled_from([device[1], server[1]]) | secrets))
    both = decide_claim([server[0], device[0]], presented, owner, NOW_MS, lock)
    decider = device[0] if device[0].expires_at_ms >= NOW_MS else server[0]
    assert both == decide_claim([decider], presented, owner, NOW_MS, lock)
    assert both.window == decider


@given(attempts())
def test_only_a_failure_on_a_window_counts_as_a_failed_attempt(attempt: Attempt) -> None:
    decision = attempt.decide()
    if decision.count_failure:
        assert decision.response is ClaimResponse.FAILURE
        assert decision.window is not None
        assert decision.reason in (ClaimReason.WRONG_KEY, ClaimReason.EXPIRED)
    else:
        assert decision.reason not in (ClaimReason.WRONG_KEY, ClaimReason.EXPIRED)


@given(attempts())
def test_retry_after_is_given_exactly_when_locked_and_is_the_lock_rounded_up(
    attempt: Attempt,
) -> None:
    decision = attempt.decide()
    if decision.response is ClaimResponse.LOCKED:
        lock_ms = attempt.locked_until_ms - NOW_MS
        assert decision.retry_after_seconds == math.ceil(lock_ms / 1000)
        assert not (decision.assign or decision.consume_windows or decision.count_failure)
    else:
        assert decision.retry_after_seconds == 0


@given(attempts())
def test_a_locked_out_customer_is_refused_whatever_it_presents_and_only_then(
    attempt: Attempt,
) -> None:
    decision = attempt.decide()
    locked = attempt.locked_until_ms > NOW_MS
    assert (decision.response is ClaimResponse.LOCKED) == locked
    assert (decision.reason is ClaimReason.LOCKED) == locked
    if locked:
        assert decision.window == effective_window(attempt.windows, NOW_MS)


@given(attempts())
def test_without_a_lock_out_the_decision_is_the_table(attempt: Attempt) -> None:
    """A lock-out that has ended changes nothing: the table decides as if there were none."""
    if attempt.locked_until_ms <= NOW_MS:
        unlocked = decide_claim(attempt.windows, hashed(attempt.presented), attempt.owner, NOW_MS)
        assert attempt.decide() == unlocked


@given(st.text(max_size=40), st.text(max_size=40))
def test_key_matches_exactly_when_the_texts_are_equal(stored: str, presented: str) -> None:
    decision = claim([create_window(secret=stored)], presented)
    assert (decision.response is ClaimResponse.SUCCESS) == (stored == presented)


# --- lock-out policy ---------------------------------------------------------------------------
def test_first_four_failures_do_not_lock() -> None:
    assert [LockoutPolicy().lock_seconds(n) for n in range(5)] == [0, 0, 0, 0, 0]


def test_fifth_failure_locks_for_a_minute_doubling_after_up_to_an_hour() -> None:
    locks = [LockoutPolicy().lock_seconds(n) for n in range(5, 13)]
    assert locks == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_lock_stays_at_an_hour_after_very_many_failures() -> None:
    assert LockoutPolicy().lock_seconds(10_000_000) == 3600


@given(st.integers(min_value=5, max_value=500))
def test_default_lock_doubles_from_a_minute_capped_at_an_hour(failures: int) -> None:
    assert LockoutPolicy().lock_seconds(failures) == min(60 * 2 ** (failures - 5), 3600)


def test_custom_policy_sets_threshold_start_and_cap() -> None:
    policy = LockoutPolicy(after_failures=3, initial_seconds=10, max_seconds=100)
    assert [policy.lock_seconds(n) for n in range(1, 9)] == [0, 0, 10, 20, 40, 80, 100, 100]


def test_custom_policy_locking_from_the_first_failure() -> None:
    policy = LockoutPolicy(after_failures=1, initial_seconds=1, max_seconds=5)
    assert [policy.lock_seconds(n) for n in range(0, 5)] == [0, 1, 2, 4, 5]


@given(
    st.integers(min_value=1, max_value=20),
    st.integers(min_value=1, max_value=600),
    st.integers(min_value=1, max_value=10**6),
)
def test_custom_lock_never_shrinks_and_never_exceeds_its_cap(
    after: int, initial: int, cap: int
) -> None:
    policy = LockoutPolicy(after_failures=after, initial_seconds=initial, max_seconds=cap)
    locks = [policy.lock_seconds(n) for n in range(after + 40)]
    assert locks == sorted(locks)
    assert all(lock <= cap for lock in locks)
    assert locks[:after] == [0] * after
    assert locks[after] == min(initial, cap)


def test_custom_lock_keeps_doubling_until_its_cap() -> None:
    policy = LockoutPolicy(after_failures=1, initial_seconds=1, max_seconds=86_400)
    assert policy.lock_seconds(14) == 2**13
