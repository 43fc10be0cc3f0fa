"""Presence tokens: the phone's dynamic QR, signed by the service (HMAC-SHA256, pinned), valid
a few minutes and bound to the member's current card serial (docs/reference/api-clinics.md,
*The release decision*, step 2).

The token is short so its QR stays small: ``UCP1:<serial>:<expiry>:<mac>``, upper-case
letters, digits and colons only (QR alphanumeric mode), where ``mac`` is the first 16 bytes
of HMAC-SHA256 over ``UCP1:<serial>:<expiry>`` in base32 without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import PresenceBinding
from app.services.errors import PresenceInvalid

PREFIX = "UCP1"
#: How long a presence token counts (docs/reference/api-clinics.md, *The release decision*, step 2:
#: at most 5 minutes).
TTL = timedelta(minutes=5)
_MAC_BYTES = 16
_TOKEN = re.compile(r"UCP1:([A-Z2-7]{16}):([0-9]{1,12}):([A-Z2-7]{26})")
_KEY_LABEL = b"unioncard-presence-token:"


@dataclass(frozen=True)
class PresenceToken:
    """A presence token and the moment it stops counting."""

    token: str
    card_serial: str
    expires_at: datetime


class PresenceTokens:
    """Issues and checks presence tokens with a secret and a clock."""

    def __init__(self, secret: str, *, clock: Callable[[], datetime] = utc_now,
                 ttl: timedelta = TTL) -> None:
        if len(secret) < 16:
            raise ValueError("presence secret too short")
        if ttl > TTL:
            raise ValueError("a presence token lasts at most 5 minutes")
        self._key = _KEY_LABEL + secret.encode()
        self._clock = clock
        self._ttl = ttl

    def _mac(self, serial: str, expiry: int) -> str:
        digest = hmac.new(self._key, f"{PREFIX}:{serial}:{expiry}".encode(), hashlib.sha256)
        return base64.b32encode(digest.digest()[:_MAC_BYTES]).decode().rstrip("=")

    def issue(self, card_serial: str) -> PresenceToken:
        """A new token for the card ``card_serial`` (the member's current card)."""
        expiry = int((self._clock() + self._ttl).timestamp())
        token = f"{PREFIX}:{card_serial}:{expiry}:{self._mac(card_serial, expiry)}"
        return PresenceToken(token, card_serial,
                             datetime.fromtimestamp(expiry, tz=timezone.utc))

    def check(self, token: str, card_serial: str) -> datetime:
        """Accept ``token`` as presence for the card ``card_serial`` now; when it expires.

        Raises:
            PresenceInvalid: ``presence-malformed``, ``presence-bad-signature`` (tampered or
                another key), ``presence-expired``, ``presence-other-card``.
        """
        match = _TOKEN.fullmatch(token.strip().upper())
        if match is None:
            raise PresenceInvalid("The presence token is not one the service issues.",
                                  reason="presence-malformed")
        serial, expiry_text, mac = match.groups()
        expiry = int(expiry_text)
        if not hmac.compare_digest(mac, self._mac(serial, expiry)):
            raise PresenceInvalid("The presence token's signature does not verify.",
                                  reason="presence-bad-signature")
        if self._clock().timestamp() >= expiry:
            raise PresenceInvalid("The presence token has expired; show a fresh one.",
                                  reason="presence-expired")
        if expiry - self._clock().timestamp() > TTL.total_seconds() + 1:
            raise PresenceInvalid("The presence token claims too long a life.",
                                  reason="presence-malformed")
        if not hmac.compare_digest(serial, card_serial):
            raise PresenceInvalid("The presence token was made for another card.",
                                  reason="presence-other-card")
        return datetime.fromtimestamp(expiry, tz=timezone.utc)


def is_presence_text(text: str) -> bool:
    """Whether scanned text is a phone's presence code (``UCP1:``) rather than a card: what a
    desk reads may be either, in either order."""
    return text.lstrip()[:len(PREFIX) + 1].upper() == PREFIX + ":"


def well_formed(token: str) -> bool:
    """Whether ``token`` has the shape of a presence token (its signature is not checked)."""
    return _TOKEN.fullmatch(token.strip().upper()) is not None


def token_hash(token: str) -> str:
    """What a presence binding keeps of a token: the SHA-256 of its canonical text."""
    return hashlib.sha256(token.strip().upper().encode()).hexdigest()


def bind_to_clinic(session: Session, token: str, *, clinic_code: str, client_id: str,
                   card_serial: str, expires_at: datetime, now: datetime) -> None:
    """Bind a presence token (checked already) to the first clinic that presents it: the
    same clinic may present it again while it lasts, another clinic is refused. The binding
    is a row under the token's hash (a primary key), so of two clinics presenting it at once
    exactly one wins; commits on ``session`` (the binding's own).

    Raises:
        PresenceInvalid: ``presence-other-clinic``, the token was presented by another
            clinic first.
    """
    key = token_hash(token)
    values = {"token_hash": key, "clinic_code": clinic_code, "client_id": client_id,
              "card_serial": card_serial, "bound_at": now, "expires_at": expires_at}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(PresenceBinding).values(values).on_conflict_do_nothing(
            index_elements=[PresenceBinding.token_hash]))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(PresenceBinding).values(values).on_conflict_do_nothing(
            index_elements=[PresenceBinding.token_hash]))
    holder = session.scalar(select(PresenceBinding.clinic_code)
                            .where(PresenceBinding.token_hash == key))
    session.commit()
    if holder != clinic_code:
        raise PresenceInvalid("This presence code was already used at another clinic; ask "
                              "the member to show a fresh one.",
                              reason="presence-other-clinic")


def prune_bindings(session: Session, now: datetime) -> int:
    """Delete the bindings of expired tokens (the caller commits); how many."""
    result = session.execute(delete(PresenceBinding).where(PresenceBinding.expires_at < now)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
