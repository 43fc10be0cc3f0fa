"""Request bodies: the media types and size a view accepts, checked before the view runs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest

from app.edge.problems import PROBLEM_TYPES, problem_response

F = TypeVar("F", bound=Callable[..., Any])
JSON_TYPES = ("application/json",)
#: The form media types whose fields werkzeug parses into ``request.form`` (and ``files``).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: Arrays and objects nested deeper than this are refused before any parser sees them: Python's
#: ``json`` recurses once per level (5,000 levels raised RecursionError, a 500).
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
#: A NUL escape in JSON text (``\u0000``), not an escaped backslash followed by ``u0000``.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def accepts(*mimetypes: str, max_bytes: int | None = None) -> Callable[[F], F]:
    """Declare the body media types (and size limit) a view method accepts; JSON by default."""

    def decorate(view: F) -> F:
        view._accepts = mimetypes  # type: ignore[attr-defined]
        view._max_bytes = max_bytes  # type: ignore[attr-defined]
        return view

    return decorate


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, found without recursion
    (brackets inside strings do not count)."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return raw.count(b"[") + raw.count(b"{")  # an upper bound, and small enough
    brackets = _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", raw))
    steps = (1 if step == 1 else -1 for step in brackets.translate(_DEPTH_STEPS))
    return max(accumulate(steps, initial=0))


def _is_json(mimetype: str) -> bool:
    return mimetype in JSON_TYPES or (mimetype.startswith("application/")
                                      and mimetype.endswith("+json"))


def _too_deep() -> Response:
    return problem_response(PROBLEM_TYPES["json-too-deep"],
                            f"The body nests arrays or objects deeper than {MAX_JSON_DEPTH} "
                            "levels.")


def _view_method() -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, request.method.lower(), None)
    return view


def check_body() -> Response | None:
    """Refuse a body of a type the view does not accept, too large, nested too deeply, or not
    valid JSON."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return _check_other_json_body()
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
        if json_depth(raw) > MAX_JSON_DEPTH:
            return _too_deep()
        try:
            # a lone surrogate escape ("\\ud800") is valid JSON but no UTF-8 text: re-encoding
            # finds it here, before a database driver fails on it (a 500)
            text = json.dumps(json.loads(raw.decode("utf-8")), ensure_ascii=False)
            text.encode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError, ValueError):
            return problem_response(PROBLEM_TYPES["malformed-json"],
                                    "The body is not valid UTF-8 JSON.")
        except RecursionError:  # cannot happen below MAX_JSON_DEPTH; never a 500 if it does
            return _too_deep()
        if _NUL_ESCAPE.search(text):  # PostgreSQL text cannot hold NUL (psycopg: a 500)
            return problem_response(PROBLEM_TYPES["malformed-json"],
                                    "The body holds a NUL character (\\u0000).")
    return None


def _bad_request(detail: str) -> BadRequest:
    """A 400 whose ``detail`` the API's problem carries (pages show their own 400 page)."""
    error = BadRequest(detail)
    error.data = {"message": detail}  # type: ignore[attr-defined]
    return error


def _holds_nul(pairs: Iterable[tuple[str | None, Any]]) -> bool:
    # a multipart part whose name werkzeug cannot read (a line break in it) has None for a key
    return any("\x00" in (key or "") or "\x00" in str(value) for key, value in pairs)


def check_url_text() -> None:
    """Refuse a NUL character in the path or the query string (``%00``): no database text
    can hold it (PostgreSQL refuses it, a 500 before this check).

    Raises:
        BadRequest: the URL holds a NUL.
    """
    if "\x00" in request.path or _holds_nul(request.args.items(multi=True)):
        raise _bad_request("The URL holds a NUL character (%00).")


def check_form_text() -> None:
    """Refuse a NUL character in a form body's field names or values, or in an uploaded
    file's name (``%00``), on every endpoint and method, before any view reads the form: no
    database text can hold it (psycopg refuses it, a 500 on PostgreSQL). The files' content
    is not text and is not checked.

    Raises:
        BadRequest: the form holds a NUL.
    """
    if request.mimetype not in FORM_TYPES:
        return
    if _holds_nul(request.form.items(multi=True)) or any(
            "\x00" in (name or "") or "\x00" in (upload.filename or "")
            for name, upload in request.files.items(multi=True)):
        raise _bad_request("The form holds a NUL character (%00).")


def _check_other_json_body() -> Response | None:
    """A JSON body on another method (GET, DELETE) is not checked further, but a parser such
    as webargs' may still read it: refuse it if it is too large, nested too deeply or holds
    a NUL escape."""
    if not _is_json(request.mimetype) or not (
            request.content_length or request.headers.get("Transfer-Encoding") == "chunked"):
        return None
    limit = int(current_app.config["JSON_MAX_BYTES"])
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        return problem_response(PROBLEM_TYPES["payload-too-large"],
                                f"The body is larger than {limit} bytes.")
    if json_depth(raw) > MAX_JSON_DEPTH:
        return _too_deep()
    if b"\x00" in raw or _NUL_ESCAPE.search(raw.decode("utf-8", "replace")):
        return problem_response(PROBLEM_TYPES["malformed-json"],
                                "The body holds a NUL character (\\u0000).")
    return None


class UnreadableBody(BadRequest):
    """The server could not read the request body (a malformed chunk, a body cut short)."""

    description = "The request body could not be read (malformed chunked encoding, or cut short)."


class _GuardedInput:
    """The server's ``wsgi.input`` whose read errors are a client's fault: gunicorn raises its
    own parse errors (``InvalidChunkSize``, ...) from ``read``, which would be a 500."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, name)(*args)
        except Exception as exc:
            raise UnreadableBody() from exc

    def read(self, *args: Any) -> bytes:
        return bytes(self._guard("read", *args))

    def readline(self, *args: Any) -> bytes:
        return bytes(self._guard("readline", *args))

    def readlines(self, *args: Any) -> list[bytes]:
        return list(self._guard("readlines", *args))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def _guard_input(wsgi_app: Callable[..., Any]) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = _GuardedInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)

    return app


def init_app(app: Flask) -> None:
    """Check bodies before the views (after ``hooks`` has given the request its id); a body
    the server cannot read is a 400."""
    app.wsgi_app = _guard_input(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(check_url_text)
    app.before_request(check_body)
    app.before_request(check_form_text)  # after check_body: its type and size checks first
