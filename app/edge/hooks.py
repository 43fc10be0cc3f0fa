"""Request hooks: a request id on every request, the access log line, and response headers
(framing, content security and referrer policies; no caching of authenticated API responses)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("unioncard.access")

#: Pages load scripts, styles and images from this origin only (the templates hold no inline
#: script or style) and may not be framed (clickjacking).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; manifest-src 'self'; worker-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: Anything else (JSON, CSV, PDF, images) is never a document that runs or embeds anything.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    principal = g.get("principal")
    _security_headers(response, authenticated=principal is not None)
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


def _security_headers(response: Response, *, authenticated: bool) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Content-Security-Policy",
                       PAGE_CSP if response.mimetype == "text/html" else OTHER_CSP)
    if request.path.startswith("/api/"):
        # member data, personal IDs, tokens: no shared or browser cache may keep them. Public,
        # unauthenticated documents (status lists, keys) set their own caching.
        if authenticated and "no-store" not in headers.get("Cache-Control", ""):
            headers["Cache-Control"] = "no-store"
        headers.setdefault("Cache-Control", "no-store")


def init_app(app: Flask) -> None:
    """Register the hooks (before any other ``before_request``, so errors carry the id)."""
    app.before_request(_start)
    app.after_request(_finish)
