"""Offline (and online) verification of UC1 card text, returning a result, never raising."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from cards.b64 import b64url_encode
from cards.claims import CardClaims
from cards.claims_cbor import read_claims
from cards.encoding import PREFIX, decode_text
from cards.errors import (
    BadSignature,
    CardError,
    ExpiredCard,
    MalformedCard,
    NotYetValid,
    RevokedCard,
    SuspendedCard,
    UnknownKey,
    UntrustedIssuer,
)
from cards.keys import VerificationKey
from cards.message import ParsedCard, parse_message
from cards.timeutil import DEFAULT_SKEW, Instant, epoch_seconds
from cards.trust import Trust

__all__ = ["Status", "Verification", "parse_card", "read_claims", "verify"]

Status = Literal[
    "valid", "expired", "not-yet-valid", "revoked", "suspended", "unknown-issuer", "invalid"
]
STATUS_LIST_MISSING = "status-list-missing"
SIGNATURE_BYTES = 64
_ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying one card text.

    ``claims`` is set only once the signature has verified; ``kid`` is the short key id from
    the header (base64url) whenever readable; ``key_id`` the full RFC 7638 id of the key
    that verified the signature.
    """

    status: Status
    reason: str
    claims: CardClaims | None = None
    kid: str | None = None
    key_id: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Whether the card is genuine and currently valid."""
        return self.status == "valid"

    @classmethod
    def _of(cls, status: Status, reason: str, claims: CardClaims | None, kid: str | None,
            key_id: str | None, warnings: tuple[str, ...]) -> Verification:
        # The frozen __init__ assigns field by field through object.__setattr__; one
        # __dict__ update makes the same object, cheaper on the scanner's hot path.
        result = object.__new__(cls)
        result.__dict__.update(status=status, reason=reason, claims=claims, kid=kid,
                               key_id=key_id, warnings=warnings)
        return result

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the result."""
        return {
            "status": self.status,
            "reason": self.reason,
            "kid": self.kid,
            "key_id": self.key_id,
            "warnings": list(self.warnings),
            "claims": None if self.claims is None else self.claims.to_dict(),
        }


def parse_card(text: str, *, prefix: str = PREFIX) -> ParsedCard:
    """Decode the text layers and the UC1 message (§1 steps 1–6); no signature check.

    Raises:
        MalformedCard: a layer is broken (``too-long``, ``bad-prefix``, ``bad-base45``,
            ``bad-zlib``, ``too-large-decompressed``, ``bad-cose``, ``bad-header``, ``bad-kid``).
        UnsupportedAlgorithm: the algorithm is not ES256.
    """
    return parse_message(decode_text(text, prefix=prefix))


def _find_key(parsed: ParsedCard, trust: Trust) -> VerificationKey:
    candidates = trust.keys_for(parsed.kid)
    if not candidates:
        raise UnknownKey("no trusted key has this kid")
    signature = parsed.signature
    if len(signature) != SIGNATURE_BYTES:
        raise BadSignature("ES256 signature must be 64 bytes", reason="bad-signature-length")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    digest = hashlib.sha256(parsed.to_be_signed).digest()  # once, whatever the candidates
    for key in candidates:  # several keys may share a short kid; any that verifies wins
        try:
            key.public_key.verify(der, digest, _ECDSA_PREHASHED)
            return key
        except InvalidSignature:
            continue
    raise BadSignature("signature does not verify")


_PURPOSES = (("revocation", RevokedCard), ("suspension", SuspendedCard))


def _check_status(claims: CardClaims, trust: Trust, warnings: list[str]) -> None:
    """§1 step 10: both lists of the card's id are looked up first, so a list the trust
    source lacks adds ``status-list-missing`` whatever the other list then says (revoked,
    suspended or ``bad-status-index``)."""
    list_id, index = claims.status_list_id, claims.status_index
    found = [(trust.status_list(list_id, purpose), error) for purpose, error in _PURPOSES]
    if any(status_list is None for status_list, _ in found):
        warnings.append(STATUS_LIST_MISSING)
    for status_list, error in found:
        if status_list is None:
            continue
        flagged = status_list.flagged(index)
        if flagged is None:
            raise MalformedCard("status index outside its list", reason="bad-status-index")
        if flagged:
            raise error()


#: The base64url text of a short kid (a scanner meets few kids, again and again).
_kid_text = functools.lru_cache(maxsize=1024)(b64url_encode)


_STATUS_OF: tuple[tuple[type[CardError], Status], ...] = (
    (UnknownKey, "unknown-issuer"),
    (ExpiredCard, "expired"),
    (NotYetValid, "not-yet-valid"),
    (RevokedCard, "revoked"),
    (SuspendedCard, "suspended"),
)


def _status_of(error: CardError) -> Status:
    for cls, status in _STATUS_OF:
        if isinstance(error, cls):
            return status
    return "invalid"


def verify(text: str, trust: Trust, *, now: Instant, skew: int = DEFAULT_SKEW) -> Verification:
    """Verify UC1 card ``text`` against ``trust`` at ``now`` (±``skew`` seconds).

    Checks, in order: size and prefix, base45, zlib, COSE structure and ES256 header, key
    lookup by kid, signature, claims, issuer, key revocation, status lists, then times.
    Every outcome, including garbage input, is returned as a :class:`Verification`.
    """
    warnings: list[str] = []
    kid: str | None = None
    key: VerificationKey | None = None
    claims: CardClaims | None = None
    try:
        t = now if type(now) is int else epoch_seconds(now)
        warnings.extend(trust.warnings(t))
        parsed = parse_card(text)
        kid = _kid_text(parsed.kid)
        key = _find_key(parsed, trust)
        claims = read_claims(parsed.payload)
        if claims.issuer != key.issuer:
            raise UntrustedIssuer(f"key of {key.issuer} signed a card of {claims.issuer}")
        if key.revoked:
            raise RevokedCard("the signing key was revoked", reason="key-compromise")
        _check_status(claims, trust, warnings)
        # §1 step 11, as cards.cwt.check_times (the claims are validated integers here)
        if t < claims.issued_at - skew:
            raise NotYetValid(f"issued at {claims.issued_at}, now {t}")
        if t > claims.expires_at + skew:
            raise ExpiredCard(f"expired at {claims.expires_at}, now {t}")
    except CardError as e:
        verified = claims is not None and not isinstance(e, MalformedCard | UntrustedIssuer)
        return Verification(
            _status_of(e),
            e.reason,
            claims if verified else None,
            kid,
            key.kid if key is not None and verified else None,
            tuple(warnings),
        )
    except Exception:  # a bug, never a card's fault: still answer, never raise to the scanner
        return Verification("invalid", "internal-error", None, kid, None, tuple(warnings))
    return Verification._of("valid", "ok", claims, kid, key.kid, tuple(warnings))
