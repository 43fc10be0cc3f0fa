"""Request bodies: the media types and size a view accepts, checked before the view runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

from app.edge.problems import PROBLEM_TYPES, problem_response

F = TypeVar("F", bound=Callable[..., Any])
JSON_TYPES = ("application/json",)


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


def check_body() -> Response | None:
    """Refuse a body of a type the view does not accept, too large, or not valid JSON."""
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


def init_app(app: Flask) -> None:
    """Check bodies before the views (after ``hooks`` has given the request its id)."""
    app.before_request(check_body)
