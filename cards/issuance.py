"""Issuing a UC1 card: claims → canonical CBOR → COSE_Sign1 ES256 → text."""

from __future__ import annotations

from cards import cose
from cards.claims import CardClaims
from cards.encoding import MAX_TEXT_CHARS, PREFIX, encode_text
from cards.errors import CardTooLarge, ClaimsError, SigningKeyError
from cards.keys import SigningKey
from cards.timeutil import Instant, epoch_seconds


def issue(claims: CardClaims, signing_key: SigningKey, *, now: Instant) -> str:
    """Sign ``claims`` with ``signing_key`` and return the ``UC1:`` card text.

    Raises:
        SigningKeyError: ``key-not-usable`` outside the key's validity, ``issuer-mismatch``
            when the key belongs to another issuer.
        ClaimsError: the claims have already expired at ``now``.
        CardTooLarge: the text would exceed the 4 KB limit.
    """
    if not isinstance(claims, CardClaims) or not isinstance(signing_key, SigningKey):
        raise TypeError("issue() needs CardClaims and a SigningKey")
    t = epoch_seconds(now)
    if not signing_key.is_usable(t):
        raise SigningKeyError("signing key is not valid now", reason="key-not-usable")
    if claims.issuer != signing_key.issuer:
        raise SigningKeyError("signing key belongs to another issuer", reason="issuer-mismatch")
    if claims.expires_at <= t:
        raise ClaimsError("claims have already expired")
    text = encode_text(cose.sign(claims.to_cbor(), signing_key), prefix=PREFIX)
    if len(text) > MAX_TEXT_CHARS:
        raise CardTooLarge(f"card text is {len(text)} characters")
    return text
