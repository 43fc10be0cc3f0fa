"""Request size limits the app answers itself as problem+json: a too long URL (414) and too
large header fields (431). The server (gunicorn) is configured with higher limits, so these
answers come from here rather than from its own error page."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

#: The longest URL (path and query string, as sent) the app accepts.
MAX_URL_LENGTH = 4096
#: The largest single header field (name, ": " and value), and all of them together.
MAX_HEADER_FIELD = 4096
MAX_HEADERS_TOTAL = 16 * 1024


def check_request_size() -> None:
    """Refuse a request whose URL or headers exceed the limits.

    Raises:
        RequestURITooLarge: the URL is longer than ``MAX_URL_LENGTH``.
        RequestHeaderFieldsTooLarge: a header field, or all together, is too large.
    """
    environ = request.environ
    url = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not url:
        query = environ.get("QUERY_STRING", "")
        url = environ.get("PATH_INFO", "") + ("?" + query if query else "")
    if len(url) > MAX_URL_LENGTH:
        raise RequestURITooLarge(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    total = 0
    for name, value in request.headers.items():
        size = len(name) + 2 + len(value)
        if size > MAX_HEADER_FIELD:
            raise RequestHeaderFieldsTooLarge(
                f"A header field is larger than {MAX_HEADER_FIELD} bytes.")
        total += size
    if total > MAX_HEADERS_TOTAL:
        raise RequestHeaderFieldsTooLarge(
            f"The header fields are larger than {MAX_HEADERS_TOTAL} bytes together.")


def init_app(app: Flask) -> None:
    """Check every request's size before anything else reads it."""
    app.before_request(check_request_size)
