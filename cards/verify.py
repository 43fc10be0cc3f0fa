"""Offline (and online) verification of UC1 card text, returning a result, never raising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cbor2

from cards import cose
from cards.b64 import b64url_encode
from cards.claims import CANONICAL_KEY_ORDER, CardClaims
from cards.cwt import check_times, loads_strict
from cards.encoding import PREFIX, decode_text
from cards.errors import (
    BadSignature,
    CardError,
    ExpiredCard,
    MalformedCard,
    NotYetValid,
    RevokedCard,
    StatusListError,
    SuspendedCard,
    UnknownKey,
    UntrustedIssuer,
)
from cards.keys import SHORT_KID_BYTES, VerificationKey
from cards.timeutil import DEFAULT_SKEW, Instant, epoch_seconds
from cards.trust import Trust

Status = Literal[
    "valid", "expired", "not-yet-valid", "revoked", "suspended", "unknown-issuer", "invalid"
]
STATUS_LIST_MISSING = "status-list-missing"
_UC1_PROTECTED_KEYS = frozenset({cose.HEADER_ALG, cose.HEADER_KID})


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


@dataclass(frozen=True)
class ParsedCard:
    """A card whose layers parsed, with the signature not yet checked."""

    message: cose.CoseSign1
    kid: bytes


def parse_card(text: str, *, prefix: str = PREFIX) -> ParsedCard:
    """Decode the text layers and COSE envelope and check the UC1 header; no signature check.

    Raises:
        MalformedCard: a layer is broken (``too-long``, ``bad-prefix``, ``bad-base45``,
            ``bad-zlib``, ``too-large-decompressed``, ``bad-cose``, ``bad-header``, ``bad-kid``).
        UnsupportedAlgorithm: the algorithm is not ES256.
    """
    message = cose.decode(decode_text(text, prefix=prefix))
    cose.check_alg(message)
    if set(message.protected_header) != _UC1_PROTECTED_KEYS or message.unprotected_header:
        raise MalformedCard("UC1 header must be exactly {1: -7, 4: kid}", reason="bad-header")
    kid = message.kid
    if kid is None or len(kid) != SHORT_KID_BYTES:
        raise MalformedCard("UC1 kid must be 8 bytes", reason="bad-kid")
    return ParsedCard(message, kid)


def read_claims(payload: bytes) -> CardClaims:
    """Decode a UC1 claims payload, requiring canonical CBOR.

    Raises:
        MalformedCard: ``bad-cbor``, ``bad-claims``, ``bad-version`` or ``non-canonical``.
    """
    raw = loads_strict(payload)
    # One card, one encoding: keys in canonical order and a re-encoding (minimal integers and
    # lengths, as cbor2 always writes) that gives back the signed bytes exactly.
    if not isinstance(raw, dict):
        raise MalformedCard("claims must be a map", reason="bad-claims")
    keys = list(raw)
    if keys != [k for k in CANONICAL_KEY_ORDER if k in raw]:
        known = set(keys) <= set(CANONICAL_KEY_ORDER)
        raise MalformedCard(
            "claim keys unknown or out of canonical order",
            reason="non-canonical" if known else "bad-claims",
        )
    if cbor2.dumps(raw) != payload:
        raise MalformedCard("claims are not canonical CBOR", reason="non-canonical")
    return CardClaims.from_cbor_map(raw)


def _find_key(parsed: ParsedCard, trust: Trust) -> VerificationKey:
    candidates = trust.keys_for(parsed.kid)
    if not candidates:
        raise UnknownKey("no trusted key has this kid")
    error: BadSignature | None = None
    for key in candidates:  # several keys may share a short kid; any that verifies wins
        try:
            cose.verify_signature(parsed.message, key.public_key)
            return key
        except BadSignature as e:
            error = e
    assert error is not None
    raise error


def _check_status(claims: CardClaims, trust: Trust) -> list[str]:
    warnings = []
    for purpose, error in (("revocation", RevokedCard), ("suspension", SuspendedCard)):
        status_list = trust.status_list(claims.status_list_id, purpose)
        if status_list is None:
            warnings.append(STATUS_LIST_MISSING)
            continue
        try:
            flagged = status_list.get(claims.status_index)
        except StatusListError as e:
            raise MalformedCard("status index outside its list", reason="bad-status-index") from e
        if flagged:
            raise error()
    return sorted(set(warnings))


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
        t = epoch_seconds(now)
        warnings.extend(trust.warnings(t))
        parsed = parse_card(text)
        kid = b64url_encode(parsed.kid)
        key = _find_key(parsed, trust)
        claims = read_claims(parsed.message.payload)
        if claims.issuer != key.issuer:
            raise UntrustedIssuer(f"key of {key.issuer} signed a card of {claims.issuer}")
        if key.revoked:
            raise RevokedCard("the signing key was revoked", reason="key-compromise")
        warnings.extend(_check_status(claims, trust))
        check_times({4: claims.expires_at, 6: claims.issued_at}, t, skew=skew)
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
    return Verification("valid", "ok", claims, kid, key.kid, tuple(warnings))
