"""Log lines an attacker cannot forge.

Request paths, device names and e-mail addresses reach log messages; a ``%0A`` in a path would
otherwise start a new, fake log line. Every control character in a message is written as an
escape (``\\n``, ``\\x1b``...), and the lines of a traceback are indented, so each record starts at
the beginning of exactly one line and nothing else does.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTINUATION_INDENT = "  "


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control_characters(text: str) -> str:
    """``text`` on one line: control characters (C0, DEL, C1, line separators) escaped."""
    return _CONTROL.sub(_escape_one, text)


def indent_continuation(text: str) -> str:
    """A multi-line block (a traceback) with every line indented and other control characters
    escaped, so none of its lines can pass for a log record of its own."""
    lines = text.splitlines()
    return "\n".join(_CONTINUATION_INDENT + escape_control_characters(line) for line in lines)


class OneLineFormatter(logging.Formatter):
    """``logging.Formatter`` whose message is always one line (tracebacks follow, indented)."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_control_characters(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + indent_continuation(record.exc_text)
        if record.stack_info:
            text += "\n" + indent_continuation(self.formatStack(record.stack_info))
        return text
