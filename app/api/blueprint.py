"""The API's Blueprint: error responses are documented as ``application/problem+json``."""

from __future__ import annotations

from typing import Any

import flask_smorest

PROBLEM_JSON = "application/problem+json"


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint whose error responses (4xx/5xx) default to problem+json."""

    def alt_response(self, status_code: int | str, *args: Any, **kwargs: Any) -> Any:
        """Like flask-smorest's, with ``content_type`` problem+json for error statuses."""
        if str(status_code)[:1] in ("4", "5") and not args and kwargs.get("content_type") is None \
                and "response" not in kwargs:
            kwargs["content_type"] = PROBLEM_JSON
        return super().alt_response(status_code, *args, **kwargs)
