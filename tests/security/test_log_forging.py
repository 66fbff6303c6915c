"""Nothing a client sends can start a log line of its own: control characters in request paths
(and everything else that reaches a log message) are escaped, tracebacks are indented."""

from __future__ import annotations

import logging
import re
import sys

import httpx
import pytest

from gridlinks.kit.logtext import OneLineFormatter, escape_control_characters
from tests.e2e.mqtt_helpers import wait_until
from tests.e2e.running_server import Server

FORGED = "2026-12-01 00:00:00,000 INFO    gridlinks.http: POST /api/auth/login -> 200 (1.0 ms)"
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("gridlinks.http", logging.INFO, __file__, 1, message, args, None)


def test_control_characters_are_escaped_in_one_line() -> None:
    assert escape_control_characters("a\nb\rc\td\x1b[31me\x00f\x7fg\u2028h") == (
        "a\\nb\\rc\\td\\x1b[31me\\x00f\\x7fg\\u2028h"
    )


def test_printable_text_and_non_ascii_letters_are_kept() -> None:
    assert escape_control_characters("设备 Zähler /api/v1/*** ok") == "设备 Zähler /api/v1/*** ok"


def test_a_formatted_record_with_a_newline_in_its_arguments_is_one_line() -> None:
    formatter = OneLineFormatter("%(levelname)s %(name)s: %(message)s")
    text = formatter.format(_record("GET %s -> %d", "/x\n" + FORGED, 404))
    assert "\n" not in text
    assert "\\n" + FORGED in text


def test_traceback_lines_are_indented_so_none_passes_for_a_record() -> None:
    formatter = OneLineFormatter("%(asctime)s %(message)s")
    try:
        raise ValueError("bad\n" + FORGED)
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    lines = formatter.format(record).splitlines()
    assert _RECORD_START.match(lines[0])
    assert all(line.startswith("  ") for line in lines[1:])


@pytest.mark.e2e
def test_a_newline_in_a_request_path_does_not_forge_a_server_log_line(server: Server) -> None:
    forged_path = "/api/nothing%0A" + FORGED.replace(" ", "%20") + "%0D%1B[2K"
    response = httpx.get(server.base_url + forged_path, timeout=10)
    assert response.status_code == 404
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        client.get("/api/noauth/after-the-forgery")  # a later line proves the first is written
    # The request line is logged once the answer is sent: wait for it.
    wait_until(lambda: "after-the-forgery" in server.log_text(), "the second request logged")
    log = server.log_text()
    lines = log.splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    forged_lines = [line for line in lines if "/api/nothing" in line]
    assert len(forged_lines) == 1
    assert "\\n2026-12-01" in forged_lines[0]
    assert "\\r\\x1b[2K" in forged_lines[0]
    assert "\x1b" not in log
