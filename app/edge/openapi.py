"""OpenAPI completeness, derived when each path is added to the document: an ``operationId``
for every operation and a documented 401 on every secured one.

It runs for every operation of every blueprint (also those added later), so no view needs to
remember either; ``tests/app/test_openapi_contract.py`` walks the document to prove it.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import BasePlugin

from app.edge.problems import TOKEN_ENDPOINT, TOKEN_ERROR_JSON

#: The shared problem+json response component of 401 (see ``ProblemApi``).
UNAUTHORIZED = "UNAUTHORIZED"
PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}


def _pascal(name: str) -> str:
    """``member_cards`` / ``MemberCards`` / ``consent-notices`` -> ``MemberCards`` etc."""
    parts = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


def operation_id(endpoint: str, method: str) -> str:
    """A stable, unique id from the Flask endpoint (``blueprint.View``) and the method, in
    client generators' camelCase, e.g. ``getPublicationJwks``, ``postMembersMemberCards``."""
    return method.lower() + "".join(_pascal(part) for part in endpoint.split("."))


class OperationDocPlugin(BasePlugin):
    """apispec plugin completing each operation as its path is registered."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        """Add ``operationId`` (unless given) and the 401 answer of secured operations."""
        rule = kwargs.get("rule")
        if operations is None or rule is None:
            return
        for method, operation in operations.items():
            if not isinstance(operation, dict):  # e.g. the path-level "parameters" list
                continue
            operation.setdefault("operationId", operation_id(rule.endpoint, method))
            if rule.endpoint == TOKEN_ENDPOINT:  # RFC 6749 §5.2: every error application/json
                operation.setdefault("responses", {})["default"] = {
                    "description": "Any other error, with OAuth 2's `error` as well",
                    "content": {TOKEN_ERROR_JSON: {"schema": PROBLEM_SCHEMA_REF}}}
            if operation.get("security"):
                responses = operation.setdefault("responses", {})
                if "401" not in {str(status) for status in responses}:
                    responses["401"] = UNAUTHORIZED
