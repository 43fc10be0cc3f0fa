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
    card_keys = [k for k in keys if k["iss"] == client.application.config["CARD_ISSUER"]]
    assert len(card_keys) == 1
    key = card_keys[0]
    # the one other key is the one that signs the status lists (docs/uc1.md §6): the root
    # key, whose iss is the lists' issuer, the public URL
    (list_key,) = [k for k in keys if k is not key]
    assert list_key["kid"] == root_jwk(client)["kid"]
    assert list_key["iss"] == client.application.config["PUBLIC_BASE_URL"]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg", "status")} == {
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "status": "active"}
    assert key["iss"] == client.application.config["CARD_ISSUER"]
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


def generic_status_list_check(token: str, root: dict, url: str, purpose: str) -> bytes:
    """A Bitstring Status List verifier written from the W3C texts alone, on jwcrypto (not
    the JOSE library the service signs with): VC-JOSE-COSE §3.1 (the JWT payload IS the
    credential; typ vc+jwt; no vc/vp claims) and Bitstring Status List v1.0 §2.2 (the
    credential and its subject) and §3.2 (multibase base64url GZIP, index 0 = the first
    byte's most significant bit, at least 131,072 entries). Returns the bitstring."""
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(token)
    verifier.verify(jwcrypto_jwk.JWK(**root), alg="ES256")
    header = verifier.jose_header
    assert header["alg"] == "ES256" and header["typ"] == "vc+jwt" and header["kid"] == root["kid"]
    assert header.get("cty", "vc") == "vc"
    credential = json.loads(verifier.payload)
    assert "vc" not in credential and "vp" not in credential
    assert credential["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["id"] == url
    issuer = credential["issuer"]
    assert url.startswith(issuer + "/")  # the configured public URL (issue 14, item 6)
    assert credential.get("iss", issuer) == issuer  # a JWT claim never contradicts the model
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    valid_until = datetime.fromisoformat(credential["validUntil"].replace("Z", "+00:00"))
    assert valid_from <= datetime.now(timezone.utc) < valid_until
    assert credential.get("iat", int(valid_from.timestamp())) == int(valid_from.timestamp())
    assert credential.get("exp", int(valid_until.timestamp())) == int(valid_until.timestamp())
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == purpose
    assert subject["id"].startswith(url)
    encoded = subject["encodedList"]
    assert encoded[0] == "u" and "=" not in encoded  # multibase base64url, no padding
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) * 8 >= 131_072
    return raw


def bit(raw: bytes, index: int) -> bool:
    return bool(raw[index // 8] & (0x80 >> (index % 8)))


def test_status_list_is_a_w3c_bitstring_status_list_credential(client, issued) -> None:
    """Regression (issue 14): the credential was wrapped in a ``vc`` claim, so a generic
    Bitstring Status List verifier found no credentialSubject."""
    card = issued["card"]
    list_id, index = card["status_list_id"], card["status_index"]
    base = client.application.config["PUBLIC_BASE_URL"]
    url = f"{base}/api/v1/status-lists/{list_id}?purpose=revocation"
    response = client.get(f"/api/v1/status-lists/{list_id}")
    assert response.mimetype == "application/vc+jwt"
    root = root_jwk(client)
    assert not bit(generic_status_list_check(response.get_data(as_text=True), root, url,
                                             "revocation"), index)
    client.post(f"/api/v1/cards/{card['serial']}/revoke", json={"reason": "lost"},
                headers=issued["headers"])
    token = client.get(f"/api/v1/status-lists/{list_id}").get_data(as_text=True)
    raw = generic_status_list_check(token, root, url, "revocation")
    assert [i for i in range(len(raw) * 8) if bit(raw, i)] == [index]  # exactly its bit
    # a plain JWT library reads the same payload and checks exp/iat itself
    claims = jwt.decode(token, jwt.PyJWK(root).key, algorithms=["ES256"])
    assert claims["credentialSubject"]["encodedList"] == cards.StatusList.decode(
        list_id, "revocation", claims["credentialSubject"]["encodedList"]).encode()
    suspension = client.get(f"/api/v1/status-lists/{list_id}?purpose=suspension")
    assert suspension.status_code == 200
    raw = generic_status_list_check(suspension.get_data(as_text=True), root,
                                    url.replace("revocation", "suspension"), "suspension")
    assert not any(raw)
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
