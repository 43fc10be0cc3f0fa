"""The clinic desk: verify a scanned card, pull what a grant allows, emergency access — THE
release decision (docs/reference/api-clinics.md, *The release decision*) for the API and the
desk pages. It reads and decides; it writes nothing itself: every answer (and every refusal)
carries the ``AccessRecord`` the caller appends to the member's access log, in a transaction of
its own, before answering."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Card, CardStatus, Member, Province, Union
from app.services.access_events.log import AccessRecord
from app.services.clinic_flow.card_check import CardCheck, CardOutcome, card_by_serial
from app.services.clinic_flow.grants import Grant, PullGrants
from app.services.clinic_flow.presence import PresenceTokens
from app.services.clinics.devices import active_device
from app.services.errors import (
    CardNotUsable,
    CardUnreadable,
    ConsentNoLongerCovers,
    DeviceNotRegistered,
    DomainError,
    GrantInvalid,
    HealthSummaryMissing,
    PinLocked,
    PresenceInvalid,
    ValidationFailed,
    WrongPin,
)
from app.services.health.consent import (
    ReleaseDecision,
    SectionDecision,
    released_sections,
)
from app.services.health.store import HealthStore
from app.services.health.summary import SECTIONS, HealthSummary
from app.services.issuing.issuance import UC1_CONTEXT
from app.services.registry.members import mask_insurance_number

#: What emergency access releases: the emergency core, never ``sensitive`` entries.
EMERGENCY_SECTIONS = ("emergency-core",)
#: The purpose recorded for emergency access (not a consent purpose: no consent is asked).
EMERGENCY_PURPOSE = "emergency"
#: The reason codes of emergency access (with free text beside them).
EMERGENCY_REASONS = {
    "unconscious": "The member is unconscious or cannot communicate.",
    "life-threatening": "A life-threatening condition needs the emergency core now.",
    "severe-allergic-reaction": "A severe allergic reaction (anaphylaxis) is suspected.",
    "trauma": "Serious injury (a workplace accident, a road accident).",
    "poisoning": "Poisoning or a chemical exposure at work.",
}
_PIN = re.compile(r"[0-9]{6}")


class Clinic(Protocol):
    """The calling clinic as the edge identified it (the clinics directory's identity)."""

    @property
    def facility_code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def facility_type(self) -> str: ...
    @property
    def client_id(self) -> str: ...


@dataclass(frozen=True)
class Presence:
    """The member's presence proof: the PIN typed at the clinic, or the phone's token."""

    pin: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class Holder:
    """What a clinic may see of the card holder (never the personal ID)."""

    full_name: str
    birth_date: date
    member_number: str
    union_code: str
    union_name: str


@dataclass(frozen=True)
class Answer:
    """The outcome of one desk call: the record to append, then either the answer's fields
    or the refusal to raise once the record is written."""

    record: AccessRecord
    error: DomainError | None = None
    outcome: CardOutcome | None = None
    holder: Holder | None = None
    decision: ReleaseDecision | None = None
    presence: str | None = None
    grant: str | None = None
    granted: Grant | None = None
    document: dict[str, Any] | None = None
    summary: HealthSummary | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CardFacts:
    """What a desk clerk checks beside the verdict: the card's dates and issuer (the member's
    union and its province: the office to call), and a revoked card's newer card, if the
    member has one now (when it was issued)."""

    issued_at: datetime
    expires_at: datetime
    issuer: str
    union_name: str
    province_name: str
    newer_card_issued_at: datetime | None = None


def emergency_decision() -> ReleaseDecision:
    """The decision of emergency access: the emergency core only, never sensitive entries."""
    return ReleaseDecision(
        sections=tuple(SectionDecision(s, s in EMERGENCY_SECTIONS,
                                       "emergency" if s in EMERGENCY_SECTIONS
                                       else "not-emergency-core") for s in SECTIONS),
        sensitive=SectionDecision("sensitive", False, "never-in-emergency"))


class ClinicDesk:
    """Verify, pull and emergency access for one clinic request.

    ``check_pin(member_id, pin, clinic)`` checks a PIN with the member's lockout and the
    clinic client's cap (``member_accounts.verify_pin`` in a session of its own: a wrong PIN's
    count must outlast the refusal); ``bind_presence(token, card_serial, expires_at, clinic)``
    binds a checked presence token to the first clinic that presents it (``presence
    .bind_to_clinic``, in a session of its own), refusing it for any other.
    """

    def __init__(self, session: Session, cipher: DataCipher, *, grants: PullGrants,
                 presence_tokens: PresenceTokens, check_pin: Callable[[int, str, Clinic], None],
                 bind_presence: Callable[[str, str, datetime, Clinic], None],
                 clock: Callable[[], datetime] = utc_now,
                 cards: CardCheck | None = None) -> None:
        self.session = session
        self.cipher = cipher
        self.grants = grants
        self.presence_tokens = presence_tokens
        self.check_pin = check_pin
        self.bind_presence = bind_presence
        self.clock = clock
        self.cards = cards or CardCheck(session, clock=clock)

    # -- records ---------------------------------------------------------------------------
    @staticmethod
    def _record(kind: str, clinic: Clinic, outcome: CardOutcome | None, *, purpose: str | None,
                result: str, reason: str | None = None, device_id: str | None = None,
                practitioner: str | None = None, released: tuple[str, ...] = (),
                denied: dict[str, str] | None = None, **extra: Any) -> AccessRecord:
        member = outcome.member if outcome is not None else None
        return AccessRecord(
            kind=kind, member_id=member.id if member is not None else None,
            province_code=member.province_code if member is not None else None,
            card_serial=outcome.serial if outcome is not None else None,
            clinic_code=clinic.facility_code, clinic_name=clinic.name,
            client_id=clinic.client_id, device_id=device_id, practitioner=practitioner,
            purpose=purpose, released=released, denied=denied or {}, outcome=result,
            reason=reason, **extra)

    def refusal(self, clinic: Clinic, error: DomainError, *, purpose: str | None = None,
                card_text: str | None = None, card_serial: str | None = None,
                device_id: str | None = None) -> AccessRecord:
        """The denial record of a refusal before the desk got to a card (unreadable scan, bad
        grant): tied to the card's member when a stored card is known."""
        outcome = None
        if card_serial is not None:
            card = card_by_serial(self.session, card_serial)
            if card is not None:
                outcome = CardOutcome("invalid", "", None, card,
                                      self.session.get(Member, card.member_id))
        reason = str(error.extra.get("reason") or type(error).__name__)
        return self._record("denial", clinic, outcome, purpose=purpose, result="refused",
                            reason=reason, device_id=device_id)

    def card_serial_of(self, *, text: str | None = None,
                       grant: str | None = None, client_id: str = "") -> str | None:
        """The serial of the card a refused request concerned, to tie its denial to the
        member: the scanned text's, when it is a genuine card (signature verified), or the
        pull grant's, when the grant is genuine and ``client_id``'s; None otherwise."""
        if text is not None:
            try:
                outcome = self.cards.check(text)
            except CardUnreadable:
                return None
            return outcome.card.serial if outcome.card is not None else None
        if grant is not None:
            try:
                return self.grants.check(grant, client_id).card_serial
            except GrantInvalid as error:
                serial = error.extra.get("card_serial")
                return str(serial) if serial else None
        return None

    def check_device(self, clinic_id: int, device_id: str | None) -> None:
        """A scan may name the scanner device it came from; when it does, the device must be
        one of the clinic's registered, active devices.

        Raises:
            DeviceNotRegistered: unknown, disabled or another clinic's device.
        """
        if device_id is not None and active_device(self.session, clinic_id, device_id) is None:
            raise DeviceNotRegistered(
                "This scanner device is not registered (or is disabled) for this clinic.",
                reason="device-not-registered")

    # -- verify ----------------------------------------------------------------------------
    def verify(self, text: str, clinic: Clinic, purpose: str, presence: Presence | None = None,
               *, device_id: str | None = None, practitioner: str | None = None) -> Answer:
        """Check the card now, name what this clinic may pull for ``purpose`` and, with the
        member's presence and at least one consented section, sign a pull grant.

        Raises:
            CardUnreadable: the text is not a card (the caller records the denial).
        """
        outcome = self.cards.check(text)
        where: dict[str, Any] = {"device_id": device_id, "practitioner": practitioner}
        if not outcome.valid or outcome.member is None or outcome.card is None:
            return Answer(self._record("denial", clinic, outcome, purpose=purpose,
                                       result=outcome.status, reason=outcome.reason, **where),
                          outcome=outcome, holder=self._holder(outcome))
        decision = released_sections(self.session, outcome.member.id, clinic.facility_code,
                                     clinic.facility_type, purpose, self.clock())
        denied = decision.reasons()
        try:
            proof = self._presence(presence, outcome, clinic)
        except (PresenceInvalid, PinLocked) as error:
            reason = str(error.extra.get("reason") or "pin-locked")
            # the card stays checked: a desk asks the PIN again without a new scan
            return Answer(self._record("denial", clinic, outcome, purpose=purpose,
                                       result="presence-refused", reason=reason, **where),
                          error=error, outcome=outcome, holder=self._holder(outcome),
                          decision=decision)
        grant = granted = None
        if proof is not None and decision.released:
            grant, granted = self.grants.issue(
                clinic.client_id, outcome.card.serial, decision.released, purpose,
                sensitive=decision.sensitive.released)
        record = self._record("verify", clinic, outcome, purpose=purpose, result="valid",
                              reason=outcome.reason, released=decision.released,
                              denied={k: v for k, v in denied.items()
                                      if k not in decision.released}, **where)
        return Answer(record, outcome=outcome, holder=self._holder(outcome), decision=decision,
                      presence=proof, grant=grant, granted=granted)

    def _presence(self, presence: Presence | None, outcome: CardOutcome,
                  clinic: Clinic) -> str | None:
        """Which presence proof holds (``pin`` or ``presence-token``), None when none given.

        Raises:
            PresenceInvalid (a wrong PIN too: ``wrong-pin``; a token another clinic presented
            first: ``presence-other-clinic``), PinLocked (PinAttemptsCapped too).
        """
        assert outcome.card is not None and outcome.member is not None
        if presence is None or (presence.pin is None and presence.token is None):
            return None
        if presence.pin is not None and presence.token is not None:
            raise PresenceInvalid("Give the PIN or the presence token, not both.",
                                  reason="presence-ambiguous")
        if presence.token is not None:
            expires_at = self.presence_tokens.check(presence.token, outcome.card.serial)
            self.bind_presence(presence.token, outcome.card.serial, expires_at, clinic)
            return "presence-token"
        assert presence.pin is not None
        if not _PIN.fullmatch(presence.pin):
            raise PresenceInvalid("A PIN is exactly 6 digits.", reason="pin-malformed")
        try:
            self.check_pin(outcome.member.id, presence.pin, clinic)
        except WrongPin as wrong:
            # how many tries are left, and the lock the last one started (when known)
            left = {k: v for k, v in wrong.extra.items() if k in ("attempts_left",
                                                                    "locked_until")}
            raise PresenceInvalid("The member's PIN is wrong.", reason="wrong-pin",
                                  **left) from None
        return "pin"

    # -- what a desk clerk checks ----------------------------------------------------------
    def card_facts(self, outcome: CardOutcome | None) -> CardFacts | None:
        """What the desk shows beside a verdict for the clerk to check: the card's dates, its
        issuer (the union and province), and for a revoked card the member's newer card or
        the issuing union to ask; None when the card is not genuine."""
        claims = outcome.claims if outcome is not None else None
        if outcome is None or claims is None:
            return None
        province = self.session.get(Province, claims.province_code)
        union_name = outcome.union_name or self.session.scalar(
            select(Union.name).where(Union.code == claims.union_code)) or claims.union_code
        newer = None
        if outcome.status == "revoked" and outcome.member is not None:
            newer = self.session.scalar(
                select(Card.issued_at).where(
                    Card.member_id == outcome.member.id, Card.status == CardStatus.ACTIVE,
                    Card.serial != claims.serial,
                    Card.issued_at >= datetime.fromtimestamp(claims.issued_at, tz=timezone.utc))
                .order_by(Card.issued_at.desc()).limit(1))
        return CardFacts(
            issued_at=datetime.fromtimestamp(claims.issued_at, tz=timezone.utc),
            expires_at=datetime.fromtimestamp(claims.expires_at, tz=timezone.utc),
            issuer=claims.issuer, union_name=union_name,
            province_name=province.name if province is not None else claims.province_code,
            newer_card_issued_at=newer)

    def _holder(self, outcome: CardOutcome) -> Holder | None:
        member = outcome.member
        if member is None:
            return None
        union_name = outcome.union_name
        if union_name is None:
            union = self.session.scalar(select(Union).where(Union.code == member.union_code))
            union_name = union.name if union is not None else member.union_code
        return Holder(member.full_name, member.birth_date, member.member_number,
                      member.union_code, union_name)

    # -- pull ------------------------------------------------------------------------------
    def pull(self, token: str, clinic: Clinic, *, device_id: str | None = None) -> Answer:
        """Exactly what the grant allows now: the card, the clinic and (for a normal grant)
        the consent are checked again, so a withdrawal made after the verify applies.

        Raises nothing: a refusal is the answer's ``error`` (after its record).
        """
        try:
            grant = self.grants.check(token, clinic.client_id)
        except GrantInvalid as error:
            return Answer(self.refusal(clinic, error, card_serial=error.extra.get("card_serial"),
                                       device_id=device_id), error=error)
        outcome = self._stored_card(grant.card_serial)
        kind = "emergency" if grant.emergency else "pull"
        where: dict[str, Any] = {"device_id": device_id}
        if outcome is None or not outcome.valid or outcome.member is None:
            status = outcome.status if outcome is not None else "invalid"
            reason = outcome.reason if outcome is not None else "unknown-card"
            told = outcome.clinic_reason if outcome is not None else reason
            unusable = CardNotUsable(f"The card is not usable now ({status}: {told}).",
                                     card_status=status, reason=told)
            return Answer(self._record("denial", clinic, outcome, purpose=grant.purpose,
                                       result=status, reason=reason, **where),
                          error=unusable, outcome=outcome)
        if grant.emergency:
            decision = emergency_decision()
        else:
            decision = released_sections(self.session, outcome.member.id, clinic.facility_code,
                                         clinic.facility_type, grant.purpose, self.clock())
            lost = {d.section: d.reason for d in decision.sections
                    if d.section in grant.sections and not d.released}
            if grant.sensitive and not decision.sensitive.released:
                lost["sensitive"] = decision.sensitive.reason
            if lost:
                changed = ConsentNoLongerCovers(
                    "The member's consent no longer covers "
                    f"{', '.join(sorted(lost))} for this clinic, purpose and time; verify the "
                    "card again.", sections=sorted(lost), reason="consent-changed")
                return Answer(self._record("denial", clinic, outcome, purpose=grant.purpose,
                                           result="refused", reason="consent-changed",
                                           denied=lost, **where),
                              error=changed, outcome=outcome)
        allowed = tuple(s for s in decision.released if s in grant.sections)
        sensitive = grant.sensitive and decision.sensitive.released
        store = HealthStore(self.session, self.cipher, actor=f"clinic:{clinic.client_id}")
        stored = store.load(outcome.member.id)
        if stored is None:
            missing = HealthSummaryMissing("No health summary is stored for this member yet.")
            return Answer(self._record("denial", clinic, outcome, purpose=grant.purpose,
                                       result="refused", reason="no-summary", **where),
                          error=missing, outcome=outcome)
        summary = for_purpose(HealthSummary.from_document(stored), grant.purpose)
        document = summary.to_document(allowed, sensitive=sensitive)
        record = self._record(kind, clinic, outcome, purpose=grant.purpose, result="released",
                              released=allowed + (("sensitive",) if sensitive else ()),
                              **where)
        return Answer(record, outcome=outcome, document=document, summary=summary,
                      granted=grant, decision=decision,
                      extra={"sections": allowed, "sensitive": sensitive})

    def _stored_card(self, serial: str) -> CardOutcome | None:
        """The stored card checked again in full (signature, keys, lists, database)."""
        return self.cards.check_stored(
            serial, lambda card: self.cipher.decrypt(card.uc1_encrypted, UC1_CONTEXT,
                                                     card.serial))

    # -- emergency -------------------------------------------------------------------------
    def emergency(self, text: str, clinic: Clinic, reason_code: str, reason_text: str, *,
                  device_id: str | None = None, practitioner: str | None = None) -> Answer:
        """Emergency access: the emergency core only (never sensitive entries) with a grant
        for 24 hours, flagged, for a reason code and text instead of presence.

        Raises:
            ValidationFailed: an unknown reason code or empty text (nothing is recorded).
            CardUnreadable: the text is not a card (the caller records the denial).
        """
        if reason_code not in EMERGENCY_REASONS:
            raise ValidationFailed.field("reason", "One of: " + ", ".join(EMERGENCY_REASONS))
        if not reason_text.strip():
            raise ValidationFailed.field("text", "Say what happened.")
        outcome = self.cards.check(text)
        where: dict[str, Any] = {"device_id": device_id, "practitioner": practitioner}
        if not outcome.valid or outcome.member is None or outcome.card is None:
            unusable = CardNotUsable(
                f"The card is not usable now ({outcome.status}: {outcome.clinic_reason}).",
                card_status=outcome.status, reason=outcome.clinic_reason)
            return Answer(self._record("denial", clinic, outcome, purpose=EMERGENCY_PURPOSE,
                                       result=outcome.status, reason=outcome.reason, **where),
                          error=unusable, outcome=outcome)
        decision = emergency_decision()
        grant, granted = self.grants.issue(clinic.client_id, outcome.card.serial,
                                           EMERGENCY_SECTIONS, EMERGENCY_PURPOSE,
                                           emergency=True)
        stored = HealthStore(self.session, self.cipher,
                             actor=f"clinic:{clinic.client_id}").load(outcome.member.id)
        document = (for_purpose(HealthSummary.from_document(stored), EMERGENCY_PURPOSE)
                    .to_document(EMERGENCY_SECTIONS, sensitive=False)
                    if stored is not None else None)
        record = self._record("emergency", clinic, outcome, purpose=EMERGENCY_PURPOSE,
                              result="released", released=EMERGENCY_SECTIONS, **where,
                              emergency_reason=reason_code, emergency_text=reason_text.strip())
        return Answer(record, outcome=outcome, holder=self._holder(outcome), decision=decision,
                      grant=grant, granted=granted, document=document)


#: The pull purposes whose clinic needs the member's full health ID (mã số BHXH, the social
#: health-insurance number): treatment, which the clinic bills to social health insurance under
#: that number. Every other pull (occupational health, paid by the employer; emergency access,
#: which asks no consent) shows it masked as officers see it.
FULL_HEALTH_ID_PURPOSES = frozenset({"treatment"})


def for_purpose(summary: HealthSummary, purpose: str) -> HealthSummary:
    """``summary`` as a pull for ``purpose`` releases it: the health ID in full only for
    ``FULL_HEALTH_ID_PURPOSES``, otherwise masked but for its last 4 digits (the JSON
    document and the FHIR Patient.identifier are both made from what this returns)."""
    if purpose in FULL_HEALTH_ID_PURPOSES:
        return summary
    masked = mask_insurance_number(summary.health_id[-4:]) or ""
    return replace(summary, patient=replace(summary.patient, health_id=masked))
