"""The JSON log formatter and the per-platform metrics registry, without a server."""

from __future__ import annotations

import json
import logging
import sys

from gridlinks.kit.logsetup import json_formatter
from gridlinks.kit.metrics import Metrics, outcome_label


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("gridlinks.http", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_record_is_one_line_with_extra_fields_as_keys() -> None:
    record = _record("GET %s -> %d", "/x\n\x1b[2K", 200, status=200, client="127.0.0.1:1")
    text = json_formatter().format(record)
    assert "\n" not in text and "\x1b" not in text
    parsed = json.loads(text)
    assert parsed["message"] == "GET /x\n\x1b[2K -> 200"
    assert (parsed["status"], parsed["client"], parsed["logger"]) == (
        200,
        "127.0.0.1:1",
        "gridlinks.http",
    )
    assert parsed["level"] == "info"


def test_a_json_record_with_a_traceback_stays_one_line() -> None:
    try:
        raise ValueError("bad\nworse")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    text = json_formatter().format(record)
    assert "\n" not in text
    assert "ValueError: bad\nworse" in json.loads(text)["exception"]


def test_two_platforms_metrics_keep_their_own_counts() -> None:
    first, second = Metrics(), Metrics()
    first.claims.labels("claimed").inc()
    assert first.registry.get_sample_value("gridlinks_claims_total", {"outcome": "claimed"}) == 1
    assert (
        second.registry.get_sample_value("gridlinks_claims_total", {"outcome": "claimed"}) is None
    )


def test_outcomes_become_label_values() -> None:
    assert outcome_label("wrong key") == "wrong_key"
    assert outcome_label("Server-Busy") == "server_busy"
