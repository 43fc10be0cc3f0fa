"""OAuth 2 client secrets (health-feed and clinic API clients): kept as a keyed hash under the
client kind's own context, checked in constant time whether or not the client exists."""

from __future__ import annotations

import hmac

from app.crypto import DataCipher

#: Longer secrets are cut to this before hashing (ours are 43 characters).
MAX_SECRET_LENGTH = 256
_NO_SUCH_CLIENT = "unioncard-no-such-client"


def secret_hash(cipher: DataCipher, context: str, secret: str) -> str:
    """The keyed hash a client secret is kept as (``context`` names the kind of client)."""
    return cipher.lookup_hash(secret[:MAX_SECRET_LENGTH], context)


def secret_matches(cipher: DataCipher, context: str, stored: str | None, given: str) -> bool:
    """Whether ``given`` is the secret behind ``stored``; an unknown client (``stored`` None)
    costs the same hash and comparison, so timing does not tell which client ids exist."""
    expected = stored if stored is not None else secret_hash(cipher, context, _NO_SUCH_CLIENT)
    return hmac.compare_digest(secret_hash(cipher, context, given), expected) and stored is not None
