"""Per-request plumbing: request ids, body checks (content type, size, JSON) and access logs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from app.errors import problem_response
from app.problems import PROBLEM_TYPES

F = TypeVar("F", bound=Callable[..., Any])
JSON_TYPES = ("application/json",)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("unioncard.access")


def accepts(*mimetypes: str, max_bytes: int | None = None) -> Callable[[F], F]:
    """Declare the body media types (and size limit) a view method accepts; JSON by default."""

    def decorate(view: F) -> F:
        view._accepts = mimetypes  # type: ignore[attr-defined]
        view._max_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return decorate


def _view_method() -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def _check_body() -> Response | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    method = _view_method()
    if method is None:
        return None  # 404/405 follow from routing
    accepted = getattr(method, "_accepts", JSON_TYPES)
    length = request.content_length
    has_body = bool(length) or request.headers.get("Transfer-Encoding") == "chunked"
    if not has_body:
        return None
    if request.mimetype not in accepted:
        return problem_response(
            PROBLEM_TYPES["unsupported-media-type"],
            f"Content-Type {request.mimetype or '(none)'} is not accepted here; "
            f"send {' or '.join(accepted)}.",
        )
    limit = getattr(method, "_max_bytes", None)
    if limit is None and request.mimetype in JSON_TYPES:
        limit = int(current_app.config["JSON_MAX_BYTES"])
    if limit is not None and length is not None and length > limit:
        return problem_response(PROBLEM_TYPES["payload-too-large"],
                                f"The body is larger than {limit} bytes.")
    if request.mimetype in JSON_TYPES:
        raw = request.get_data(cache=True)
        if limit is not None and len(raw) > limit:
            return problem_response(PROBLEM_TYPES["payload-too-large"],
                                    f"The body is larger than {limit} bytes.")
        try:
            json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return problem_response(PROBLEM_TYPES["malformed-json"],
                                    "The body is not valid UTF-8 JSON.")
    return None


def _before() -> Response | None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    return _check_body()


def _after(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    principal = g.get("principal")
    record = {
        "event": "request",
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,  # never the query string: it may hold search terms or IDs
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                             * 1000, 2),
        "remote_addr": request.remote_addr,
        "principal": principal.subject if principal is not None else None,
    }
    access_log.info(json.dumps(record, ensure_ascii=False))
    return response


class JsonLineFormatter(logging.Formatter):
    """Log records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        try:
            payload = json.loads(message)
            if not isinstance(payload, dict):
                raise ValueError
        except ValueError:
            payload = {"message": message}
        payload = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                   "logger": record.name, **payload}
        if record.exc_info:
            payload["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    """Send the ``unioncard`` loggers to stderr as JSON lines (once per process)."""
    logger = logging.getLogger("unioncard")
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())
    if not any(getattr(h, "_unioncard", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLineFormatter())
        handler._unioncard = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


def init_app(app: Flask) -> None:
    """Register the request hooks."""
    app.before_request(_before)
    app.after_request(_after)
