"""COSE_Sign1 (RFC 9052) with ES256 pinned: sign, parse, read the kid, verify."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from cards.cwt import dumps_canonical, loads_strict
from cards.errors import BadSignature, MalformedCard, UnknownKey, UnsupportedAlgorithm
from cards.keys import SigningKey, short_kid

#: COSE algorithm id of ES256 (ECDSA P-256 with SHA-256): the only one accepted.
ES256 = -7
HEADER_ALG = 1
HEADER_KID = 4
TAG_COSE_SIGN1 = 18
TAG_CWT = 61
SIGNATURE_BYTES = 64
#: The order n of the P-256 group: (r, s) and (r, n - s) are both valid signatures.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class CoseSign1:
    """A parsed, not yet verified COSE_Sign1 message."""

    protected: bytes
    protected_header: Mapping[Any, Any]
    unprotected_header: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def alg(self) -> Any:
        """The algorithm: from the protected header, from the unprotected one only if absent.

        Reading an unprotected ``alg`` is safe only because verification is pinned to ES256
        whatever the header says; UC1 itself requires it protected (see ``cards.verify``).
        """
        if HEADER_ALG in self.protected_header:
            return self.protected_header[HEADER_ALG]
        return self.unprotected_header.get(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        """The kid: from the protected header, from the unprotected one only if absent there."""
        if HEADER_KID in self.protected_header:
            kid = self.protected_header[HEADER_KID]
        else:
            kid = self.unprotected_header.get(HEADER_KID)
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self) -> bytes:
        """The Sig_structure (RFC 9052 §4.4) the signature covers."""
        return cbor2.dumps(["Signature1", self.protected, b"", self.payload])


def _header_map(value: Any, where: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise MalformedCard(f"{where} header is not a map", reason="bad-cose")
    kid = value.get(HEADER_KID)
    if kid is not None and not isinstance(kid, bytes):
        raise MalformedCard(f"{where} kid is not a byte string", reason="bad-cose")
    return value


def decode(message: bytes) -> CoseSign1:
    """Parse a COSE_Sign1 message (untagged, tag 18, or tag 18 inside CWT tag 61).

    Raises:
        MalformedCard: (``bad-cose``) for any other structure.
    """
    item = loads_strict(message, reason="bad-cose")
    if isinstance(item, cbor2.CBORTag) and item.tag == TAG_CWT:
        item = item.value
    if isinstance(item, cbor2.CBORTag) and item.tag == TAG_COSE_SIGN1:
        item = item.value
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise MalformedCard("not a COSE_Sign1 array of four items", reason="bad-cose")
    protected, unprotected, payload, signature = item
    if not (isinstance(protected, bytes) and isinstance(payload, bytes)):
        raise MalformedCard("protected header and payload must be byte strings", reason="bad-cose")
    if not isinstance(signature, bytes):
        raise MalformedCard("signature must be a byte string", reason="bad-cose")
    protected_header = _header_map(
        loads_strict(protected, reason="bad-cose") if protected else {}, "protected"
    )
    return CoseSign1(
        protected, protected_header, _header_map(unprotected, "unprotected"), payload, signature
    )


@functools.lru_cache(maxsize=64)
def _protected_header(kid: bytes) -> bytes:
    return dumps_canonical({HEADER_ALG: ES256, HEADER_KID: kid})


def sign(payload: bytes, key: SigningKey | ec.EllipticCurvePrivateKey, *, tagged: bool = True) -> bytes:
    """Sign ``payload`` as COSE_Sign1 with ES256, protected header ``{1: -7, 4: short kid}``."""
    if isinstance(key, SigningKey):
        private_key, kid = key.private_key, key.short_kid
    else:
        private_key, kid = key, short_kid(key.public_key())
    protected = _protected_header(kid)
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(private_key.sign(tbs, _ECDSA_SHA256))
    s = min(s, P256_ORDER - s)  # low S: the canonical form issuers emit (docs/uc1.md §2)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    body = [protected, {}, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, body) if tagged else body)


def check_alg(msg: CoseSign1) -> None:
    """Require the pinned ES256 algorithm in the protected header.

    Raises:
        UnsupportedAlgorithm: (``unsupported-alg``) for any other or a missing algorithm.
    """
    if msg.alg != ES256 or isinstance(msg.alg, bool):
        raise UnsupportedAlgorithm(f"algorithm {msg.alg!r} is not ES256")


def verify_signature(msg: CoseSign1, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check the algorithm and the raw r‖s ES256 signature of a parsed message.

    Raises:
        UnsupportedAlgorithm: the algorithm is not ES256.
        BadSignature: ``bad-signature-length`` for a signature other than 64 bytes,
            ``wrong-key-type`` for a non-P-256 key, ``bad-signature`` when it does not verify.
    """
    check_alg(msg)
    if len(msg.signature) != SIGNATURE_BYTES:
        raise BadSignature("ES256 signature must be 64 bytes", reason="bad-signature-length")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise BadSignature("ES256 needs a P-256 public key", reason="wrong-key-type")
    r = int.from_bytes(msg.signature[:32], "big")
    s = int.from_bytes(msg.signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), msg.to_be_signed(), _ECDSA_SHA256)
    except InvalidSignature as e:
        raise BadSignature("signature does not verify") from e


def expected_kid(public_key: ec.EllipticCurvePublicKey | x509.Certificate) -> bytes:
    """The kid a message signed by this key carries.

    For an X.509 certificate: the first 8 bytes of SHA-256 over its DER (the EU DCC rule);
    for a bare key: its UC1 short kid (first 8 bytes of the RFC 7638 thumbprint).
    """
    if isinstance(public_key, x509.Certificate):
        from cryptography.hazmat.primitives.serialization import Encoding

        return hashlib.sha256(public_key.public_bytes(Encoding.DER)).digest()[:8]
    return short_kid(public_key)


def verify(message: bytes, public_key: ec.EllipticCurvePublicKey | x509.Certificate) -> bytes:
    """Verify a COSE_Sign1 message against one key or certificate and return its payload.

    Raises:
        MalformedCard: ``bad-cose`` for a broken structure, ``missing-kid`` without a kid.
        UnsupportedAlgorithm: the algorithm is not ES256 (PS256, HS256, none, ...).
        UnknownKey: (``kid-mismatch``) the message's kid is not this key's.
        BadSignature: the signature is malformed or wrong.
    """
    msg = decode(message)
    check_alg(msg)
    kid = msg.kid
    if kid is None:
        raise MalformedCard("message carries no kid", reason="missing-kid")
    if kid != expected_kid(public_key):
        raise UnknownKey("message kid does not match the key", reason="kid-mismatch")
    key = public_key.public_key() if isinstance(public_key, x509.Certificate) else public_key
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BadSignature("ES256 needs an EC public key", reason="wrong-key-type")
    verify_signature(msg, key)
    return msg.payload
