"""COSE_Sign1 with ES256 pinned: signing, envelope forms, algorithm and signature checks."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cards import cose
from cards.errors import BadSignature, MalformedCard, UnknownKey, UnsupportedAlgorithm
from cards.keys import short_kid
from cards.testing import other_signing_key, signing_key

PAYLOAD = b"\xa1\x01\x62VN"


def _envelope(protected: dict[int, object], signature: bytes = b"\x00" * 64) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps(protected), {}, PAYLOAD, signature]))


def test_sign_and_verify_round_trip() -> None:
    key = signing_key()
    message = cose.sign(PAYLOAD, key)
    assert cose.verify(message, key.public_key) == PAYLOAD
    parsed = cose.decode(message)
    assert parsed.protected_header == {1: -7, 4: key.short_kid}
    assert parsed.unprotected_header == {}
    assert len(parsed.signature) == 64
    assert cose.decode(message).kid == key.short_kid == short_kid(key.public_key)


def test_accepts_untagged_tagged_and_cwt_tagged() -> None:
    key = signing_key()
    untagged = cose.sign(PAYLOAD, key, tagged=False)
    body = cbor2.loads(untagged)
    cwt_tagged = cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, body)))
    for message in (untagged, cose.sign(PAYLOAD, key), cwt_tagged):
        assert cose.verify(message, key.public_key) == PAYLOAD


def test_sign_accepts_a_bare_private_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    assert cose.verify(cose.sign(PAYLOAD, private), private.public_key()) == PAYLOAD


def test_wrong_key_fails_on_kid_then_signature() -> None:
    message = cose.sign(PAYLOAD, signing_key())
    with pytest.raises(UnknownKey) as info:
        cose.verify(message, other_signing_key().public_key)
    assert info.value.reason == "kid-mismatch"
    # Same kid but a signature by another key: a plain bad signature.
    forged = cbor2.loads(cose.sign(PAYLOAD, other_signing_key()))
    genuine = cbor2.loads(message)
    spliced = cbor2.dumps(cbor2.CBORTag(18, [genuine.value[0], {}, PAYLOAD, forged.value[3]]))
    with pytest.raises(BadSignature) as bad:
        cose.verify(spliced, signing_key().public_key)
    assert bad.value.reason == "bad-signature"


@pytest.mark.parametrize("alg", [-37, -35, 5, "none", None, "ES256", -8, True])
def test_only_es256_is_accepted(alg: object) -> None:
    key = signing_key()
    header = {4: key.short_kid} if alg is None else {1: alg, 4: key.short_kid}
    with pytest.raises(UnsupportedAlgorithm) as info:
        cose.verify(_envelope(header), key.public_key)
    assert info.value.reason == "unsupported-alg"


@pytest.mark.parametrize("length", [0, 63, 65, 70, 72])
def test_signature_of_wrong_length(length: int) -> None:
    key = signing_key()
    with pytest.raises(BadSignature) as info:
        cose.verify(_envelope({1: -7, 4: key.short_kid}, b"\x01" * length), key.public_key)
    assert info.value.reason == "bad-signature-length"


def test_missing_kid() -> None:
    with pytest.raises(MalformedCard) as info:
        cose.verify(_envelope({1: -7}), signing_key().public_key)
    assert info.value.reason == "missing-kid"


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\xd2",
        cbor2.dumps([1, 2, 3]),
        cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])),
        cbor2.dumps([b"\xa0", {}, None, b""]),  # detached payload
        cbor2.dumps(["x", {}, b"", b""]),
        cbor2.dumps([b"\x01", {}, b"", b""]),  # protected header not a map
        cbor2.dumps([b"", [], b"", b""]),
        cbor2.dumps([b"", {4: "kid"}, b"", b""]),
        cbor2.dumps([b"", {}, b"", b""]) + b"\x00",
        b"\xa2\x01\x01\x01\x02",  # duplicate keys
    ],
)
def test_broken_structure_is_malformed(message: bytes) -> None:
    with pytest.raises(MalformedCard) as info:
        cose.decode(message)
    assert info.value.reason == "bad-cose"


def test_wrong_key_type_is_bad_signature() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    msg = cose.decode(cose.sign(PAYLOAD, signing_key()))
    with pytest.raises(BadSignature) as info:
        cose.verify_signature(msg, key.public_key())
    assert info.value.reason == "wrong-key-type"
