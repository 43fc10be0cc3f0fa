"""Request hooks: a request id on every request, the access log line, and response headers."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("unioncard.access")


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    principal = g.get("principal")
    access_log.info("request", extra={
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,  # never the query string: it may hold search terms or IDs
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                             * 1000, 2),
        "remote_addr": request.remote_addr,
        "principal": principal.subject if principal is not None else None,
    })
    return response


def init_app(app: Flask) -> None:
    """Register the hooks (before any other ``before_request``, so errors carry the id)."""
    app.before_request(_start)
    app.after_request(_finish)
