"""Log configuration for `appeals serve`, `demo` and `worker`, with secret links redacted from
every line.

A supporter's `/confirm/<token>` and `/s/<token>` links are the only key to their signature:
whoever holds one can read, export or erase it. uvicorn's access log writes each request's path
and query string, and our own loggers write paths of failed requests, so a log reader would
hold every link. `RedactingFilter` sits on every handler (filters on a handler see the records
of all loggers that reach it, unlike filters on a logger) and rewrites each record before it is
formatted:

- the path segment after a token-carrying prefix (`TOKEN_PATH_PREFIXES`) becomes `[redacted]`;
- a query value becomes `[redacted]` when its name says secret (token, key, code, ...) or the
  value looks like a generated secret (32 or more URL-safe characters);
- a traceback is formatted once and redacted the same way.

The request line stays readable: `"GET /s/[redacted]/data.json HTTP/1.1" 200`.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"

# The public routes whose next path segment is a link token (app/signatures/pages.py);
# tests/test_log_redaction.py checks every route with a `{token}` segment is covered.
TOKEN_PATH_PREFIXES = ("/confirm/", "/s/")

_PATH_TOKEN = re.compile(
    "(" + "|".join(re.escape(prefix) for prefix in TOKEN_PATH_PREFIXES) + r")[^/?#\s\"']+"
)
# A query parameter: after `?` or `&`, a name, `=`, a value up to the next separator.
_QUERY_PARAM = re.compile(r"([?&;])([^=&;#\s\"']*)=([^&;#\s\"']*)")
_SECRET_NAME = re.compile(r"token|secret|key|code|password|passwd|auth|sig|session", re.I)
_SECRET_VALUE = re.compile(r"[A-Za-z0-9_\-.~%]{32,}")


def _redact_query_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if value and (_SECRET_NAME.search(name) or _SECRET_VALUE.fullmatch(value)):
        value = REDACTED
    return f"{separator}{name}={value}"


def redact(text: str) -> str:
    """`text` with link tokens in paths and secret-looking query values replaced."""
    return _QUERY_PARAM.sub(_redact_query_param, _PATH_TOKEN.sub(rf"\1{REDACTED}", text))


def _redact_arg(arg: object) -> object:
    if isinstance(arg, str):
        return redact(arg)
    return arg  # the access log's other arguments: client address tuple, status code


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with secrets redacted; never drops a record."""

    _traceback_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            # uvicorn's access formatter unpacks its five arguments itself: redact each.
            record.msg = redact(str(record.msg))
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        else:
            # Merged first, so a token split between the format and an argument (or inside
            # an object's str) is seen whole; redacting is idempotent for the next handler.
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = f"{record.msg} {record.args}"
            record.msg, record.args = redact(message), ()
            # uvicorn's coloured variant would be formatted with the arguments just removed.
            record.__dict__.pop("color_message", None)
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`APPEALS_LOG_FORMAT=json`), for a log collector: time (UTC,
    ISO 8601), level, logger, message, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            entry["traceback"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


def worker_log_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The worker's logging: every line with its time and level (or JSON), secrets redacted."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": RedactingFilter}},
        "formatters": {"worker": formatter},
        "handlers": {
            "worker": {
                "formatter": "worker",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact_secrets"],
            }
        },
        "loggers": {"flufl.bounce": {"level": "WARNING"}},
        "root": {"handlers": ["worker"], "level": level},
    }


def log_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The server's logging: uvicorn's own layout (or, with `fmt` "json", one JSON object a
    line, as the worker's) plus the root logger, every handler behind the filter."""
    redacting = ["redact_secrets"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_secrets": {"()": RedactingFilter}},
        "formatters": _server_formatters(fmt),
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": redacting,
            },
            "app": {
                "formatter": "app",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": redacting,
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": redacting,
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            ACCESS_LOGGER: {"handlers": ["access"], "level": level, "propagate": False},
            # Mailman's bounce detectors log each detector they try, for every message.
            "flufl.bounce": {"level": "WARNING"},
        },
        # Our own loggers (app.*) propagate here; without a root handler their warnings went
        # to logging's last-resort handler, which no filter sees.
        "root": {"handlers": ["app"], "level": level},
    }


def _server_formatters(fmt: str) -> dict[str, Any]:
    if fmt == "json":
        return {name: {"()": JsonFormatter} for name in ("default", "app", "access")}
    return {
        "default": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(message)s",
            "use_colors": None,
        },
        "app": {
            "()": "uvicorn.logging.DefaultFormatter",
            "fmt": "%(levelprefix)s %(name)s: %(message)s",
            "use_colors": None,
        },
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
        },
    }
