"""Every error response as RFC 9457 ``application/problem+json``, produced in one place."""

from __future__ import annotations

import http
import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, g, json, request
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.problems import PROBLEM_TYPES, ProblemType, for_status
from app.services.errors import DomainError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("unioncard.errors")


class FieldErrorSchema(ma.Schema):
    """One invalid field."""

    location = ma.fields.String(metadata={"description": "json, query, path, form or files"})
    field = ma.fields.String(metadata={"description": "dotted path of the field"})
    pointer = ma.fields.String(metadata={"description": "JSON pointer, e.g. #/birth_date"})
    detail = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only)."""

    type = ma.fields.String(metadata={"description": "URI of the problem type; see /problems/"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    request_id = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema))


def _flatten(messages: Any, location: str, path: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Turn marshmallow's nested messages into a flat list of field errors."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(_flatten(value, location, (*path, str(key))))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            for text in messages:
                out.append(_field_error(location, path, text))
        else:
            for index, value in enumerate(messages):
                out.extend(_flatten(value, location, (*path, str(index))))
    else:
        out.append(_field_error(location, path, str(messages)))
    return out


def _field_error(location: str, path: tuple[str, ...], text: str) -> dict[str, str]:
    field = ".".join(path) if path else "_schema"
    pointer = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    return {"location": location, "field": field, "pointer": pointer, "detail": text}


# webargs locations -> the location named in a problem's field errors
_LOCATIONS = {"json": "json", "json_or_form": "body", "form": "body", "query": "query",
              "querystring": "query", "path": "path", "view_args": "path", "files": "files",
              "headers": "headers", "cookies": "cookies"}


def field_errors(messages: Any) -> list[dict[str, str]]:
    """Field errors from webargs' ``{location: {field: [msg]}}`` (or a bare field mapping)."""
    if isinstance(messages, dict) and set(messages) <= set(_LOCATIONS):
        out: list[dict[str, str]] = []
        for location, inner in messages.items():
            out.extend(_flatten(inner, _LOCATIONS[location]))
        return out
    return _flatten(messages, "json")


def problem_response(
    problem: ProblemType,
    detail: str | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a problem+json response."""
    status = status or problem.status
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": status,
        "detail": detail or problem.description,
        "instance": request.path,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api whose errors are RFC 9457 problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        """Document the shared error responses (e.g. 422 of every argument schema) with
        the media type they are served as."""
        from flask_smorest.utils import prepare_response

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Map any HTTPException (including unhandled errors wrapped as 500) to a problem."""
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if code == 429:
            problem = PROBLEM_TYPES["rate-limited"]
            retry_after = error.get_headers().__iter__()
            for name, value in retry_after:
                if name.lower() == "retry-after":
                    headers["Retry-After"] = value
            return problem_response(problem, f"Rate limit exceeded ({error.description}).",
                                    headers=headers)
        if code >= 500:
            original = getattr(error, "original_exception", None)
            if isinstance(error, InternalServerError) and original is not None:
                log.error("unhandled error", exc_info=original)
            return problem_response(for_status(code), headers=headers)
        messages = data.get("errors") or data.get("messages")
        if code == 400 and messages == {"json": ["Invalid JSON body."]}:
            return problem_response(PROBLEM_TYPES["malformed-json"])
        if messages:
            problem = PROBLEM_TYPES["validation-error"] if code == 422 else for_status(code)
            return problem_response(problem, data.get("message"), status=code, headers=headers,
                                    errors=field_errors(messages))
        detail = data.get("message")
        if detail is None and code == 405:
            detail = f"{request.method} is not allowed here."
            allowed = error.get_headers()
            headers.update({k: v for k, v in allowed if k.lower() == "allow"})
        if detail is None and code == 404:
            detail = "No such resource, or it lies outside your scope."
        if detail is None and code == 413:
            detail = "The request body is too large."
        return problem_response(for_status(code), detail, status=code, headers=headers)


def _handle_domain_error(error: DomainError) -> Response:
    problem = PROBLEM_TYPES.get(error.slug) or for_status(error.status)
    return problem_response(problem, error.detail, status=error.status, headers=error.headers,
                            errors=error.errors or None, **error.extra)


def _handle_integrity_error(error: IntegrityError) -> Response:
    """A write lost a race with a concurrent one on a unique key (the service checks first,
    so only simultaneous requests get here): 409, never 500."""
    from app.extensions import db

    db.session.rollback()
    log.warning("integrity error answered as 409: %s", type(error.orig).__name__)
    return problem_response(PROBLEM_TYPES["conflict"],
                            "The request conflicts with a change made at the same time; "
                            "reload and try again.")


def register_error_handlers(app: Flask) -> None:
    """Map domain errors to problems (HTTP errors are mapped by ``ProblemApi``)."""
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(IntegrityError, _handle_integrity_error)
