"""Published documents: JWKS shape, signed status lists, signed trust bundle, caching."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timezone

import jwt
import pytest
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

import cards
from tests.app.cards_helpers import office


@pytest.fixture
def issued(client, factory):
    world = office(factory)
    body = client.post(f"/api/v1/members/{world['yen'].id}/cards",
                       headers=world["headers"]).get_json()
    return {**world, "card": body}


def root_jwk(client) -> dict:
    response = client.get("/.well-known/unioncard-root.jwk")
    assert response.status_code == 200
    return response.get_json(force=True)


def test_jwks_shape(client, issued) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and response.mimetype == "application/jwk-set+json"
    keys = response.get_json(force=True)["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256"}
    assert key["kid"] == issued["card"]["kid"]
    # the kid is the RFC 7638 thumbprint, as an independent JOSE library computes it
    assert jwcrypto_jwk.JWK(**{k: key[k] for k in ("kty", "crv", "x", "y")}).thumbprint() == \
        key["kid"]
    assert "d" not in key and "private" not in json.dumps(key)
    assert response.headers["Cache-Control"].startswith("public")


def test_conditional_requests_answer_304(client, issued) -> None:
    for path in ("/.well-known/jwks.json", "/api/v1/trust-bundle", "/api/v1/status-lists/1"):
        first = client.get(path)
        etag = first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path


def test_status_list_is_a_signed_w3c_list(client, issued) -> None:
    card = issued["card"]
    token = client.get(f"/api/v1/status-lists/{card['status_list_id']}").get_data(as_text=True)
    root = jwt.PyJWK(root_jwk(client)).key
    claims = jwt.decode(token, root, algorithms=["ES256"])
    subject = claims["vc"]["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    encoded = subject["encodedList"]
    assert encoded.startswith("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 >= 131_072
    index = card["status_index"]
    assert not raw[index // 8] & (0x80 >> (index % 8))
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "lost"},
                headers=issued["headers"])
    token = client.get(f"/api/v1/status-lists/{card['status_list_id']}").get_data(as_text=True)
    subject = jwt.decode(token, root, algorithms=["ES256"])["vc"]["credentialSubject"]
    bits = cards.StatusList.decode(1, "revocation", subject["encodedList"])
    assert bits.set_indices() == [index]
    suspension = client.get(f"/api/v1/status-lists/{card['status_list_id']}?purpose=suspension")
    assert suspension.status_code == 200
    assert client.get("/api/v1/status-lists/999").status_code == 404
    assert client.get("/api/v1/status-lists/1?purpose=other").status_code == 422


def test_trust_bundle_verifies_with_the_root_key(client, issued) -> None:
    response = client.get("/api/v1/trust-bundle")
    text = response.get_data(as_text=True)
    root = root_jwk(client)
    # an independent JOSE library checks the signature
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(text)
    verifier.verify(jwcrypto_jwk.JWK(**root))
    bundle = cards.load_bundle(text, root, now=datetime.now(timezone.utc))
    assert [k.kid for k in bundle.keys] == [issued["card"]["kid"]]
    assert {(s.list_id, s.purpose) for s in bundle.status_lists} == {
        (1, "revocation"), (1, "suspension")}
    other = cards.generate_signing_key("x", now=datetime.now(timezone.utc)).public_jwk()
    with pytest.raises(cards.errors.TrustError):
        cards.load_bundle(text, other, now=datetime.now(timezone.utc))


def test_bundle_version_rises_with_every_change(client, issued) -> None:
    def version() -> int:
        text = client.get("/api/v1/trust-bundle").get_data(as_text=True)
        return cards.load_bundle(text, root_jwk(client), now=datetime.now(timezone.utc)).version
    before = version()
    client.post(f"/api/v1/cards/{issued['card']['serial']}/suspend", json={"reason": "lost"},
                headers=issued["headers"])
    after = version()
    assert after > before
