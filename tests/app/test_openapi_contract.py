"""The OpenAPI document as a contract: every operation has a unique ``operationId``, every
secured one documents 401, and the documents scanners depend on have a media type and a
schema that their real responses meet."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask import Flask
from flask.testing import FlaskClient
from flask.views import MethodView
from openapi_spec_validator import validate

from app.api.blueprint import Blueprint
from app.edge.auth import requires
from app.edge.problems import ProblemApi
from app.schemas.publication import (
    COMPACT_JWS,
    HealthSchema,
    JwksSchema,
    ReadinessSchema,
    RootJwkSchema,
)
from tests.app.cards_helpers import office


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, operations in spec["paths"].items()
            for method, operation in operations.items() if method != "parameters"]


def _check_contract(spec: dict[str, Any]) -> None:
    """What holds for every operation, whoever adds it."""
    ids = []
    for path, method, operation in _operations(spec):
        name = f"{method.upper()} {path}"
        assert re.fullmatch(r"[a-z]+[A-Za-z0-9]+", operation.get("operationId", "")), name
        ids.append(operation["operationId"])
        if operation.get("security"):
            assert "401" in operation["responses"], f"{name} is secured but has no 401"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_operation_has_an_id_and_every_secured_one_a_401(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    _check_contract(spec)
    secured = [op for _, _, op in _operations(spec) if op.get("security")]
    assert len(secured) >= 33
    assert spec["paths"]["/.well-known/jwks.json"]["get"]["operationId"] == "getPublicationJwks"


def test_operation_ids_and_401s_are_added_to_operations_registered_later() -> None:
    """A new blueprint that documents neither still gets both (nothing to remember)."""
    app = Flask("contract")
    app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = ProblemApi(app)
    blp = Blueprint("later_things", __name__, url_prefix="/later")

    class Out(ma.Schema):
        value = ma.fields.Integer()

    @blp.route("/<int:thing_id>")
    class Thing(MethodView):
        @blp.response(200, Out)
        @requires("admin")
        def get(self, thing_id: int) -> Any:
            """Read a thing."""
            return {"value": thing_id}

        @blp.response(204)
        @blp.doc(security=[{"bearerAuth": []}])  # secured by hand, 401 not documented
        def delete(self, thing_id: int) -> None:
            """Delete a thing."""

    api.register_blueprint(blp)
    spec = api.spec.to_dict()
    _check_contract(spec)
    operations = spec["paths"]["/later/{thing_id}"]
    assert operations["get"]["operationId"] == "getLaterThingsThing"
    assert operations["delete"]["operationId"] == "deleteLaterThingsThing"
    assert "401" in operations["delete"]["responses"]


PUBLISHED = {
    "/.well-known/jwks.json": ("application/jwk-set+json", JwksSchema),
    "/.well-known/unioncard-root.jwk": ("application/jwk+json", RootJwkSchema),
    "/api/v1/trust-bundle": ("application/unioncard-trust+jwt", None),
    "/api/v1/status-lists/{list_id}": ("application/vc+jwt", None),
    "/healthz": ("application/json", HealthSchema),
    "/readyz": ("application/json", ReadinessSchema),
}


def test_published_documents_have_a_media_type_and_schema_they_meet(client: FlaskClient,
                                                                   factory) -> None:
    """Regression (issue 14): the six documents scanners depend on had neither, and the trust
    bundle was served as application/jwt although its typ is unioncard-trust+jwt."""
    world = office(factory)
    client.post(f"/api/v1/members/{world['yen'].id}/cards", headers=world["headers"])
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, (media_type, schema) in PUBLISHED.items():
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert list(content) == [media_type], path
        documented = content[media_type]["schema"]
        response = client.get(path.replace("{list_id}", "1"))
        assert response.status_code == 200 and response.mimetype == media_type, path
        if schema is None:
            assert documented["type"] == "string" and documented["pattern"] == COMPACT_JWS
            assert re.fullmatch(COMPACT_JWS, response.get_data(as_text=True)), path
        else:
            name = documented["$ref"].rsplit("/", 1)[1]
            assert name in spec["components"]["schemas"], path
            assert schema().validate(response.get_json(force=True)) == {}, path
