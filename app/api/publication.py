"""Public, cacheable documents for verifiers: JWKS, status lists, trust bundle, root key."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import ensure_root_key, publisher_for
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.services.issuing.publication import canonical_json, etag_of

blp = Blueprint("publication", __name__, url_prefix="/",
                description="Public keys, status lists and the signed trust bundle (no login).")
CACHE = "public, max-age=300"


class StatusListArgsSchema(ma.Schema):
    """Which bitstring of the list."""

    purpose = ma.fields.String(load_default="revocation",
                               validate=ma.validate.OneOf(["revocation", "suspension"]))


def _cached(body: str, tag: str, mimetype: str, *, weak: bool = False) -> Response:
    """A cacheable response; 304 when the client's ``If-None-Match`` copy is current."""
    response = Response(body, mimetype=mimetype)
    response.set_etag(tag, weak=weak)
    response.headers["Cache-Control"] = CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.make_conditional(request)  # turns it into a 304 when the ETag matches
    return response


def _publisher() -> Any:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ensure_root_key(app)
    return publisher_for(app, db.session)


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    """The card-verification keys."""

    @blp.response(200, description="JWKS (RFC 7517) of every key that signs valid cards")
    def get(self) -> Any:
        """Every published card-verification key (ES256, RFC 7638 key ids)."""
        body = canonical_json(_publisher().jwks())
        return _cached(body, etag_of(body), "application/jwk-set+json")


@blp.route("/.well-known/unioncard-root.jwk")
class RootKey(MethodView):
    """The root public key that scanners pin."""

    @blp.response(200, description="The root public key (JWK); pin it out of band")
    def get(self) -> Any:
        """The public root key that signs trust bundles and status lists."""
        body = canonical_json(_publisher().root_jwk())
        return _cached(body, etag_of(body), "application/jwk+json")


@blp.route("/api/v1/status-lists/<int:list_id>")
class StatusListView(MethodView):
    """One bitstring status list."""

    @blp.arguments(StatusListArgsSchema, location="query")
    @blp.response(200, description="BitstringStatusListCredential as a JWT (ES256, root key)")
    @blp.alt_response(404, schema=ProblemSchema, description="No such list")
    def get(self, args: dict[str, Any], list_id: int) -> Any:
        """The current revocation or suspension list, signed (W3C Bitstring Status List)."""
        token, version = _publisher().status_list_jwt(list_id, args["purpose"])
        return _cached(token, f"sl-{list_id}-{args['purpose']}-{version}", "application/vc+jwt",
                       weak=True)


@blp.route("/api/v1/trust-bundle")
class TrustBundleView(MethodView):
    """The trust bundle for offline scanners."""

    @blp.response(200, description="Keys, status lists and version as a JWS signed by the root key")
    def get(self) -> Any:
        """Everything an offline scanner needs, signed by the root key; cache it for weeks."""
        text, version = _publisher().trust_bundle()
        return _cached(text, f"bundle-{version}", "application/jwt", weak=True)
