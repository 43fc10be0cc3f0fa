"""The card library's error hierarchy; every error carries a stable ``reason`` code."""

from __future__ import annotations


class CardError(Exception):
    """Base class of every error raised by the ``cards`` library."""

    default_reason = "card-error"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        self.reason: str = reason or self.default_reason
        super().__init__(message or self.reason)


class InvalidCard(CardError):
    """The card text cannot be accepted as a genuine, current card."""

    default_reason = "invalid"


class MalformedCard(InvalidCard):
    """The card text or one of its inner layers is structurally broken."""

    default_reason = "malformed"


class UnsupportedAlgorithm(InvalidCard):
    """The COSE header names an algorithm other than the pinned ES256."""

    default_reason = "unsupported-alg"


class BadSignature(InvalidCard):
    """The signature is malformed or does not verify with the key."""

    default_reason = "bad-signature"


class UnknownKey(InvalidCard):
    """The card's key id matches no key the verifier trusts."""

    default_reason = "unknown-kid"


class UntrustedIssuer(InvalidCard):
    """The card names an issuer its signing key is not published for."""

    default_reason = "issuer-mismatch"


class ExpiredCard(InvalidCard):
    """The card's expiry time has passed (beyond the allowed clock skew)."""

    default_reason = "expired"


class NotYetValid(InvalidCard):
    """The card's issue time is in the future (beyond the allowed clock skew)."""

    default_reason = "not-yet-valid"


class RevokedCard(InvalidCard):
    """The card, or the key that signed it, has been revoked."""

    default_reason = "revoked"


class SuspendedCard(InvalidCard):
    """The card is suspended in the suspension status list."""

    default_reason = "suspended"


class ClaimsError(CardError, ValueError):
    """A claim value given to a claims constructor breaks an invariant."""

    default_reason = "bad-claims"


class CardTooLarge(CardError):
    """An issued card would exceed the UC1 size limits."""

    default_reason = "too-long"


class SigningKeyError(CardError):
    """A signing key cannot be loaded, parsed or used."""

    default_reason = "bad-key"


class StatusListError(CardError):
    """A status list is malformed, or an index is out of range or unavailable."""

    default_reason = "bad-status-list"


class TrustError(CardError):
    """A trust bundle is unsigned, tampered, malformed or otherwise unacceptable."""

    default_reason = "bad-bundle"
