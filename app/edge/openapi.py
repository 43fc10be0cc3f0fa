"""OpenAPI completeness, derived when each path is added to the document: an ``operationId``
for every operation, a documented 401 on every secured one, the edge's refusals (400, 414,
431; 413 and 415 with a body) on each, and whether a body is required.

It runs for every operation of every blueprint (also those added later), so no view needs to
remember either; ``tests/app/test_openapi_contract.py`` walks the document to prove it.
"""

from __future__ import annotations

import re
from copy import deepcopy
from http import HTTPStatus
from typing import Any

from apispec import APISpec, BasePlugin

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


#: No text the service takes may hold a NUL (``app.edge.bodies``: no database text can hold
#: one): the pattern of every string of the document that has none stricter already.
NO_NUL = "^[^\\u0000]*$"


def _without_nul(schema: dict[str, Any]) -> None:
    """Give a string schema (or an array's string items) the ``NO_NUL`` pattern, unless it
    has a pattern, an enum or a format of its own (which hold no NUL)."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "array":
        _without_nul(schema.get("items", {}))
    elif schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema):
        schema["pattern"] = NO_NUL


def _token_error(description: str) -> dict[str, Any]:
    """A response of the token endpoint: a problem in RFC 6749 §5.2's ``application/json``."""
    return {"description": description,
            "content": {TOKEN_ERROR_JSON: {"schema": PROBLEM_SCHEMA_REF}}}


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
                operation.setdefault("responses", {})["default"] = _token_error(
                    "Any other error, with OAuth 2's `error` as well")
            if operation.get("security"):
                responses = operation.setdefault("responses", {})
                if "401" not in {str(status) for status in responses}:
                    responses["401"] = UNAUTHORIZED
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict):
                    _without_nul(parameter.get("schema", {}))
            self._body_required(operation)
            self._edge_errors(operation, token=rule.endpoint == TOKEN_ENDPOINT)

    def init_spec(self, spec: APISpec) -> None:
        """Keep the spec, whose schema components tell which bodies are required."""
        super().init_spec(spec)
        self.spec = spec
        #: components whose schema checks the body as a whole (``validates_schema``): an
        #: empty body may fail that check, so such a body stays required
        self.checked_whole: set[str] = set()

    def schema_helper(self, name: str, definition: dict[str, Any],
                      **kwargs: Any) -> dict[str, Any] | None:
        """Note the schemas with whole-body checks as they become components."""
        schema = kwargs.get("schema")
        hooks = getattr(schema, "_hooks", {})
        if hooks.get("validates_schema"):
            self.checked_whole.add(name)
        one_of = getattr(schema, "EXACTLY_ONE_OF", None)
        if one_of:  # the schema's own check: exactly one of these members
            definition["oneOf"] = [{"required": [member]} for member in one_of]
        variants = getattr(schema, "OPENAPI_ONE_OF", None)
        if variants:  # the forms a body takes (checked by its view), e.g. per grant type
            definition["oneOf"] = deepcopy(list(variants))
        for prop in definition.get("properties", {}).values():
            _without_nul(prop)
        return None

    def _body_required(self, operation: dict[str, Any]) -> None:
        """A request body is required when its schema has a required field or checks the
        body as a whole: a schema of optional fields only is read from a missing body as an
        empty one (the server answers it), so the document says so."""
        body = operation.get("requestBody")
        if not isinstance(body, dict) or not body.get("content"):
            return
        schemas = self.spec.components.schemas
        optional = []
        for content in body["content"].values():
            ref = str(content.get("schema", {}).get("$ref", ""))
            name = ref.rsplit("/", 1)[-1]
            optional.append(bool(name) and name in schemas and name not in self.checked_whole
                            and not schemas[name].get("required"))
        if optional and all(optional):
            body["required"] = False

    @staticmethod
    def _edge_errors(operation: dict[str, Any], *, token: bool) -> None:
        """Document the refusals of the edge, which every operation can meet before its view:
        400 (a NUL in the URL, a form or a JSON body; malformed JSON), 414 (URL too long) and
        431 (header fields too large); with a body also 413 and 415. The token endpoint's
        are its RFC 6749 §5.2 ``application/json``."""
        responses = operation.setdefault("responses", {})
        statuses = [400, 414, 431]
        if "requestBody" in operation:
            statuses += [413, 415]
        for status in statuses:
            if str(status) in {str(code) for code in responses}:
                continue
            if token:
                responses[str(status)] = _token_error(HTTPStatus(status).phrase)
            else:  # the shared problem+json component of the status (``ProblemApi``)
                responses[str(status)] = HTTPStatus(status).name
