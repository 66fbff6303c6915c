"""The request body's rules and the persistent RPC JSON, without a database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from gridlinks.errors import BadRequestError
from gridlinks.rpc.domain import (
    DEFAULT_RETRIES,
    FIRST_PERSISTENT_REQUEST_ID,
    MAX_PERSISTENT_LIFETIME_MS,
    MAX_REQUEST_ID,
    PersistentRpc,
    RpcStatus,
    is_persistent_request_id,
    new_request_id,
    parse_rpc_request,
    parse_status,
    rpc_json,
)

NOW = 1_700_000_000_000


def parse(body: dict[str, Any], oneway: bool = False) -> Any:
    return parse_rpc_request(body, oneway=oneway, now_ms=NOW)


def test_the_timeout_defaults_to_ten_seconds() -> None:
    assert parse({"method": "m"}).expiration_time == NOW + 10_000


def test_a_timeout_below_five_seconds_is_raised_to_five_as_thingsboard_does() -> None:
    assert parse({"method": "m", "timeout": 100}).expiration_time == NOW + 5_000


def test_the_expiration_time_wins_over_the_timeout() -> None:
    request = parse({"method": "m", "timeout": 100, "expirationTime": NOW + 20_000})
    assert request.expiration_time == NOW + 20_000
    assert request.wait_ms(NOW + 5_000) == 15_000


def test_a_persistent_call_may_wait_thirty_days_a_live_one_an_hour() -> None:
    far = NOW + MAX_PERSISTENT_LIFETIME_MS
    assert parse({"method": "m", "persistent": True, "expirationTime": far}).persistent
    with pytest.raises(BadRequestError, match="expirationTime"):
        parse({"method": "m", "expirationTime": far})


def test_retries_default_to_five_and_params_to_null() -> None:
    request = parse({"method": "m"}, oneway=True)
    assert (request.retries, request.params, request.oneway) == (DEFAULT_RETRIES, None, True)


def test_an_integral_float_timeout_is_taken_as_an_integer() -> None:
    assert parse({"method": "m", "timeout": 6000.0}).expiration_time == NOW + 6_000


@pytest.mark.parametrize("body", [None, [], "m", {"method": None}, {"method": "m", "timeout": "5"}])
def test_malformed_bodies_are_refused(body: Any) -> None:
    with pytest.raises(BadRequestError):
        parse_rpc_request(body, oneway=False, now_ms=NOW)


def test_live_and_persistent_request_ids_come_from_separate_ranges() -> None:
    live = new_request_id(set())
    stored = new_request_id(set(), persistent=True)
    assert 1 <= live < FIRST_PERSISTENT_REQUEST_ID <= stored <= MAX_REQUEST_ID
    assert not is_persistent_request_id(live) and is_persistent_request_id(stored)


def test_a_request_id_is_never_one_already_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter([3, 5, 7])
    monkeypatch.setattr("gridlinks.rpc.domain.random.randint", lambda low, high: next(picks))
    assert new_request_id({3, 5}) == 7


def test_a_stored_call_renders_as_thingsboards_rpc() -> None:
    rpc = PersistentRpc(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        device_id=uuid.uuid4(),
        request_id=FIRST_PERSISTENT_REQUEST_ID,
        oneway=False,
        method="reboot",
        params={"a": [1, 2]},
        status=RpcStatus.DELIVERED,
        retries=2,
        attempts=1,
        expiration_time=NOW + 1,
        created_time=NOW,
    )
    body = rpc_json(rpc)
    assert body["id"] == {"entityType": "RPC", "id": str(rpc.id)}
    assert body["status"] == "DELIVERED" and body["response"] is None
    assert body["request"]["body"] == {"method": "reboot", "params": '{"a":[1,2]}'}
    assert set(body) == {
        "id",
        "createdTime",
        "tenantId",
        "deviceId",
        "expirationTime",
        "request",
        "response",
        "status",
        "additionalInfo",
    }


def test_the_status_filter_takes_thingsboards_names_in_any_case() -> None:
    assert parse_status("queued") is RpcStatus.QUEUED
    assert parse_status(None) is None
    with pytest.raises(BadRequestError, match="rpcStatus"):
        parse_status("LOST")


def test_a_call_sent_once_more_than_its_retries_has_used_them_up() -> None:
    base = dict(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        device_id=uuid.uuid4(),
        request_id=FIRST_PERSISTENT_REQUEST_ID,
        oneway=True,
        method="m",
        params=None,
        status=RpcStatus.SENT,
        retries=1,
        expiration_time=NOW,
        created_time=NOW,
    )
    assert not PersistentRpc(**base, attempts=1).retries_used_up  # type: ignore[arg-type]
    assert PersistentRpc(**base, attempts=2).retries_used_up  # type: ignore[arg-type]
