"""Parsing ThingsBoard's WebSocket commands and building its frames, without I/O."""

from __future__ import annotations

import json
import uuid

import pytest

from gridlinks.live.domain import (
    BAD_REQUEST,
    MAX_COMMANDS_PER_MESSAGE,
    GarbageMessage,
    History,
    Rejected,
    Subscribe,
    Unsubscribe,
    as_text,
    data_frame,
    error_frame,
    group_points,
    parse_message,
    points_text,
    update_text,
)

DEVICE = uuid.uuid4()


def one(message: dict[str, object]) -> object:
    commands = parse_message(json.dumps(message)).commands
    assert len(commands) == 1
    return commands[0]


def test_ts_sub_cmd_becomes_a_telemetry_subscription_with_its_keys() -> None:
    command = one(
        {
            "tsSubCmds": [
                {
                    "entityType": "DEVICE",
                    "entityId": str(DEVICE),
                    "scope": "LATEST_TELEMETRY",
                    "cmdId": 3,
                    "keys": "temperature, humidity",
                }
            ]
        }
    )
    assert command == Subscribe(3, "TIMESERIES", DEVICE, frozenset({"temperature", "humidity"}))


def test_attr_sub_cmd_without_scope_follows_every_scope() -> None:
    command = one({"attrSubCmds": [{"entityType": "DEVICE", "entityId": str(DEVICE), "cmdId": 1}]})
    assert command == Subscribe(1, "ATTRIBUTES", DEVICE, None, None)


def test_attr_sub_cmd_with_an_unknown_scope_is_rejected() -> None:
    command = one({"attrSubCmds": [{"entityId": str(DEVICE), "cmdId": 1, "scope": "NOPE"}]})
    assert isinstance(command, Rejected) and command.cmd_id == 1


def test_unsubscribe_flag_becomes_an_unsubscribe() -> None:
    assert one({"tsSubCmds": [{"cmdId": 9, "unsubscribe": True}]}) == Unsubscribe(9)


def test_history_cmd_keeps_range_and_limit() -> None:
    command = one(
        {
            "historyCmds": [
                {
                    "entityId": str(DEVICE),
                    "keys": "a",
                    "startTs": 10,
                    "endTs": 20,
                    "limit": 5,
                    "agg": "NONE",
                    "cmdId": 2,
                }
            ]
        }
    )
    assert command == History(2, DEVICE, ("a",), 10, 20, 5)


@pytest.mark.parametrize(
    "entry",
    [
        {"entityId": str(DEVICE), "cmdId": 2, "agg": "AVG"},
        {"entityId": str(DEVICE), "cmdId": 2, "startTs": 20, "endTs": 10},
        {"entityId": str(DEVICE), "cmdId": 2, "limit": 0},
        {"entityId": str(DEVICE), "cmdId": 2, "startTs": "yesterday"},
    ],
)
def test_history_cmd_with_bad_arguments_is_rejected(entry: dict[str, object]) -> None:
    command = one({"historyCmds": [entry]})
    assert isinstance(command, Rejected)
    assert (command.cmd_id, command.error_code) == (2, BAD_REQUEST)


@pytest.mark.parametrize(
    "entry",
    [
        {"entityType": "ASSET", "entityId": str(DEVICE), "cmdId": 4},
        {"entityType": "DEVICE", "entityId": "not-a-uuid", "cmdId": 4},
        {"entityType": "DEVICE", "entityId": 12, "cmdId": 4},
        {"entityType": "DEVICE", "entityId": str(DEVICE), "cmdId": 4, "keys": 5},
        {"entityType": "DEVICE", "entityId": str(DEVICE), "cmdId": 4, "scope": "HISTORY"},
    ],
)
def test_subscription_with_bad_fields_is_rejected_for_its_cmd_id(entry: dict[str, object]) -> None:
    command = one({"tsSubCmds": [entry]})
    assert isinstance(command, Rejected) and command.cmd_id == 4


def test_command_without_an_integer_cmd_id_is_rejected_as_zero() -> None:
    command = one({"tsSubCmds": [{"entityId": str(DEVICE), "cmdId": "1"}]})
    assert isinstance(command, Rejected) and command.cmd_id == 0


def test_command_list_of_the_wrong_type_is_rejected() -> None:
    command = one({"tsSubCmds": {"cmdId": 1}})
    assert isinstance(command, Rejected)


def test_newer_form_carries_the_auth_token_and_typed_commands() -> None:
    message = parse_message(
        json.dumps(
            {
                "authCmd": {"cmdId": 0, "token": "jwt"},
                "cmds": [
                    {"type": "TIMESERIES", "entityId": str(DEVICE), "cmdId": 1},
                    {"type": "ATTRIBUTES", "entityId": str(DEVICE), "cmdId": 2},
                    {"type": "TIMESERIES_HISTORY", "entityId": str(DEVICE), "cmdId": 3},
                    {"type": "ALARM_DATA", "cmdId": 4},
                ],
            }
        )
    )
    assert message.token == "jwt"
    kinds = [type(command).__name__ for command in message.commands]
    assert kinds == ["Subscribe", "Subscribe", "History", "Rejected"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', b"\xff\xfe"])
def test_anything_but_a_json_object_is_garbage(raw: str | bytes) -> None:
    with pytest.raises(GarbageMessage):
        parse_message(raw)


def test_too_many_commands_in_one_message_are_all_rejected() -> None:
    entries = [{"entityId": str(DEVICE), "cmdId": n} for n in range(MAX_COMMANDS_PER_MESSAGE + 1)]
    commands = parse_message(json.dumps({"tsSubCmds": entries})).commands
    assert all(isinstance(command, Rejected) for command in commands)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (22.5, "22.5"),
        (22, "22"),
        (True, "true"),
        ("on", "on"),
        ({"a": 1}, '{"a":1}'),
        (None, "null"),
    ],
)
def test_values_are_sent_as_thingsboard_strings(value: object, text: str) -> None:
    assert as_text(value) == text


def test_data_frame_has_thingsboards_fields() -> None:
    frame = data_frame(5, {"t": [(1000, 21.5), (2000, 22.0)]})
    assert frame == {
        "subscriptionId": 5,
        "errorCode": 0,
        "errorMsg": None,
        "data": {"t": [[1000, "21.5"], [2000, "22.0"]]},
        "latestValues": {"t": 2000},
    }


def test_error_frame_has_no_data() -> None:
    frame = error_frame(5, 3, "Access to the device was lost")
    assert (frame["errorCode"], frame["data"], frame["latestValues"]) == (3, None, {})


def test_group_points_keeps_only_the_followed_keys() -> None:
    wants = Subscribe(1, "TIMESERIES", DEVICE, frozenset({"a"}))
    assert group_points([("a", 1, 1), ("b", 1, 2), ("a", 2, 3)], wants) == {"a": [(1, 1), (2, 3)]}


def test_entity_data_commands_are_answered_as_unsupported() -> None:
    command = one({"entityDataCmds": [{"cmdId": 6, "query": {}}]})
    assert isinstance(command, Rejected)
    assert (command.cmd_id, command.error_code) == (6, BAD_REQUEST)


def test_update_text_is_the_data_frame_encoded() -> None:
    points = {"t": [(1000, 21.5)], "on": [(1000, True)]}
    assert json.loads(update_text(7, points_text(points))) == data_frame(7, points)
