"""Pull grants: the release decision as a signed token (JWT, HS256 pinned, a key of its own)
bound to one clinic client, one card, the sections released and the purpose; at most 10
minutes for a normal pull, 24 hours for emergency access (docs/reference/api-clinics.md,
*The release decision*, steps 4 and 5)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from app.clock import now as utc_now
from app.services.errors import GrantInvalid

ALGORITHM = "HS256"  # pinned: never read from the token
TYPE = "pull-grant+jwt"
AUDIENCE = "unioncard-pull"
#: A normal grant's life (docs/reference/api-clinics.md, *The release decision*, step 5: at
#: most 10 minutes).
GRANT_TTL = timedelta(minutes=10)
#: An emergency grant's life (docs/reference/api-clinics.md, *The release decision*, step 4:
#: the emergency core for 24 hours).
EMERGENCY_TTL = timedelta(hours=24)
_KEY_LABEL = "unioncard-pull-grant:"


@dataclass(frozen=True)
class Grant:
    """What a grant allows: this client may pull these sections of this card for this
    purpose until ``expires_at``; ``sensitive``: sensitive entries of them too."""

    client_id: str
    card_serial: str
    sections: tuple[str, ...]
    purpose: str
    expires_at: datetime
    sensitive: bool = False
    emergency: bool = False
    grant_id: str = ""


class PullGrants:
    """Signs and checks pull grants with a secret and a clock."""

    def __init__(self, secret: str, *, clock: Callable[[], datetime] = utc_now) -> None:
        if len(secret) < 16:
            raise ValueError("pull-grant secret too short")
        self._key = (_KEY_LABEL + secret).encode()
        self._clock = clock

    def issue(self, client_id: str, card_serial: str, sections: tuple[str, ...], purpose: str,
              *, sensitive: bool = False, emergency: bool = False) -> tuple[str, Grant]:
        """A signed grant (and what it says)."""
        now = self._clock()
        expires = now + (EMERGENCY_TTL if emergency else GRANT_TTL)
        grant = Grant(client_id, card_serial, tuple(sections), purpose,
                      expires.replace(microsecond=0), sensitive, emergency,
                      secrets.token_urlsafe(12))
        claims: dict[str, Any] = {
            "aud": AUDIENCE, "sub": client_id, "card": card_serial,
            "sections": list(grant.sections), "purpose": purpose, "sensitive": sensitive,
            "emergency": emergency, "iat": int(now.timestamp()),
            "exp": int(grant.expires_at.timestamp()), "jti": grant.grant_id}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TYPE})
        return token, grant

    def check(self, token: str, client_id: str) -> Grant:
        """The grant in ``token``, presented by the client ``client_id`` now.

        Raises:
            GrantInvalid: ``grant-malformed``, ``grant-bad-signature`` (tampered, or signed by
                another key or algorithm), ``grant-expired``, ``grant-other-client``.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise GrantInvalid("The pull grant is not a token.", reason="grant-malformed") from None
        if header.get("alg") != ALGORITHM or header.get("typ") != TYPE:
            raise GrantInvalid("The pull grant is not signed as the service signs grants.",
                               reason="grant-bad-signature")
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                options={"require": ["exp", "iat", "sub", "aud"],
                                         "verify_exp": False, "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise GrantInvalid("The pull grant's signature does not verify.",
                               reason="grant-bad-signature") from None
        except jwt.PyJWTError:
            raise GrantInvalid("The pull grant is malformed.", reason="grant-malformed") from None
        grant = self._grant(claims)
        now = self._clock()
        if now >= grant.expires_at:
            raise GrantInvalid("The pull grant has expired; verify the card again.",
                               reason="grant-expired", card_serial=grant.card_serial)
        longest = EMERGENCY_TTL if grant.emergency else GRANT_TTL
        if grant.expires_at - now > longest + timedelta(seconds=5):
            raise GrantInvalid("The pull grant claims too long a life.", reason="grant-malformed")
        if grant.client_id != client_id:
            raise GrantInvalid("This pull grant was issued to another client.",
                               reason="grant-other-client", card_serial=grant.card_serial)
        return grant

    @staticmethod
    def _grant(claims: dict[str, Any]) -> Grant:
        try:
            sections = claims["sections"]
            if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
                raise TypeError("sections")
            return Grant(str(claims["sub"]), str(claims["card"]), tuple(sections),
                         str(claims["purpose"]),
                         datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc),
                         bool(claims.get("sensitive")), bool(claims.get("emergency")),
                         str(claims.get("jti", "")))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise GrantInvalid("The pull grant is malformed.", reason="grant-malformed") from None
