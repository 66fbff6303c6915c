"""``delivery.messages``: the bus form of messages to devices, and what it refuses."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.delivery.messages import (
    AttributePush,
    CloseConnection,
    RpcCall,
    ToDevice,
    from_data,
    to_data,
)

DEVICE = uuid.UUID("5b4f8a51-3a5e-4c41-9a3b-0c6f2d1e7a10")
RPC_ID = uuid.UUID("0d7c9e1a-48f2-4b8e-a7a4-2b1f6c3e9d55")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
rpc_calls = st.builds(
    RpcCall,
    device_id=st.uuids(),
    request_id=st.integers(min_value=0, max_value=2**31),
    method=st.text(max_size=30),
    params=json_values,
    rpc_id=st.none() | st.uuids(),
    oneway=st.booleans(),
    expires_at=st.integers(min_value=0, max_value=2**53),
)
pushes = st.builds(
    AttributePush,
    device_id=st.uuids(),
    values=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    deleted=st.lists(st.text(max_size=10), max_size=5).map(tuple),
)
closes = st.builds(CloseConnection, device_id=st.uuids(), reason=st.text(max_size=20))


@given(rpc_calls | pushes | closes)
def test_every_message_survives_the_bus_as_json(message: ToDevice) -> None:
    crossed = json.loads(json.dumps(to_data(message)))
    assert from_data(crossed) == message


def test_rpc_call_data_names_the_fields_in_camel_case() -> None:
    call = RpcCall(DEVICE, 7, "setGpio", {"pin": 4}, rpc_id=RPC_ID, oneway=True, expires_at=99)
    assert to_data(call) == {
        "kind": "rpc",
        "deviceId": str(DEVICE),
        "requestId": 7,
        "method": "setGpio",
        "params": {"pin": 4},
        "rpcId": str(RPC_ID),
        "oneway": True,
        "expiresAt": 99,
    }


def test_rpc_call_without_optional_fields_reads_with_defaults() -> None:
    data = {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 3, "method": "reboot"}
    assert from_data(data) == RpcCall(DEVICE, 3, "reboot")


def test_rpc_body_is_thingsboards_method_and_params() -> None:
    assert RpcCall(DEVICE, 1, "getTemp", [1, 2]).body() == {"method": "getTemp", "params": [1, 2]}


def test_attribute_push_body_is_the_values_or_the_deleted_keys() -> None:
    assert AttributePush(DEVICE, {"fw": "1.2"}).body() == {"fw": "1.2"}
    assert AttributePush(DEVICE, deleted=("fw", "mode")).body() == {"deleted": ["fw", "mode"]}


MALFORMED: list[Any] = [
    None,
    [],
    "rpc",
    42,
    {},
    {"kind": "rpc"},
    {"deviceId": str(DEVICE)},
    {"kind": "unknown", "deviceId": str(DEVICE)},
    {"kind": ["rpc"], "deviceId": str(DEVICE)},
    {"kind": "close", "deviceId": "not-a-uuid"},
    {"kind": "close", "deviceId": None},
    {"kind": "rpc", "deviceId": str(DEVICE), "method": "m"},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": "seven", "method": "m"},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": None, "method": "m"},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": [1], "method": "m"},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 1},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 1, "method": "m", "rpcId": "x"},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 1, "method": "m", "rpcId": 12345},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 1, "method": "m", "rpcId": [1]},
    {"kind": "rpc", "deviceId": str(DEVICE), "requestId": 1, "method": "m", "expiresAt": "soon"},
    {"kind": "attributes", "deviceId": str(DEVICE), "values": ["a", 1]},
    {"kind": "attributes", "deviceId": str(DEVICE), "values": "a=1"},
    {"kind": "attributes", "deviceId": str(DEVICE), "deleted": None},
    {"kind": "attributes", "deviceId": str(DEVICE), "deleted": 5},
    {"kind": "attributes", "deviceId": str(DEVICE), "deleted": "fw"},
]


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_data_reads_as_none(data: Any) -> None:
    assert from_data(data) is None


FIELDS = ["kind", "deviceId", "requestId", "method", "rpcId", "values", "deleted", "reason"]


@given(st.dictionaries(st.sampled_from(FIELDS), json_values | st.sampled_from(["rpc", "close"])))
def test_arbitrary_json_objects_read_as_a_message_or_none_and_never_raise(
    data: dict[str, Any],
) -> None:
    parsed = from_data(data)
    assert parsed is None or isinstance(parsed, RpcCall | AttributePush | CloseConnection)
