"""The catalogue of problem types (RFC 9457): a stable ``type`` slug per kind of error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    """One documented kind of error: its slug, HTTP status, title and explanation."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """The ``type`` member: a relative URI that resolves to this type's documentation."""
        return f"/problems/{self.slug}"


_TYPES = [
    ProblemType("bad-request", 400, "Bad Request", "The request could not be understood."),
    ProblemType("malformed-json", 400, "Malformed JSON",
                "The body is not valid UTF-8 JSON."),
    ProblemType("unauthorized", 401, "Unauthorized",
                "Authentication is missing, expired or invalid. Get a token from /api/v1/auth/token."),
    ProblemType("invalid-credentials", 401, "Invalid credentials",
                "The username or password is wrong, or the account is disabled."),
    ProblemType("forbidden", 403, "Forbidden", "Your role may not perform this action."),
    ProblemType("not-found", 404, "Not Found",
                "No such resource, or it lies outside your scope."),
    ProblemType("method-not-allowed", 405, "Method Not Allowed",
                "The resource exists but does not support this HTTP method."),
    ProblemType("not-acceptable", 406, "Not Acceptable",
                "The resource cannot be represented in the requested media type."),
    ProblemType("conflict", 409, "Conflict", "The request conflicts with the current state."),
    ProblemType("registered-elsewhere", 409, "Registered by another office",
                "The person is a member registered by another union office, which you cannot "
                "see. If they moved to you, ask for a transfer: POST /api/v1/transfers."),
    ProblemType("payload-too-large", 413, "Payload Too Large",
                "The request body is larger than this endpoint accepts."),
    ProblemType("unsupported-media-type", 415, "Unsupported Media Type",
                "The body's Content-Type is not one this endpoint accepts."),
    ProblemType("validation-error", 422, "Validation failed",
                "One or more fields are missing or invalid; see `errors`."),
    ProblemType("rate-limited", 429, "Too Many Requests",
                "Too many requests; retry after the time in the Retry-After header."),
    ProblemType("internal-error", 500, "Internal Server Error",
                "An unexpected error. It has been logged with the request id."),
    ProblemType("service-unavailable", 503, "Service Unavailable",
                "A dependency (the database) is not ready."),
]

PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}
_BY_STATUS: dict[int, ProblemType] = {}
for _t in _TYPES:
    _BY_STATUS.setdefault(_t.status, _t)


def register(slug: str, status: int, title: str, description: str) -> ProblemType:
    """Add a domain-specific problem type (called at import by the modules that raise it)."""
    problem = ProblemType(slug, status, title, description)
    existing = PROBLEM_TYPES.get(slug)
    if existing is not None and existing != problem:
        raise ValueError(f"problem type {slug!r} registered twice with different meanings")
    PROBLEM_TYPES[slug] = problem
    return problem


def for_status(status: int) -> ProblemType:
    """The generic problem type of an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ProblemType(f"http-{status}", status, "Error", "An HTTP error.")
