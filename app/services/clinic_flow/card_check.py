"""The online card check (docs/reference/api-clinics.md, *The release decision*, step 1): the
card library's verification against the service's own keys and status lists, then the database
as it stands now: the card's status and reason, its member's status and that the card is the one
the service issued."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

import cards
from app.clock import now as utc_now
from app.models import (
    Card,
    CardStatus,
    KeyStatus,
    Member,
    MemberStatus,
    SigningKeyRecord,
    Union,
)
from app.services.errors import CardUnreadable
from app.services.issuing.keys import CARD, KeyStore, publication_version
from app.services.issuing.status_lists import StatusLists
from cards.trust import Trust
from cards.verify import Status, Verification

#: Reasons meaning the text is not a card at all (garbage, truncated, oversized): refused as
#: unreadable input rather than answered as a card's status.
UNREADABLE = frozenset({"too-long", "bad-prefix", "bad-base45", "bad-zlib",
                        "too-large-decompressed", "bad-cose"})

#: How long a process answers from its trust ring before asking the database whether the keys
#: or lists changed. The database's card, member and key states are read on every check, so
#: a ring behind by these seconds can only be corrected, never trusted over them.
TRUST_RECHECK_SECONDS = 5.0


@dataclass
class _Cached:
    version: tuple[Any, ...]
    ring: cards.KeyRing
    checked_at: float


_cached: _Cached | None = None
_trust_lock = threading.Lock()


def _version(session: Session) -> tuple[Any, ...]:
    """What identifies the trust material: the publication counter, and the card keys with
    their states (so another database at the same counter never shares a ring)."""
    keys_now = tuple((kid, str(status)) for kid, status in session.execute(
        select(SigningKeyRecord.kid, SigningKeyRecord.status)
        .where(SigningKeyRecord.purpose == CARD).order_by(SigningKeyRecord.id)))
    return (publication_version(session), keys_now)


def live_trust(session: Session, fresh: bool = False) -> cards.KeyRing:
    """The service's current keys (with their status) and status lists as a trust source,
    built once per trust-bundle version and process; its version is asked again after
    ``TRUST_RECHECK_SECONDS``, or at once when ``fresh``."""
    global _cached
    now = time.monotonic()
    with _trust_lock:
        cached = _cached
    if cached is not None and not fresh and now - cached.checked_at < TRUST_RECHECK_SECONDS:
        return cached.ring
    version = _version(session)
    if cached is not None and cached.version == version:
        cached.checked_at = now
        return cached.ring
    keys = KeyStore(session, "", actor="system").verification_keys()  # public parts only
    lists: dict[tuple[int, str], cards.StatusList] = {
        (sl.list_id, sl.purpose): sl for sl in StatusLists(session).all()}
    ring = cards.KeyRing(keys, status_lists=lists)
    with _trust_lock:
        _cached = _Cached(version, ring, now)
    return ring


#: The stored card, its member, union name and signing key's status, read in one query.
_CardRow = tuple[Card, Member, str | None, KeyStatus | None]
#: Its query, built once (it runs on every verify and pull).
_CARD_ROW = (select(Card, Member, Union.name, SigningKeyRecord.status)
             .join(Member, Member.id == Card.member_id)
             .outerjoin(Union, Union.code == Member.union_code)
             .outerjoin(SigningKeyRecord, SigningKeyRecord.kid == Card.kid)
             .where(Card.serial == bindparam("serial")))


@dataclass(frozen=True)
class CardOutcome:
    """A checked card: its status and reason, the claims (once the signature verified), and
    the stored card and member it is tied to (when it is one the service issued)."""

    status: Status
    reason: str
    claims: cards.CardClaims | None = None
    card: Card | None = None
    member: Member | None = None
    union_name: str | None = None

    @property
    def valid(self) -> bool:
        """Whether the card is genuine, current and its member active."""
        return self.status == "valid"

    @property
    def clinic_reason(self) -> str:
        """The reason a clinic is told: a suspended card is only ``suspended`` (the office's
        own reason for suspending it — an investigation, the member's suspension — stays
        with the office and the member's access log)."""
        return "suspended" if self.status == "suspended" else self.reason

    @property
    def serial(self) -> str | None:
        """The card serial, once tied to a stored card."""
        if self.card is None:
            return None
        # the claims' copy: reading it never reloads the row after the session moved on
        return self.claims.serial if self.claims is not None else self.card.serial


class CardCheck:
    """Checks scanned card texts against the service's trust material and database."""

    def __init__(self, session: Session, *, clock: Callable[[], datetime] = utc_now,
                 trust: Callable[[Session, bool], Trust] = live_trust) -> None:
        self.session = session
        self.clock = clock
        self.trust = trust

    def check(self, text: str) -> CardOutcome:
        """The card's status now: ``valid``, ``expired``, ``not-yet-valid``, ``revoked``,
        ``suspended``, ``unknown-issuer`` or ``invalid``, with a specific reason.

        Raises:
            CardUnreadable: the text is not a UC1 card at all (``reason``: the layer).
        """
        result = self._verify(text)
        if result.claims is None:  # not genuine: nothing ties it to a member
            return CardOutcome(result.status, result.reason)
        return self.against_database(result.status, result.reason, result.claims)

    def check_stored(self, serial: str, text_of: Callable[[Card], str]) -> CardOutcome | None:
        """The stored card with this serial checked again in full (its signed text, read by
        ``text_of``, against the keys and lists, then the database): as ``check``, from the
        one joined read of the card, its member, union and key state; None when no card has
        this serial.

        Raises:
            CardUnreadable: the stored text is not a UC1 card (it never should be).
        """
        row = self._row(serial)
        if row is None:
            return None
        result = self._verify(text_of(row[0]))
        if result.claims is None:
            return CardOutcome(result.status, result.reason)
        if result.claims.serial != serial:
            return CardOutcome("invalid", "card-mismatch", result.claims)
        return self._combine(row, result.status, result.reason, result.claims)

    def _verify(self, text: str) -> Verification:
        result = cards.verify(text, self.trust(self.session, False), now=self.clock())
        if result.status == "unknown-issuer" or (result.status in ("revoked", "suspended")
                                                 and result.reason != "key-compromise"):
            # a new key, or a list changed within the recheck time: ask again, fresh
            result = cards.verify(text, self.trust(self.session, True), now=self.clock())
        if result.status == "invalid" and result.reason in UNREADABLE:
            raise CardUnreadable(f"The scanned text is not a readable UC1 card "
                                 f"({result.reason}).", reason=result.reason)
        return result

    def _row(self, serial: str) -> _CardRow | None:
        row = self.session.execute(_CARD_ROW, {"serial": serial}).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def against_database(self, status: Status, reason: str,
                         claims: cards.CardClaims) -> CardOutcome:
        """Combine a genuine card's offline status with the stored card and member: revoked
        beats suspended beats expiry, and a card the database does not hold is invalid."""
        row = self._row(claims.serial)
        if row is None:
            return CardOutcome("invalid", "unknown-card", claims)
        return self._combine(row, status, reason, claims)

    def _combine(self, row: _CardRow,
                 status: Status, reason: str, claims: cards.CardClaims) -> CardOutcome:
        card, member, union_name, key_status = row
        if member.member_number != claims.member_number:
            return CardOutcome("invalid", "card-mismatch", claims)
        if key_status is KeyStatus.REVOKED:  # revoked since the ring was built
            status, reason = "revoked", "key-compromise"
        return CardOutcome(*self._current(card, member, status, reason), claims, card, member,
                           union_name)

    @staticmethod
    def _current(card: Card, member: Member, status: Status,
                 reason: str) -> tuple[Status, str]:
        if card.status is CardStatus.REVOKED:
            return "revoked", card.status_reason or "revoked"
        if status == "revoked":  # the signing key was revoked (or the list says so)
            return status, reason
        if member.status is MemberStatus.LEFT:
            return "revoked", "member-left"
        if card.status is CardStatus.SUSPENDED:
            return "suspended", card.status_reason or "suspended"
        if member.status is MemberStatus.SUSPENDED:
            return "suspended", "member-suspended"
        return status, reason


def card_by_serial(session: Session, serial: str) -> Card | None:
    """The stored card with this serial."""
    return session.scalar(select(Card).where(Card.serial == serial))
