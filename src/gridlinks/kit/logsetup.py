"""Where log records go: stderr, one record per line, as text or as JSON.

``text`` (the default) is ``OneLineFormatter``: control characters escaped, tracebacks indented.
``json`` renders each standard-library record as one JSON object through structlog's
``ProcessorFormatter``, so every ``logging.getLogger(...)`` call keeps working; the fields a call
passes with ``extra=`` (``client``, ``user_id``, ``device_id``, ``status``...) become keys of
their own. JSON escapes every control character, so a JSON record is one line too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Literal

import structlog
from structlog.typing import EventDict, WrappedLogger

from gridlinks.kit.logtext import OneLineFormatter

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """``{"timestamp", "level", "logger", "message", ...extra fields, "exception"}``."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.EventRenamer("message"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def _drop_color_message(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """uvicorn adds a copy of its message with terminal colour codes: not for a log file."""
    event.pop("color_message", None)
    return event


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return json_formatter()
    return OneLineFormatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: LogFormat, quiet: Iterable[str] = ()) -> None:
    """Log to stderr at ``level`` in ``log_format``; the ``quiet`` loggers (drivers that log
    SQL with its parameters) only from WARNING on."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(mask_query_tokens)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


_QUERY_TOKEN = re.compile(r"([?&]token=)[^&\s\"]*")


def mask_query_tokens(record: logging.LogRecord) -> bool:
    """uvicorn logs WebSocket paths with their query string, and the live API takes its JWT
    there (``/api/ws/plugins/telemetry?token=...``): never write it."""
    if record.name.startswith("uvicorn") and "token=" in record.getMessage():
        record.msg = _QUERY_TOKEN.sub(r"\1***", record.getMessage())
        record.args = None
    return True
