"""Contracts of the public documents scanners depend on (docs/uc1.md §4–6): the JWKS, the
root JWK, the trust bundle and status lists (compact JWS), and the health probes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

#: A compact JWS (RFC 7515 §7.1): three base64url parts separated by dots.
COMPACT_JWS = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
_B64URL = ma.validate.Regexp(r"^[A-Za-z0-9_-]+$")


class RootJwkSchema(ma.Schema):
    """An ES256 public key (RFC 7517) whose ``kid`` is its RFC 7638 thumbprint."""

    kty = ma.fields.String(required=True, validate=ma.validate.Equal("EC"))
    crv = ma.fields.String(required=True, validate=ma.validate.Equal("P-256"))
    x = ma.fields.String(required=True, validate=_B64URL,
                         metadata={"description": "32-byte coordinate, base64url"})
    y = ma.fields.String(required=True, validate=_B64URL,
                         metadata={"description": "32-byte coordinate, base64url"})
    kid = ma.fields.String(required=True, validate=_B64URL,
                           metadata={"description": "RFC 7638 SHA-256 thumbprint, base64url"})
    use = ma.fields.String(required=True, validate=ma.validate.Equal("sig"))
    alg = ma.fields.String(required=True, validate=ma.validate.Equal("ES256"))


class CardKeySchema(RootJwkSchema):
    """A key as published in the JWKS and the trust bundle (docs/uc1.md §4): a card key, or
    in the JWKS only, the key that signs the status lists (§6)."""

    iss = ma.fields.String(required=True, metadata={
        "description": "The issuer this key signs for: a card issuer (e.g. VN-VGCL-79), or, "
                       "for the key that signs the status lists, their issuer, the service's "
                       "public URL (never a card issuer, so it cannot sign a card a verifier "
                       "accepts)"})
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(
        ["active", "retired", "revoked"]), metadata={
        "description": "active: signs; retired: no longer signs, its cards verify until they "
                       "expire; revoked: compromised, its cards verify as revoked"})


class JwksSchema(ma.Schema):
    """Every published card key, retired and revoked ones included, then the key that signs
    the status lists."""

    keys = ma.fields.List(ma.fields.Nested(CardKeySchema), required=True)


class HealthSchema(ma.Schema):
    """Liveness."""

    status = ma.fields.String(required=True, validate=ma.validate.Equal("ok"))


class ReadinessSchema(ma.Schema):
    """Readiness: the database answers at the newest schema revision."""

    status = ma.fields.String(required=True, validate=ma.validate.Equal("ready"))
    schema = ma.fields.String(required=True, metadata={"description": "Alembic revision"})


def jws_response(description: str, media_type: str) -> dict[str, Any]:
    """An OpenAPI response whose body is one compact JWS of ``media_type``."""
    return {"description": description, "content": {media_type: {"schema": {
        "type": "string", "pattern": COMPACT_JWS,
        "description": "Compact JWS (RFC 7515), ES256, signed by the root key"}}}}
