"""The worked examples in docs/uc1.md, parsed from the document and checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cbor2
import pytest

import cards
from cards import cose, testing
from cards.claims import CardClaims
from cards.encoding import b45decode, decode_text
from cards.keys import KeyRing, public_key_from_jwk
from cards.status import StatusList
from cards.trust import TrustBundle

DOC = Path(__file__).resolve().parents[2] / "docs" / "uc1.md"
_EXAMPLE = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n```[a-z]*\n(.*?)\n```", re.S)
EXAMPLES = {name: body for name, body in _EXAMPLE.findall(DOC.read_text(encoding="utf-8"))}
NOW = 1761984000


def ex(name: str) -> str:
    return EXAMPLES[name]


def test_all_examples_are_present() -> None:
    assert set(EXAMPLES) == {
        "test-key-jwk",
        "short-kid-hex",
        "claims-json",
        "claims-cbor-hex",
        "protected-hex",
        "sig-structure-hex",
        "cose-hex",
        "uc1-text",
        "claims-emergency-cbor-hex",
        "uc1-text-emergency",
        "status-list-encoded",
    }


def test_key_and_kid() -> None:
    jwk = json.loads(ex("test-key-jwk"))
    assert jwk == testing.signing_key().public_jwk()
    assert testing.signing_key().short_kid.hex() == ex("short-kid-hex")


def test_claims_encode_byte_exactly() -> None:
    claims = testing.reference_claims()
    assert claims.to_dict() == json.loads(ex("claims-json"))
    assert claims.to_cbor().hex() == ex("claims-cbor-hex")
    with_core = testing.reference_claims(emergency=testing.REFERENCE_EMERGENCY)
    assert with_core.to_cbor().hex() == ex("claims-emergency-cbor-hex")
    assert CardClaims.from_cbor_map(cbor2.loads(bytes.fromhex(ex("claims-cbor-hex")))) == claims


def test_header_and_sig_structure_byte_exactly() -> None:
    message = cose.decode(bytes.fromhex(ex("cose-hex")))
    assert message.protected.hex() == ex("protected-hex")
    assert message.to_be_signed().hex() == ex("sig-structure-hex")
    assert message.payload.hex() == ex("claims-cbor-hex")


def test_signed_message_verifies_with_the_documented_key() -> None:
    key = public_key_from_jwk(json.loads(ex("test-key-jwk")))
    assert cose.verify(bytes.fromhex(ex("cose-hex")), key).hex() == ex("claims-cbor-hex")


@pytest.mark.parametrize(("name", "claims_name"), [("uc1-text", "claims-cbor-hex"), ("uc1-text-emergency", "claims-emergency-cbor-hex")])
def test_card_texts_verify(name: str, claims_name: str) -> None:
    ring = KeyRing.from_jwks({"keys": [{**json.loads(ex("test-key-jwk")), "iss": "VN-VGCL-79",
                                        "status": "active"}]})
    result = cards.verify(ex(name), ring, now=NOW)
    assert result.status == "valid"
    assert result.claims is not None and result.claims.to_cbor().hex() == ex(claims_name)
    assert cose.decode(decode_text(ex(name))).payload.hex() == ex(claims_name)


def test_uc1_text_is_the_base45_of_the_cose_message() -> None:
    assert b45decode(ex("uc1-text")[4:]).hex() == ex("cose-hex")


def test_status_list_example() -> None:
    status_list = StatusList.decode(1, "revocation", ex("status-list-encoded"))
    assert status_list.set_indices() == [0, 9, 98765]
    bundle = TrustBundle(1, NOW, (testing.signing_key().verification_key(),), (status_list,))
    result = cards.verify(ex("uc1-text"), bundle, now=NOW)
    assert (result.status, result.reason) == ("revoked", "revoked")
