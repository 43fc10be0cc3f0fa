"""Logging: the ``unioncard`` loggers write one JSON object per event, fields from ``extra=``."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask

#: The attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record carries: its time, level, logger, event, ``extra=`` values, error."""
    fields: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                              "logger": record.name, "event": record.getMessage()}
    fields.update({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES})
    if record.exc_info:
        fields["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON line per record: ``record_fields`` plus the formatted traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    """Send the ``unioncard`` loggers to stderr as JSON lines (once per process)."""
    logger = logging.getLogger("unioncard")
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    if not any(getattr(h, "_unioncard", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler._unioncard = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
