"""How the docs test reads examples and compares outputs, checked on small documents: a wrong
output must fail, placeholders must match only what they stand for."""

from __future__ import annotations

import pytest

from tests.docs.markdown_examples import ConventionError, Output, examples, mismatch

DOCUMENT = """# A doc

```sh
echo one
```

```text
one
```

<!-- not-run: starts a server -->
```sh
scripts/serve
```

```sh
echo two
```

Some prose between.

```json
{"a": 1}
```

```python
print("three")
```
"""


def test_examples_are_the_runnable_blocks_in_order_without_the_not_run_ones() -> None:
    found = examples(DOCUMENT)

    assert [(e.line, e.language, e.code) for e in found] == [
        (3, "sh", "echo one"),
        (16, "sh", "echo two"),
        (26, "python", 'print("three")'),
    ]


def test_an_output_is_the_block_right_after_an_example_and_prose_ends_it() -> None:
    first, second, _ = examples(DOCUMENT)

    assert first.output == Output(7, "text", "one")
    assert second.output is None


def test_a_not_run_marker_without_a_reason_is_refused() -> None:
    with pytest.raises(ConventionError, match="line 2: a not-run marker must give its reason"):
        examples("<!-- not-run: -->\n```sh\nrm -rf /\n```\n")


def test_a_console_block_is_refused_with_what_to_write_instead() -> None:
    with pytest.raises(ConventionError, match="as an sh block"):
        examples("```console\n$ echo hi\nhi\n```\n")


def json_output(text: str) -> Output:
    return Output(1, "json", text)


def text_output(text: str) -> Output:
    return Output(1, "text", text)


def test_json_outputs_compare_values_not_layout() -> None:
    documented = json_output('{\n  "a": [1, 2],\n  "b": "x"\n}\n"CLAIMED"')

    assert mismatch(documented, '{"b":"x","a":[1,2]}"CLAIMED"') is None


def test_a_json_value_that_differs_is_named_with_its_path() -> None:
    problem = mismatch(json_output('{"response": "SUCCESS"}'), '{"response":"FAILURE"}')

    assert problem == 'value 1.response: documented "SUCCESS", printed "FAILURE"'


def test_a_json_number_is_not_the_same_string() -> None:
    assert mismatch(json_output('{"value": 60}'), '{"value":"60"}') is not None


def test_uuid_and_ts_placeholders_match_only_ids_and_epoch_milliseconds() -> None:
    documented = json_output('{"id": "<uuid>", "createdTime": <ts>}')

    assert (
        mismatch(
            documented, '{"id":"2d341a34-f4c4-4adf-874d-c2d1b0e7a8b1","createdTime":1795660672400}'
        )
        is None
    )
    assert mismatch(documented, '{"id":"not-an-id","createdTime":1795660672400}') is not None
    assert (
        mismatch(
            documented,
            '{"id":"2d341a34-f4c4-4adf-874d-c2d1b0e7a8b1","createdTime":"1795660672400"}',
        )
        is not None
    )


def test_a_placeholder_inside_a_json_string_matches_part_of_it() -> None:
    documented = json_output('{"message": "Invalid JSON ... position 15", "token": "<jwt>"}')

    assert (
        mismatch(
            documented, '{"message":"Invalid JSON in telemetry at position 15","token":"a.b.c"}'
        )
        is None
    )


def test_printed_text_that_is_not_json_fails_a_json_output() -> None:
    problem = mismatch(json_output('{"a": 1}'), "curl: (7) Failed to connect")

    assert problem is not None and problem.startswith("the printed output is not JSON")


def test_empty_printed_output_does_not_match_a_documented_value() -> None:
    assert mismatch(json_output("null"), "") == "0 JSON values printed, 1 documented"


def test_text_outputs_compare_lines_with_placeholders_and_elided_lines() -> None:
    documented = text_output("HTTP/1.1 200 OK\ndate: ...\n...\ncontent-length: 0")

    printed = "HTTP/1.1 200 OK\r\ndate: Tue, 01 Dec 2026\r\nserver: x\r\ncontent-length: 0\r\n\r\n"
    assert mismatch(documented, printed) is None
    assert (
        mismatch(documented, "HTTP/1.1 400 Bad Request\ndate: now\ncontent-length: 0") is not None
    )
