"""The ``on-card`` consent and the card: what emergency core a member's card carries, and the
reissue when that consent is granted, renewed or withdrawn (or lapses)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import cards
from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Card, CardStatus, Member
from app.services.health import systems as sy
from app.services.health.consent import on_card_active
from app.services.health.store import HealthStore
from app.services.health.summary import HealthSummary
from app.services.issuing.issuance import CardDesk, IssuedCard
from cards.claims import MAX_ALLERGY_CHARS, MAX_EMERGENCY_ITEMS

#: SNOMED CT blood-group concepts (ABO and Rh(D)) to the card's blood-group values.
SNOMED_BLOOD_GROUPS = {
    "278147001": "O+", "278148006": "O-", "278149003": "A+", "278152006": "A-",
    "278150003": "B+", "278153001": "B-", "278151004": "AB+", "278154007": "AB-",
}
REISSUE_REASON = "on-card-consent"
#: Why a card is reissued when a new summary changed its emergency core, or a consent lapsed.
SUMMARY_REASON = "health-summary-changed"
LAPSED_REASON = "on-card-consent-lapsed"
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")


def _label(text: str) -> str | None:
    """An allergy as the card holds it: NFC, single spaces, at most 32 characters."""
    label = " ".join(unicodedata.normalize("NFC", text).split())
    label = "".join(ch for ch in label if ch.isprintable())
    if len(label) > MAX_ALLERGY_CHARS:
        label = label[:MAX_ALLERGY_CHARS - 1].rstrip() + "…"
    return label or None


def card_core(summary: HealthSummary) -> cards.EmergencyCore | None:
    """The emergency core for the card from a summary: the blood group (SNOMED CT coded),
    up to three critical allergies (their text) and three critical conditions (ICD-10 codes),
    in the summary's order. Sensitive entries never go on a card. None when nothing is left."""
    blood = None
    if summary.blood_group is not None and not summary.blood_group.sensitive:
        blood = next((SNOMED_BLOOD_GROUPS[c.code] for c in summary.blood_group.value_codes
                      if c.system == sy.SNOMED and c.code in SNOMED_BLOOD_GROUPS), None)
    allergies: list[str] = []
    for allergy in summary.critical_allergies:
        text = allergy.text or next((c.text for c in allergy.codes if c.text), "")
        label = _label(text) if not allergy.sensitive else None
        if label and label not in allergies and len(allergies) < MAX_EMERGENCY_ITEMS:
            allergies.append(label)
    conditions: list[str] = []
    for condition in summary.critical_conditions:
        code = condition.code(sy.ICD10) or condition.code(sy.ICD10_VN)
        if (code and not condition.sensitive and _ICD10.fullmatch(code)
                and code not in conditions and len(conditions) < MAX_EMERGENCY_ITEMS):
            conditions.append(code)
    if blood is None and not allergies and not conditions:
        return None
    return cards.EmergencyCore(blood, tuple(allergies), tuple(conditions))


class OnCardCore:
    """The card desk's ``emergency_core``: a member's card carries the core only while an
    ``on-card`` consent is active, and only what their health summary holds."""

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.clock = clock
        self.store = HealthStore(session, cipher, actor="system:on-card", clock=clock)

    def __call__(self, member: Member) -> cards.EmergencyCore | None:
        """The core for a new card of ``member``, or None."""
        if not on_card_active(self.session, member.id, self.clock()):
            return None
        document = self.store.load(member.id)
        return None if document is None else card_core(HealthSummary.from_document(document))


def reissue_for_consent(desk: CardDesk) -> Callable[[int], IssuedCard | None]:
    """The consent service's ``on_card_changed``: reissue the member's card (flagged for
    reprint) with or without the emergency core. The desk must use ``OnCardCore``."""
    if not isinstance(desk.emergency_core, OnCardCore):
        raise TypeError("the card desk must take its emergency core from OnCardCore")

    def reissue(member_id: int) -> IssuedCard | None:
        return desk.reissue(member_id, REISSUE_REASON)

    return reissue


def lapsed_on_card(session: Session, now: datetime) -> list[int]:
    """Members whose active card carries an emergency core that no active ``on-card``
    consent covers any more (it expired): their cards are due a reissue without it."""
    members = session.scalars(select(Card.member_id).where(
        Card.status == CardStatus.ACTIVE, Card.has_emergency_core.is_(True)).distinct())
    return sorted(m for m in members if not on_card_active(session, m, now))


def refresh_after_summary(desk: CardDesk) -> Callable[[int], IssuedCard | None]:
    """What runs after a member's new health summary is written (push or pull): a member whose
    active ``on-card`` consent puts the core on the card gets a new card (old one superseded,
    reprint flagged) when the core changed; everyone else is left alone, unread."""
    if not isinstance(desk.emergency_core, OnCardCore):
        raise TypeError("the card desk must take its emergency core from OnCardCore")

    def refresh(member_id: int) -> IssuedCard | None:
        if not on_card_active(desk.session, member_id, desk.clock()):
            return None
        return desk.reissue(member_id, SUMMARY_REASON)

    return refresh


@dataclass(frozen=True)
class RefreshResult:
    """What one run of ``refresh_lapsed`` did: members looked at, cards reissued."""

    lapsed: tuple[int, ...]
    reissued: tuple[str, ...]


def refresh_lapsed(desk: CardDesk, *,
                   after_each: Callable[[], object] | None = None) -> RefreshResult:
    """Reissue, without the core, the cards of members whose on-card consent has expired
    (``lapsed_on_card``); idempotent: a second run finds nothing left to do. ``after_each``
    (e.g. the session's commit) runs after each member, so a long run holds one member's
    locks at a time."""
    if not isinstance(desk.emergency_core, OnCardCore):
        raise TypeError("the card desk must take its emergency core from OnCardCore")
    lapsed = lapsed_on_card(desk.session, desk.clock())
    reissued = []
    for member_id in lapsed:
        issued = desk.reissue(member_id, LAPSED_REASON)
        if issued is not None:
            reissued.append(issued.card.serial)
        if after_each is not None:
            after_each()
    return RefreshResult(tuple(lapsed), tuple(reissued))
