"""Client-side RPC answers and long-poll timeouts: pure rules, no transport."""

from __future__ import annotations

import pytest

from gridlinks.devicelink.client_rpc import (
    ClientRpcRequest,
    SessionLimits,
    answer_client_rpc,
    parse_client_rpc,
)
from gridlinks.devicelink.polls import poll_timeout_seconds
from gridlinks.errors import BadRequestError

LIMITS = SessionLimits(65024, 100)


def test_get_current_time_answers_the_clock() -> None:
    assert answer_client_rpc(ClientRpcRequest("getCurrentTime"), LIMITS, 1234) == {
        "currentTime": 1234
    }


def test_a_gateway_gets_gateway_rate_limits_too() -> None:
    answer = answer_client_rpc(ClientRpcRequest("getSessionLimits"), LIMITS, 0, gateway=True)
    assert answer["maxPayloadSize"] == 65024 and answer["maxInflightMessages"] == 100
    assert answer["gatewayRateLimits"] == answer["rateLimits"]


def test_another_method_is_answered_unsupported_with_its_name_cut_short() -> None:
    answer = answer_client_rpc(ClientRpcRequest("x" * 200), LIMITS, 0)
    assert answer["error"].startswith("Unsupported client-side RPC method 'xxx")
    assert len(answer["error"]) < 200


@pytest.mark.parametrize("body", [None, [], "getTime", {"method": None}, {"method": ""}])
def test_a_request_of_another_shape_is_a_bad_request(body: object) -> None:
    with pytest.raises(BadRequestError):
        parse_client_rpc(body)


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 60.0), ("", 60.0), ("0", 60.0), ("1500", 1.5), ("300000", 300.0)]
)
def test_a_poll_timeout_is_milliseconds_with_thingsboards_default(
    value: str | None, seconds: float
) -> None:
    assert poll_timeout_seconds(value) == seconds


@pytest.mark.parametrize("value", ["-5", "1e3", "300001", "١٢", "9" * 12, " 5 5"])
def test_a_poll_timeout_out_of_range_or_not_a_number_is_a_bad_request(value: str) -> None:
    with pytest.raises(BadRequestError):
        poll_timeout_seconds(value)
