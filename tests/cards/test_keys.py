"""Signing keys: generation, encrypted PEM, JWK and RFC 7638 ids, and the key ring."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cards.errors import SigningKeyError
from cards.keys import (
    KeyRing,
    VerificationKey,
    generate_signing_key,
    jwk_thumbprint,
    load_signing_key,
    public_jwk,
    public_key_from_jwk,
)
from cards.testing import REFERENCE_NOW, other_signing_key, signing_key

NOW = REFERENCE_NOW


def test_generate_and_pem_round_trip() -> None:
    key = generate_signing_key("VN-VGCL", now=NOW, valid_for_seconds=3600)
    pem = key.to_pem("s3cret passphrase")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = load_signing_key(
        pem, "s3cret passphrase", issuer="VN-VGCL", created_at=key.created_at, not_after=key.not_after
    )
    assert loaded.kid == key.kid
    assert loaded.is_usable(NOW)
    assert not loaded.is_usable(key.not_after)  # type: ignore[arg-type]


def test_pem_requires_a_passphrase() -> None:
    with pytest.raises(SigningKeyError) as info:
        signing_key().to_pem("")
    assert info.value.reason == "no-passphrase"


@pytest.mark.parametrize("passphrase", ["wrong", None])
def test_wrong_passphrase(passphrase: str | None) -> None:
    pem = signing_key().to_pem("right")
    with pytest.raises(SigningKeyError) as info:
        load_signing_key(pem, passphrase, issuer="VN-VGCL", created_at=0)
    assert info.value.reason == "bad-passphrase"


def test_rejects_non_p256_and_garbage_pem() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(SigningKeyError) as info:
        load_signing_key(p384, "pw", issuer="VN-VGCL", created_at=0)
    assert info.value.reason == "wrong-curve"
    with pytest.raises(SigningKeyError) as garbage:
        load_signing_key(b"not a pem", None, issuer="VN-VGCL", created_at=0)
    assert garbage.value.reason == "bad-key"


def test_jwk_export_and_rfc7638_thumbprint() -> None:
    key = signing_key().public_key
    jwk = public_jwk(key)
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    assert jwk["kid"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert jwk["kid"] == jwk_thumbprint(key) == signing_key().kid
    assert signing_key().short_kid == digest[:8]
    assert public_key_from_jwk(jwk).public_numbers() == key.public_numbers()


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "RSA"},
        {"crv": "P-384"},
        {"alg": "HS256"},
        {"use": "enc"},
        {"kid": "not-the-thumbprint"},
        {"x": "AAAA"},
        {"y": "!!"},
        {"d": "private"},
    ],
)
def test_jwk_import_is_strict(change: dict[str, str]) -> None:
    jwk = {**public_jwk(signing_key().public_key), **change}
    with pytest.raises(SigningKeyError) as info:
        public_key_from_jwk(jwk)
    assert info.value.reason == "bad-jwk"


def test_point_not_on_curve_is_rejected() -> None:
    jwk = public_jwk(signing_key().public_key)
    del jwk["kid"]
    jwk["y"] = jwk["x"]
    with pytest.raises(SigningKeyError):
        public_key_from_jwk(jwk)


def test_key_ring_signs_with_newest_active_key_and_verifies_with_all() -> None:
    old = generate_signing_key("VN-VGCL", now=1_700_000_000)
    new = generate_signing_key("VN-VGCL", now=1_750_000_000)
    provincial = generate_signing_key("VN-VGCL-79", now=1_760_000_000)
    ring = KeyRing([old, new, provincial])
    assert ring.signing_key("VN-VGCL", now=NOW) is new
    ring.retire(new.kid)
    assert ring.signing_key("VN-VGCL", now=NOW) is old
    assert ring.keys_for(new.short_kid)[0].status == "retired"
    ring.revoke(old.kid)
    with pytest.raises(SigningKeyError) as info:
        ring.signing_key("VN-VGCL", now=NOW)
    assert info.value.reason == "no-active-key"
    assert ring.get(old.kid) is not None and ring.get(old.kid).revoked  # type: ignore[union-attr]
    assert len(ring) == 3


def test_key_ring_keeps_every_key_sharing_a_short_kid() -> None:
    a, b = signing_key(), other_signing_key()
    ring = KeyRing([a.verification_key()])
    ring._by_short[a.short_kid].append(b.verification_key())  # simulate a collision
    assert [k.kid for k in ring.keys_for(a.short_kid)] == [a.kid, b.kid]


def test_jwks_round_trip_with_issuer_and_status() -> None:
    ring = KeyRing([signing_key(), VerificationKey(other_signing_key().public_key, "VN-VGCL", "revoked")])
    jwks = ring.to_jwks()
    assert {k["status"] for k in jwks["keys"]} == {"active", "revoked"}
    again = KeyRing.from_jwks(jwks)
    assert [(k.kid, k.issuer, k.status) for k in again] == [(k.kid, k.issuer, k.status) for k in ring]
    with pytest.raises(SigningKeyError):
        KeyRing.from_jwks({"keys": "nope"})
