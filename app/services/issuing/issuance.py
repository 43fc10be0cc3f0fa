"""The card desk: issue, supersede, suspend, reinstate, revoke; render the card's files."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import cards
from app.clock import VIETNAM
from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Card, CardStatus, Member, MemberStatus, Province, Union
from app.services import audit
from app.services.access.scope import Scope
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.issuing.card_status import CardLifecycle
from app.services.issuing.keys import KeyStore
from app.services.issuing.status_lists import StatusLists
from cards import cose, encoding, nfc, printing, qr
from cards.verify import read_claims

UC1_CONTEXT = "card.uc1"
ACTIVATION_CONTEXT = "card.activation"
REVOKE_REASONS = ("lost", "stolen", "left-union", "data-error", "key-compromise", "superseded")
SUSPEND_REASONS = ("lost", "member-suspended", "investigation", "other")
SEX_LABELS = {"M": "Nam", "F": "Nữ"}
INDEX_ATTEMPTS = 5
_ACTIVATION_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


@dataclass(frozen=True)
class CardSettings:
    """Who issues cards and for how long."""

    issuer: str
    issuer_name: str
    validity_days: int
    public_base_url: str
    #: How long a card's activation code works (``ACTIVATION_CODE_DAYS``).
    activation_days: int = 30

    def verify_url(self, serial: str) -> str:
        """The URI record of the NFC payload: the card's public verification page."""
        return f"{self.public_base_url.rstrip('/')}/v/{serial}"


@dataclass(frozen=True)
class IssuedCard:
    """A new card and its one-time activation code (shown once, stored only as a hash)."""

    card: Card
    activation_code: str


@dataclass(frozen=True)
class Reprint:
    """A reissued card waiting for the office's printer, with whose it is."""

    card: Card
    member_number: str
    full_name: str


