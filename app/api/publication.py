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
from app.schemas.publication import JwksSchema, RootJwkSchema, jws_response
from app.services.issuing.publication import STATUS_LIST_TTL, canonical_json, etag_of

blp = Blueprint("publication", __name__, url_prefix="/",
                description="Public keys, status lists and the signed trust bundle (no login).")
CACHE = "public, max-age=300"
#: A status list's HTTP cache lifetime is its credential's ``ttl`` (Bitstring Status List
#: v1.0 §2.2 asks publishers to align the two), from the one constant.
STATUS_LIST_CACHE = f"public, max-age={int(STATUS_LIST_TTL.total_seconds())}"
JWKS = "application/jwk-set+json"
JWK = "application/jwk+json"
#: A JWT whose ``typ`` is ``X`` is served as ``application/X`` (RFC 7515 §4.1.9).
VC_JWT = "application/vc+jwt"
TRUST_JWT = "application/unioncard-trust+jwt"


class StatusListArgsSchema(ma.Schema):
    """Which bitstring of the list."""

    purpose = ma.fields.String(load_default="revocation",
                               validate=ma.validate.OneOf(["revocation", "suspension"]))


def _cached(body: str, tag: str, mimetype: str, *, weak: bool = False,
            cache: str = CACHE) -> Response:
    """A cacheable response; 304 when the client's ``If-None-Match`` copy is current."""
    response = Response(body, mimetype=mimetype)
    response.set_etag(tag, weak=weak)
    response.headers["Cache-Control"] = cache
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

    @blp.response(200, JwksSchema, content_type=JWKS,
                  description="JWKS (RFC 7517) of every card key with its issuer and status; "
                              "a card of a revoked key is revoked (docs/uc1.md §4); then the "
                              "key that signs the status lists, whose iss is the lists' "
                              "issuer, the public URL (docs/uc1.md §6)")
    def get(self) -> Any:
        """Every published card key and the key that signs the status lists (ES256)."""
        body = canonical_json(_publisher().jwks())
        return _cached(body, etag_of(body), JWKS)


@blp.route("/.well-known/unioncard-root.jwk")
class RootKey(MethodView):
    """The root public key that scanners pin."""

    @blp.response(200, RootJwkSchema, content_type=JWK,
                  description="The root public key (JWK); pin it out of band")
    def get(self) -> Any:
        """The public root key that signs trust bundles and status lists."""
        body = canonical_json(_publisher().root_jwk())
        return _cached(body, etag_of(body), JWK)


@blp.route("/api/v1/status-lists/<int:list_id>")
class StatusListView(MethodView):
    """One bitstring status list."""

    @blp.arguments(StatusListArgsSchema, location="query")
    @blp.response(200, description="BitstringStatusListCredential secured as a JWT")
    @blp.doc(responses={"200": jws_response(
        "A W3C BitstringStatusListCredential (Bitstring Status List v1.0) secured as in "
        "VC-JOSE-COSE §3.1: the JWT payload is the credential; typ vc+jwt, ES256, signed by "
        "the root key, which the JWKS lists under the JWT's kid; ttl equals the Cache-Control "
        "max-age (docs/uc1.md §6)", VC_JWT)})
    @blp.alt_response(404, schema=ProblemSchema, description="No such list")
    def get(self, args: dict[str, Any], list_id: int) -> Any:
        """The current revocation or suspension list, signed (W3C Bitstring Status List)."""
        token, tag = _publisher().status_list_jwt(list_id, args["purpose"])
        return _cached(token, tag, VC_JWT, weak=True, cache=STATUS_LIST_CACHE)


@blp.route("/api/v1/trust-bundle")
class TrustBundleView(MethodView):
    """The trust bundle for offline scanners."""

    @blp.response(200, description="The trust bundle")
    @blp.doc(responses={"200": jws_response(
        "Keys, status lists and version (docs/uc1.md §5) as a compact JWS with typ "
        "unioncard-trust+jwt, signed by the root key", TRUST_JWT)})
    def get(self) -> Any:
        """Everything an offline scanner needs, signed by the root key; cache it for weeks."""
        signed = _publisher().signed_trust_bundle()
        return _cached(signed.text, signed.etag, TRUST_JWT, weak=True)
