"""``telemetry.domain``: the payload forms devices send, read parameters, value rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridlinks.errors import BadRequestError
from gridlinks.kit.jsonvalue import MAX_JSON_DEPTH
from gridlinks.telemetry.domain import (
    KEY_MAX_LENGTH,
    MAX_POINTS_PER_MESSAGE,
    MAX_READ_LIMIT,
    MAX_TS,
    DataPoint,
    parse_keys,
    parse_telemetry,
    parse_telemetry_bytes,
    range_query,
    timeseries_json,
    value_as_text,
    value_json,
)

NOW = 1_700_000_123_456
TS = 1_700_000_000_000
SECRET_VALUE = "s3cr3t-value-that-must-not-be-echoed"

keys = st.text(min_size=1, max_size=KEY_MAX_LENGTH).filter(
    lambda k: not k.isspace() and "\x00" not in k and not any(0xD800 <= ord(c) <= 0xDFFF for c in k)
)
scalars = (
    st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text().filter(lambda s: "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=10,
)
flat_objects = st.dictionaries(keys, json_values, max_size=5)


def refusal(payload: Any) -> str:
    with pytest.raises(BadRequestError) as caught:
        parse_telemetry(payload, NOW)
    assert caught.value.status == 400
    return caught.value.message


# --- accepted forms -------------------------------------------------------------------------


def test_flat_object_is_stamped_now() -> None:
    assert parse_telemetry({"t": 22.5, "h": 40}, NOW) == [
        DataPoint("t", NOW, 22.5),
        DataPoint("h", NOW, 40),
    ]


def test_timestamped_object_keeps_its_ts() -> None:
    assert parse_telemetry({"ts": TS, "values": {"t": 1}}, NOW) == [DataPoint("t", TS, 1)]


def test_metadata_beside_ts_and_values_is_ignored() -> None:
    payload = {"ts": TS, "values": {"t": 1}, "metadata": {"source": "x"}}
    assert parse_telemetry(payload, NOW) == [DataPoint("t", TS, 1)]


def test_array_of_flat_objects_as_tb_mqtt_client_sends_it() -> None:
    assert parse_telemetry([{"t": 22.5}], NOW) == [DataPoint("t", NOW, 22.5)]


def test_array_mixing_both_forms_keeps_order() -> None:
    payload = [{"ts": TS, "values": {"a": 1}}, {"b": 2}, {"ts": TS + 1, "values": {"a": 3}}]
    assert parse_telemetry(payload, NOW) == [
        DataPoint("a", TS, 1),
        DataPoint("b", NOW, 2),
        DataPoint("a", TS + 1, 3),
    ]


def test_empty_object_and_empty_array_yield_no_points() -> None:
    assert parse_telemetry({}, NOW) == []
    assert parse_telemetry([], NOW) == []
    assert parse_telemetry([{}], NOW) == []
    assert parse_telemetry({"ts": TS, "values": {}}, NOW) == []


def test_object_with_ts_but_no_values_is_flat_telemetry_named_ts() -> None:
    # ThingsBoard decides the form by the presence of both "ts" and "values".
    assert parse_telemetry({"ts": 5, "t": 1}, NOW) == [
        DataPoint("ts", NOW, 5),
        DataPoint("t", NOW, 1),
    ]


def test_json_objects_and_arrays_are_values_of_their_own() -> None:
    payload = {"pos": {"lat": 1.5, "lon": [2, 3]}, "list": [1, "a", None]}
    assert parse_telemetry(payload, NOW) == [
        DataPoint("pos", NOW, {"lat": 1.5, "lon": [2, 3]}),
        DataPoint("list", NOW, [1, "a", None]),
    ]


def test_null_values_are_skipped_as_thingsboard_does() -> None:
    assert parse_telemetry({"a": None, "b": 1}, NOW) == [DataPoint("b", NOW, 1)]


def test_ts_bounds_are_accepted() -> None:
    assert parse_telemetry({"ts": 0, "values": {"a": 1}}, NOW)[0].ts == 0
    assert parse_telemetry({"ts": MAX_TS, "values": {"a": 1}}, NOW)[0].ts == MAX_TS


def test_exactly_the_maximum_number_of_points_is_accepted() -> None:
    payload = {f"k{i}": i for i in range(MAX_POINTS_PER_MESSAGE)}
    assert len(parse_telemetry(payload, NOW)) == MAX_POINTS_PER_MESSAGE


def test_bytes_are_parsed_as_json_first() -> None:
    raw = json.dumps([{"ts": TS, "values": {"t": 22.5, "on": True}}]).encode()
    assert parse_telemetry_bytes(raw, NOW) == [
        DataPoint("t", TS, 22.5),
        DataPoint("on", TS, True),
    ]


@given(flat_objects)
def test_every_flat_object_becomes_one_point_per_key_stamped_now(values: dict[str, Any]) -> None:
    points = parse_telemetry(values, NOW)
    assert [(p.key, p.value) for p in points] == list(values.items())
    assert {p.ts for p in points} <= {NOW}


@given(st.lists(st.tuples(st.integers(0, MAX_TS), flat_objects), max_size=4))
def test_every_timestamped_array_round_trips(entries: list[tuple[int, dict[str, Any]]]) -> None:
    payload = [{"ts": ts, "values": values} for ts, values in entries]
    expected = [DataPoint(k, ts, v) for ts, values in entries for k, v in values.items()]
    assert parse_telemetry_bytes(json.dumps(payload).encode(), NOW) == expected


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [1, "text", True, None, 2.5])
def test_scalars_are_refused_naming_the_expected_forms(payload: Any) -> None:
    assert "expected a JSON object" in refusal(payload)


@pytest.mark.parametrize("payload", [[1], [[{"a": 1}]], [{"a": 1}, "x"], [None]])
def test_arrays_of_anything_but_objects_are_refused(payload: Any) -> None:
    assert "expected a JSON object" in refusal(payload)


@pytest.mark.parametrize("key", ["", " ", "\t", "k" * (KEY_MAX_LENGTH + 1)])
def test_empty_blank_or_overlong_keys_are_refused(key: str) -> None:
    assert "keys must be 1 to 255 characters" in refusal({key: 1})
    assert "keys must be 1 to 255 characters" in refusal({"ts": TS, "values": {key: 1}})


def test_key_of_maximum_length_is_accepted() -> None:
    assert parse_telemetry({"k" * KEY_MAX_LENGTH: 1}, NOW)[0].key == "k" * KEY_MAX_LENGTH


@pytest.mark.parametrize("ts", [-1, 1.5, 1e12, "1700000000000", True, None, MAX_TS + 1, [1]])
def test_ts_that_is_not_a_non_negative_integer_is_refused(ts: Any) -> None:
    assert '"ts" must be a non-negative integer' in refusal({"ts": ts, "values": {"a": 1}})


@pytest.mark.parametrize("values", [[1, 2], 1, "x", None, [{"a": 1}]])
def test_values_that_are_not_an_object_are_refused(values: Any) -> None:
    assert '"values" must be a JSON object' in refusal({"ts": TS, "values": values})


def test_unknown_keys_beside_ts_and_values_are_refused() -> None:
    assert "only" in refusal({"ts": TS, "values": {"a": 1}, "temperature": 3})


def test_more_points_than_the_maximum_are_refused() -> None:
    payload = [{f"k{i}": i for i in range(MAX_POINTS_PER_MESSAGE // 2 + 1)}] * 2
    assert "Too many data points" in refusal(payload)


def test_values_nested_too_deeply_are_refused() -> None:
    value: Any = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        value = [value]
    assert "nested deeper" in refusal({"deep": value})


def test_text_with_nul_characters_is_refused() -> None:
    assert "NUL" in refusal({"a": "x\x00y"})
    assert "NUL" in refusal({"a\x00": 1})


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"not json", b'{"a": NaN}', b"\xff\xfe", b'{"a": 1e999}']
)
def test_malformed_json_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_telemetry_bytes(raw, NOW)
    assert "telemetry" in caught.value.message


@pytest.mark.parametrize(
    "payload",
    [
        {"ts": SECRET_VALUE, "values": {"a": 1}},
        {"ts": TS, "values": SECRET_VALUE},
        {"ts": TS, "values": {"a": 1}, SECRET_VALUE: 1},
        [SECRET_VALUE],
        SECRET_VALUE,
        {SECRET_VALUE * 20: 1},
    ],
)
def test_refusals_never_echo_what_was_sent(payload: Any) -> None:
    assert SECRET_VALUE not in refusal(payload)


# --- reads and rendering --------------------------------------------------------------------


def test_keys_are_split_trimmed_and_empty_means_all() -> None:
    assert parse_keys("a, b,,c ") == ["a", "b", "c"]
    assert parse_keys("") is None
    assert parse_keys(None) is None
    assert parse_keys(" , ") is None


def test_range_query_defaults_to_newest_first() -> None:
    query = range_query(["a"], 1, 2, 10, "DESC")
    assert (query.start_ts, query.end_ts, query.limit, query.newest_first) == (1, 2, 10, True)
    assert range_query(None, 1, 1, 1, "asc").newest_first is False


@pytest.mark.parametrize(
    ("start", "end", "limit", "order"),
    [
        (2, 1, 10, "DESC"),
        (-1, 1, 10, "DESC"),
        (1, 2, 0, "DESC"),
        (1, 2, MAX_READ_LIMIT + 1, "DESC"),
        (1, 2, 10, "SIDEWAYS"),
    ],
)
def test_bad_range_parameters_are_refused(start: int, end: int, limit: int, order: str) -> None:
    with pytest.raises(BadRequestError):
        range_query(None, start, end, limit, order)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (22.5, "22.5"),
        (2.0, "2.0"),
        (40, "40"),
        (True, "true"),
        (False, "false"),
        ("22.5", "22.5"),
        ("", ""),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
        ([1, None], "[1,null]"),
        ("Zähler", "Zähler"),
    ],
)
def test_values_render_as_thingsboard_strings(value: Any, text: str) -> None:
    assert value_as_text(value) == text


def test_timeseries_json_groups_by_key_in_order_and_respects_strict_types() -> None:
    points = [DataPoint("a", 2, 1.5), DataPoint("b", 2, True), DataPoint("a", 1, {"x": 1})]
    assert timeseries_json(points, strict_types=False) == {
        "a": [{"ts": 2, "value": "1.5"}, {"ts": 1, "value": '{"x":1}'}],
        "b": [{"ts": 2, "value": "true"}],
    }
    assert timeseries_json(points, strict_types=True) == {
        "a": [{"ts": 2, "value": 1.5}, {"ts": 1, "value": {"x": 1}}],
        "b": [{"ts": 2, "value": True}],
    }


@given(json_values)
def test_stored_json_reads_back_as_the_same_value_and_type(value: Any) -> None:
    text = value_json(value)
    assert json.loads(text) == value
    assert type(json.loads(text)) is type(value)
    assert text == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