def new_activation_code() -> str:
    """A 12-character code in three groups (60 bits), easy to type from a letter."""
    raw = "".join(secrets.choice(_ACTIVATION_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class CardDesk:
    """Card operations for one actor, with a session, cipher, keys, status lists and clock."""

    def __init__(self, session: Session, cipher: DataCipher, keys: KeyStore,
                 settings: CardSettings, *, actor: str,
                 clock: Callable[[], datetime] = utc_now,
                 emergency_core: Callable[[Member], cards.EmergencyCore | None] | None = None
                 ) -> None:
        self.session = session
        #: What a new card of a member carries as its emergency core (None: nothing); the
        #: member's on-card consent decides (app.services.health.on_card).
        self.emergency_core = emergency_core
        self.cipher = cipher
        self.keys = keys
        self.settings = settings
        self.actor = actor
        self.clock = clock
        self.lists = StatusLists(session)
        self.lifecycle = CardLifecycle(session, actor=actor, clock=clock, lists=self.lists)

    # -- issuing --------------------------------------------------------------------------
    def member_in_scope(self, scope: Scope, member_id: int, *, lock: bool = False) -> Member:
        """A member the caller may issue for (``lock``: row-locked until commit, so two
        concurrent issuances for one member run one after the other).

        Raises:
            NotFound: no such member in scope.
        """
        member = self.session.get(Member, member_id, with_for_update=lock or None)
        if member is None:
            raise NotFound("No such member.")
        scope.ensure(member.province_code, member.union_code, "member")
        return member

    def issue(self, scope: Scope, member_id: int, *, batch_job_id: str | None = None
              ) -> IssuedCard:
        """Issue a card to an active member; an existing card is superseded (revoked).

        Raises:
            NotFound: no such member in scope. Conflict: the member is not active.
        """
        member = self.member_in_scope(scope, member_id, lock=True)
        return self.issue_for(member, batch_job_id=batch_job_id)

    def issue_for(self, member: Member, *, batch_job_id: str | None = None) -> IssuedCard:
        """Issue a card to a member already checked for scope."""
        if member.status is not MemberStatus.ACTIVE:
            raise Conflict(f"The member is {member.status.value}; only active members get cards.")
        for old in self.lifecycle.live_cards(member.id):
            self.lifecycle.revoke(old, "superseded")
        record = self.keys.ensure(self.settings.issuer)
        key = self.keys.signing_key(record)
        # read after the key exists: a key made by ``ensure`` is not usable before its creation
        now = self.clock().replace(microsecond=0)
        for attempt in range(INDEX_ATTEMPTS):
            try:
                with self.session.begin_nested():
                    card, code = self._sign_and_store(member, key, now, batch_job_id)
                break
            except IntegrityError:
                # a concurrent issuer took the same random status-list index: draw again
                self.lists.forget_current()
                if attempt == INDEX_ATTEMPTS - 1:
                    raise
        audit.record(self.session, actor=self.actor, action="card.issue", object_type="card",
                     object_id=card.serial, province_code=card.province_code,
                     details={"member_id": member.id, "kid": key.kid,
                              "batch_job_id": batch_job_id})
        return IssuedCard(card, code)

    def _sign_and_store(self, member: Member, key: cards.SigningKey, now: datetime,
                        batch_job_id: str | None) -> tuple[Card, str]:
        list_id, index = self.lists.allocate()
        expires = now + timedelta(days=self.settings.validity_days)
        claims = cards.CardClaims(
            issuer=self.settings.issuer, serial=cards.new_serial(),
            member_number=member.member_number, name=member.full_name,
            birth_date=member.birth_date, union_code=member.union_code,
            province_code=member.province_code, issued_at=int(now.timestamp()),
            expires_at=int(expires.timestamp()), status_list_id=list_id, status_index=index,
            emergency=self.emergency_core(member) if self.emergency_core else None)
        text = cards.issue(claims, key, now=now)
        symbol = qr.make_qr(text)
        ndef = nfc.make_ndef(text, self.settings.verify_url(claims.serial))
        code = new_activation_code()
        card = Card(serial=claims.serial, member_id=member.id, province_code=member.province_code,
                    union_code=member.union_code, issuer=claims.issuer, kid=key.kid,
                    format_version=claims.version, issued_at=now, expires_at=expires,
                    status=CardStatus.ACTIVE, status_reason="", status_list_id=list_id,
                    status_index=index, uc1_encrypted=self.cipher.encrypt(text, UC1_CONTEXT, claims.serial),
                    qr_version=symbol.version, ndef_size=ndef.size, nfc_tag=ndef.tag.name,
                    has_emergency_core=claims.emergency is not None,
                    activation_hash=self.cipher.lookup_hash(code, ACTIVATION_CONTEXT),
                    activation_expires_at=now + timedelta(days=self.settings.activation_days),
                    batch_job_id=batch_job_id)
        self.session.add(card)
        self.session.flush()
        return card, code

    def reissue(self, member_id: int, reason: str) -> IssuedCard | None:
        """Reissue a member's active card because what it carries changed (``reason``); the
        old card is superseded and the new one flagged ``reprint_needed`` for the office. A
        member without an active card (none, or only a suspended one) or not active keeps
        theirs: None. Nothing is reissued when the new card would carry what the old one
        does (a renewed consent, an unchanged summary)."""
        member = self.session.get(Member, member_id, with_for_update=True)
        if member is None or member.status is not MemberStatus.ACTIVE:
            return None
        live = self.lifecycle.live_cards(member.id)
        if not live or any(c.status is not CardStatus.ACTIVE for c in live):
            return None
        wanted = self.emergency_core(member) if self.emergency_core else None
        if all(self.claims(c).emergency == wanted for c in live):
            return None
        issued = self.issue_for(member)
        issued.card.reprint_needed = True
        audit.record(self.session, actor=self.actor, action="card.reissue", object_type="card",
                     object_id=issued.card.serial, province_code=issued.card.province_code,
                     reason=reason, details={"member_id": member.id,
                                             "superseded": [c.serial for c in live],
                                             "emergency_core": issued.card.has_emergency_core})
        return issued

    def reprints_due(self, scope: Scope, *, offset: int = 0, limit: int | None = None
                     ) -> list[Card]:
        """Active cards in scope that the service reissued and the office has not reprinted
        yet, oldest first (``offset`` and ``limit``: one page of them)."""
        return list(self.session.scalars(
            self._reprints(scope, select(Card)).order_by(Card.issued_at, Card.id)
            .offset(offset).limit(limit)))

    def reprints_page(self, scope: Scope, page: int, per_page: int
                      ) -> tuple[list[Reprint], int]:
        """One page of the reprints due in scope, each with its member's number and name,
        and how many there are in all."""
        cards_ = self.reprints_due(scope, offset=(page - 1) * per_page, limit=per_page)
        members = {m.id: m for m in self.session.scalars(select(Member).where(
            Member.id.in_({c.member_id for c in cards_})))}
        return ([Reprint(c, members[c.member_id].member_number, members[c.member_id].full_name)
                 for c in cards_], self.reprints_count(scope))

    def reprints_count(self, scope: Scope) -> int:
        """How many reprints the offices in scope have to do."""
        return self.session.scalar(self._reprints(scope, select(func.count(Card.id)))) or 0

    @staticmethod
    def _reprints(scope: Scope, stmt: Select[Any]) -> Select[Any]:
        return (stmt.join(Member, Member.id == Card.member_id)
                .where(Card.reprint_needed.is_(True), Card.status == CardStatus.ACTIVE,
                       scope.condition(Member.province_code, Member.union_code)))

    def mark_reprinted(self, scope: Scope, serial: str) -> Card:
        """Record that the office printed a reissued card.

        Raises:
            NotFound: no such card in scope.
        """
        card = self.get(scope, serial, lock=True)
        if card.reprint_needed:
            card.reprint_needed = False
            audit.record(self.session, actor=self.actor, action="card.reprinted",
                         object_type="card", object_id=card.serial,
                         province_code=card.province_code)
        return card

    def new_activation_code(self, scope: Scope, serial: str) -> str:
        """Replace a card's activation code (the old one stops working; the new one works
        for ``activation_days``).

        Raises:
            NotFound: no such card in scope. Conflict: the card is revoked.
        """
        card = self.get(scope, serial, lock=True)
        if card.status is CardStatus.REVOKED:
            raise Conflict("The card is revoked.")
        code = new_activation_code()
        card.activation_hash = self.cipher.lookup_hash(code, ACTIVATION_CONTEXT)
        card.activation_used_at = None
        card.activation_expires_at = (self.clock().replace(microsecond=0)
                                      + timedelta(days=self.settings.activation_days))
        audit.record(self.session, actor=self.actor, action="card.activation-code",
                     object_type="card", object_id=serial, province_code=card.province_code)
        return code

    # -- reading --------------------------------------------------------------------------
    def get(self, scope: Scope, serial: str, *, lock: bool = False) -> Card:
        """A card in scope (``lock``: row-locked until commit, for status changes).

        Raises:
            NotFound: no such card in scope.
        """
        # the member's current place decides (a moved member's cards move with them)
        stmt = (select(Card).join(Member, Member.id == Card.member_id)
                .where(Card.serial == serial.upper(),
                       scope.condition(Member.province_code, Member.union_code)))
        card = self.session.scalar(stmt.with_for_update(of=Card) if lock else stmt)
        if card is None:
            raise NotFound("No such card.")
        return card

    def for_member(self, scope: Scope, member_id: int) -> list[Card]:
        """A member's cards, newest first."""
        member = self.member_in_scope(scope, member_id)
        return list(self.session.scalars(select(Card).where(Card.member_id == member.id)
                                         .order_by(Card.issued_at.desc(), Card.id.desc())))

    def text(self, card: Card) -> str:
        """The signed UC1 text (decrypted)."""
        return self.cipher.decrypt(card.uc1_encrypted, UC1_CONTEXT, card.serial)

    def claims(self, card: Card) -> cards.CardClaims:
        """The claims of a card's own stored text (the service signed it: not verified)."""
        return read_claims(cose.decode(encoding.decode_text(self.text(card))).payload)

    def face(self, card: Card) -> printing.CardFace:
        """What the printed card shows."""
        member = self.session.get(Member, card.member_id)
        assert member is not None
        union = self.session.scalar(select(Union).where(Union.code == card.union_code))
        province = self.session.get(Province, card.province_code)
        local = VIETNAM
        return printing.CardFace(
            name=member.full_name, birth_date=member.birth_date,
            member_number=member.member_number, union_name=union.name if union else card.union_code,
            province_name=province.name if province else card.province_code,
            valid_from=card.issued_at.astimezone(local).date(),
            valid_until=card.expires_at.astimezone(local).date(), serial=card.serial,
            issuer_name=self.settings.issuer_name, qr_text=self.text(card),
            sex=SEX_LABELS.get(member.sex, member.sex))

    # -- lifecycle ------------------------------------------------------------------------
    def revoke(self, scope: Scope, serial: str, reason: str) -> Card:
        """Revoke a card for good; the status-list bit is set at once.

        Raises:
            NotFound, ValidationFailed (unknown reason), Conflict (already revoked).
        """
        if reason not in REVOKE_REASONS:
            raise ValidationFailed.field("reason", f"One of: {', '.join(REVOKE_REASONS)}.")
        card = self.get(scope, serial, lock=True)
        if card.status is CardStatus.REVOKED:
            raise Conflict("The card is already revoked.")
        self.lifecycle.revoke(card, reason)
        return card

    def suspend(self, scope: Scope, serial: str, reason: str) -> Card:
        """Suspend a card (reversible).

        Raises:
            NotFound, ValidationFailed, Conflict (not active).
        """
        if reason not in SUSPEND_REASONS:
            raise ValidationFailed.field("reason", f"One of: {', '.join(SUSPEND_REASONS)}.")
        card = self.get(scope, serial, lock=True)
        if card.status is not CardStatus.ACTIVE:
            raise Conflict(f"Only an active card can be suspended; this one is "
                           f"{card.status.value}.")
        self.lifecycle.suspend(card, reason)
        return card

    def reinstate(self, scope: Scope, serial: str) -> Card:
        """Lift a suspension.

        Raises:
            NotFound; Conflict when the card is not suspended or the member is not active.
        """
        card = self.get(scope, serial, lock=True)
        if card.status is not CardStatus.SUSPENDED:
            raise Conflict(f"The card is {card.status.value}, not suspended.")
        member = self.session.get(Member, card.member_id)
        if member is None or member.status is not MemberStatus.ACTIVE:
            raise Conflict("The member is not active; reinstate the member first.")
        self.lifecycle.reinstate(card)
        return card
