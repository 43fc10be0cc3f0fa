"""Logging: one JSON object per event, fields from ``extra=``; tracebacks inside the event,
without data (no exception messages, no local variables, no bound parameters)."""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

from flask import Flask
from flask.logging import default_handler

#: The attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}
#: A query string inside a logged request line or URI (it may hold personal IDs or tokens).
_QUERY_STRING = re.compile(r"\?[^\s\"']*")
#: Loggers of the frameworks around the app that also get JSON lines (Flask's own is added).
FRAMEWORK_LOGGERS = ("werkzeug",)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries: its time, level, logger, event, ``extra=`` values, error."""
    fields: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                              "logger": record.name, "event": record.getMessage()}
    fields.update({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES})
    if record.exc_info:
        fields["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
    return fields


def format_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and of its causes: where each was raised and its type, but
    not its message, which may quote data (a bound parameter, a database row, a cell)."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "During handling, another exception occurred:"
        else:
            current = None
    parts: list[str] = []
    for exc, following in reversed(chain):
        kind = type(exc)
        frames = "".join(traceback.extract_tb(exc.__traceback__).format())
        parts.append(f"Traceback (most recent call last):\n{frames}"
                     f"{kind.__module__}.{kind.__qualname__}\n")
        if following:
            parts.append(f"\n{following}\n\n")
    return "".join(parts).rstrip("\n")


class JsonFormatter(logging.Formatter):
    """One JSON line per record: ``record_fields`` plus the traceback (``format_traceback``)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        if record.exc_info and record.exc_info[1] is not None:
            fields["exc"] = format_traceback(record.exc_info[1])
        return json.dumps(fields, ensure_ascii=False, default=str)


class NoQueryStrings(logging.Filter):
    """Cut query strings out of the arguments of framework log lines (request lines, URIs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_QUERY_STRING.sub("", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str) and not record.args:
            record.msg = _QUERY_STRING.sub("", record.msg)
        return True


def json_handler() -> logging.Handler:
    """A stderr handler writing ``JsonFormatter`` lines, with query strings cut out."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(NoQueryStrings())
    handler._unioncard = True  # type: ignore[attr-defined]
    return handler


def _own(logger: logging.Logger, level: str | int) -> None:
    """Make ``logger`` write only JSON lines to stderr."""
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if handler is default_handler or getattr(handler, "_unioncard", False):
            logger.removeHandler(handler)
    logger.addHandler(json_handler())
    logger.propagate = False


def configure_logging(app: Flask) -> None:
    """Send the ``unioncard`` loggers, Flask's and werkzeug's to stderr as JSON lines."""
    level = str(app.config["LOG_LEVEL"]).upper()
    _own(logging.getLogger("unioncard"), level)
    _own(app.logger, level)
    for name in FRAMEWORK_LOGGERS:
        _own(logging.getLogger(name), logging.INFO)
