"""Domain errors, mapped to RFC 9457 problems by ``app.errors``."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure of a service; ``slug`` names its problem type."""

    status = 400
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra


class NotFound(DomainError):
    """The resource does not exist or is outside the caller's scope."""

    status = 404
    slug = "not-found"


class Conflict(DomainError):
    """The request conflicts with existing state (a duplicate, a wrong state transition)."""

    status = 409
    slug = "conflict"


class ValidationFailed(DomainError):
    """One or more fields are invalid (beyond what the schema checks)."""

    status = 422
    slug = "validation-error"

    @classmethod
    def field(cls, field: str, detail: str) -> "ValidationFailed":
        """An error about one JSON field."""
        pointer = "#/" + field.replace(".", "/")
        return cls(detail, errors=[{"location": "json", "field": field, "pointer": pointer,
                                    "detail": detail}])


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str = "Authentication required.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="unioncard"'})
        super().__init__(detail, **kwargs)


class InvalidCredentials(Unauthenticated):
    """The username/password (or client secret) is wrong."""

    slug = "invalid-credentials"


class Forbidden(DomainError):
    """The caller's role may not perform this action at all."""

    status = 403
    slug = "forbidden"


class RegisteredElsewhere(Conflict):
    """The person is registered by an office outside the caller's scope (nothing more is said:
    not who, not where)."""

    slug = "registered-elsewhere"


class TooManyConflicts(DomainError):
    """The caller ran into other offices' members too often within the hour."""

    status = 429
    slug = "rate-limited"
