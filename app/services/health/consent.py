"""Consent: grant, renew, withdraw, list and history of a member's consents, and THE release
decision a clinic pull uses (docs/reference/api-clinics.md, *The release decision*, step 3):
nothing is released without a matching consent.

A consent is a chain of append-only versions (``ConsentVersion``): the grant is version 1, each
renewal and the withdrawal append the next. Only a chain's newest version counts. The caller
decides who may act for the member (the member themself, or an officer in scope for a
``paper-at-office`` consent); ``Evidence.actor`` records who did.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.facility_types import FACILITY_TYPES, is_facility_code
from app.models import ConsentVersion, Member
from app.models.consent import CONSENT_SCOPES, GRANTEE_KINDS, METHODS, PURPOSES
from app.services import audit
from app.services.clinics.directory import ClinicDirectory
from app.services.errors import (
    ConsentNotFound,
    ConsentNoticeUnknown,
    ConsentPeriodInPast,
    ConsentPeriodInvalid,
    ConsentPeriodTooLong,
    ConsentTermsInvalid,
    ConsentWithdrawn,
    GranteeInvalid,
    GranteeUnknown,
    NotFound,
)
from app.services.health.consent_notices import CURRENT_NOTICE, notice
from app.services.health.summary import SECTIONS, HealthSummary

#: The longest period a consent (or a renewal, from its start) may have.
MAX_MONTHS = 12
#: How far before now a client's "start now" may lie (clock skew), not "in the past".
START_SKEW = timedelta(minutes=5)
#: ``on-card`` puts the emergency core on the card, which anyone holding it can read: only
#: "all accredited clinics, for treatment" describes that truthfully.
ON_CARD_TERMS = ("all-accredited", "treatment")

# Reasons in a decision.
RELEASED = "consent"
NO_CONSENT = "no-consent"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"
NOT_YET_VALID = "not-yet-valid"
GRANTEE_NOT_COVERED = "grantee-not-covered"
PURPOSE_NOT_COVERED = "purpose-not-covered"


class GranteeDirectory(Protocol):
    """THE check point for grantee facilities: whether a facility code names a clinic the
    service knows (by default ``app.services.clinics.directory.ClinicDirectory``). Its form is
    checked before the directory is asked."""

    def knows(self, facility_code: str) -> bool:
        """Whether the facility exists (accreditation is checked at pull time, not here)."""
        ...


@dataclass(frozen=True)
class Grantee:
    """Who a consent is for: all accredited clinics, one facility type, or one facility."""

    kind: str
    value: str = ""

    def covers(self, facility_code: str, facility_type: str) -> bool:
        """Whether a clinic of this code and type is covered."""
        if self.kind == "all-accredited":
            return True
        if self.kind == "facility-type":
            return self.value == facility_type
        return self.value == facility_code

    @classmethod
    def all_accredited(cls) -> Grantee:
        """Every accredited clinic."""
        return cls("all-accredited")

    @classmethod
    def facility_type(cls, code: str) -> Grantee:
        """Clinics of one facility type (a code of ``FACILITY_TYPES``)."""
        return cls("facility-type", code)

    @classmethod
    def facility(cls, code: str) -> Grantee:
        """One facility by its 5-digit code."""
        return cls("facility", code)


@dataclass(frozen=True)
class Evidence:
    """How a version was given: the notice shown (version, language and, when the client sends
    it, the SHA-256 of the text it showed, which must be the shipped text's), method and actor
    (``member:<id>`` or ``user:<id>``)."""

    method: str
    actor: str
    notice_version: str = CURRENT_NOTICE
    language: str = "vi"
    shown_sha256: str | None = None


@dataclass(frozen=True)
class ConsentState:
    """A consent as it stands: its newest version and the status computed at ``now``
    (``active``, ``withdrawn``, ``expired``, or ``pending`` before its start)."""

    current: ConsentVersion
    status: str


@dataclass(frozen=True)
class SectionDecision:
    """Whether one section (or ``sensitive`` entries) is released, why, and by which consent
    version."""

    section: str
    released: bool
    reason: str
    consent_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class ReleaseDecision:
    """The decision for one clinic, purpose and time: one ``SectionDecision`` per summary
    section, and one for the ``sensitive`` entries within released sections."""

    sections: tuple[SectionDecision, ...]
    sensitive: SectionDecision

    @property
    def released(self) -> tuple[str, ...]:
        """The sections released, in display order."""
        return tuple(d.section for d in self.sections if d.released)

    @property
    def denied(self) -> tuple[str, ...]:
        """The sections denied, in display order."""
        return tuple(d.section for d in self.sections if not d.released)

    def reasons(self) -> dict[str, str]:
        """Section (and ``sensitive``) -> its reason, for the access event."""
        return {d.section: d.reason for d in (*self.sections, self.sensitive)}


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months (the 29-31st clamp to the month's last day)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month)


def check_grantee(grantee: Grantee, directory: GranteeDirectory) -> Grantee:
    """The grantee, checked.

    Raises:
        GranteeInvalid: unknown kind or facility type, a malformed facility code.
        GranteeUnknown: a well-formed facility code the directory does not know.
    """
    if grantee.kind not in GRANTEE_KINDS:
        raise GranteeInvalid.field("grantee.kind", f"One of: {', '.join(GRANTEE_KINDS)}.")
    if grantee.kind == "all-accredited" and grantee.value:
        raise GranteeInvalid.field("grantee.value", "All accredited clinics take no value.")
    if grantee.kind == "facility-type" and grantee.value not in FACILITY_TYPES:
        raise GranteeInvalid.field("grantee.value",
                                   f"A facility type: one of {', '.join(FACILITY_TYPES)}.")
    if grantee.kind == "facility":
        if not is_facility_code(grantee.value):
            raise GranteeInvalid.field("grantee.value", "A facility code is 5 digits.")
        if not directory.knows(grantee.value):
            raise GranteeUnknown.field("grantee.value", "No clinic has this facility code.")
    return grantee


def _chains(session: Session, member_id: int,
            scopes: Iterable[str] | None = None) -> list[ConsentVersion]:
    """The newest version of each of the member's consent chains (oldest chain first)."""
    stmt = select(ConsentVersion).where(ConsentVersion.member_id == member_id)
    if scopes is not None:
        stmt = stmt.where(ConsentVersion.scope.in_(tuple(scopes)))
    newest: dict[str, ConsentVersion] = {}
    for v in session.scalars(stmt.order_by(ConsentVersion.id)):
        if v.consent_id not in newest or v.version > newest[v.consent_id].version:
            newest[v.consent_id] = v
    return list(newest.values())


def status_at(version: ConsentVersion, now: datetime) -> str:
    """A version's status at ``now``: withdrawn, expired (its period ended), pending (not yet
    started) or active."""
    if version.status == "withdrawn":
        return WITHDRAWN
    if now >= version.ends_at:
        return EXPIRED
    if now < version.starts_at:
        return "pending"
    return "active"


class _Terms(NamedTuple):
    """What the release decision reads of a consent version (``_RELEASE_CHAINS``' columns)."""

    consent_id: str
    version: int
    scope: str
    status: str
    grantee_kind: str
    grantee_value: str
    purpose: str
    starts_at: datetime
    ends_at: datetime


def _failure(version: _Terms, facility_code: str, facility_type: str, purpose: str,
             now: datetime) -> tuple[int, str | None]:
    """How many of the four checks a chain's newest version passes, and the first that fails
    (None: it matches)."""
    grantee = Grantee(version.grantee_kind, version.grantee_value)
    checks = ((version.status == "active", WITHDRAWN),
              (grantee.covers(facility_code, facility_type), GRANTEE_NOT_COVERED),
              (version.purpose == purpose, PURPOSE_NOT_COVERED),
              (now >= version.starts_at, NOT_YET_VALID),
              (now < version.ends_at, EXPIRED))
    failed = [reason for ok, reason in checks if not ok]
    return len(checks) - len(failed), (failed[0] if failed else None)


def _decide(scope: str, chains: Sequence[_Terms], facility_code: str,
            facility_type: str, purpose: str, now: datetime) -> SectionDecision:
    best: tuple[int, str] | None = None
    for v in chains:
        if v.scope != scope:
            continue
        passed, failure = _failure(v, facility_code, facility_type, purpose, now)
        if failure is None:
            return SectionDecision(scope, True, RELEASED, v.consent_id, v.version)
        if best is None or passed > best[0]:
            best = (passed, failure)
    return SectionDecision(scope, False, NO_CONSENT if best is None else best[1])


#: The versions ``released_sections`` decides from (built once: it runs on every verify and
#: pull), the columns of ``_Terms`` only; the newest of each chain is picked as ``_chains``
#: does.
_RELEASE_CHAINS = (select(ConsentVersion.consent_id, ConsentVersion.version,
                          ConsentVersion.scope, ConsentVersion.status,
                          ConsentVersion.grantee_kind, ConsentVersion.grantee_value,
                          ConsentVersion.purpose, ConsentVersion.starts_at,
                          ConsentVersion.ends_at)
                   .where(ConsentVersion.member_id == bindparam("member_id"),
                          ConsentVersion.scope.in_((*SECTIONS, "sensitive")))
                   .order_by(ConsentVersion.id))


def released_sections(session: Session, member_id: int, clinic_facility_code: str,
                      clinic_type: str, purpose: str, now: datetime) -> ReleaseDecision:
    """THE consent part of the release decision (docs/reference/api-clinics.md, step 3): a
    section is released only if an active consent version matches it, a grantee covering this
    clinic, this purpose and a period covering ``now``; ``sensitive`` entries need their own
    such ``sensitive`` consent. Nothing by default. The caller has checked the card, clinic and presence."""
    newest: dict[str, _Terms] = {}
    session.flush()  # the connection does not autoflush: see what this session wrote
    # on the connection: plain columns need none of the ORM's result processing
    for row in session.connection().execute(_RELEASE_CHAINS, {"member_id": member_id}):
        v = _Terms(*row)
        if v.consent_id not in newest or v.version > newest[v.consent_id].version:
            newest[v.consent_id] = v
    chains = list(newest.values())
    return ReleaseDecision(
        sections=tuple(_decide(s, chains, clinic_facility_code, clinic_type, purpose, now)
                       for s in SECTIONS),
        sensitive=_decide("sensitive", chains, clinic_facility_code, clinic_type, purpose, now))


def release_document(summary: HealthSummary | Mapping[str, Any],
                     decision: ReleaseDecision) -> dict[str, Any]:
    """The member's summary document cut to a decision: the released sections only, and the
    ``sensitive`` entries only when they are released too.

    Raises:
        ValueError: ``summary`` is a document that ``HealthSummary.from_document`` rejects.
    """
    if not isinstance(summary, HealthSummary):
        summary = HealthSummary.from_document(summary)
    return summary.to_document(decision.released, sensitive=decision.sensitive.released)


def on_card_active(session: Session, member_id: int, now: datetime) -> bool:
    """Whether the member's card may carry the emergency core now (an active ``on-card``
    consent covers ``now``)."""
    return any(status_at(v, now) == "active"
               for v in _chains(session, member_id, ("on-card",)))


class ConsentService:
    """A member's consents: grant, renew, withdraw, list and history.

    ``on_card_changed(member_id)`` is called after an ``on-card`` consent is granted, renewed
    or withdrawn (the card desk reissues the card with or without the emergency core); it is
    required for ``on-card`` consents.
    """

    def __init__(self, session: Session, *, clock: Callable[[], datetime] = utc_now,
                 directory: GranteeDirectory | None = None,
                 on_card_changed: Callable[[int], object] | None = None) -> None:
        self.session = session
        self.clock = clock
        self.directory: GranteeDirectory = directory or ClinicDirectory(session)
        self.on_card_changed = on_card_changed

    # -- writing --------------------------------------------------------------------------
    def grant(self, member_id: int, scope: str, grantee: Grantee, purpose: str,
              evidence: Evidence, *, ends_at: datetime,
              starts_at: datetime | None = None) -> ConsentVersion:
        """Grant a new consent (version 1 of a new chain) from ``starts_at`` (default now).

        Raises:
            NotFound: no such member. ConsentTermsInvalid, GranteeInvalid,
            ConsentPeriodInPast, ConsentPeriodTooLong, ConsentPeriodInvalid,
            ConsentNoticeUnknown, ValidationFailed (method).
        """
        now = self.clock()
        member = self._member(member_id)
        self._check_terms(scope, grantee, purpose)
        starts = self._period(now, starts_at if starts_at is not None else now, ends_at)
        version = self._append(member, secrets.token_hex(16), 1, "grant", "active", scope,
                               grantee, purpose, starts, ends_at, evidence, now)
        return self._after(version)

    def renew(self, member_id: int, consent_id: str, evidence: Evidence, *,
              ends_at: datetime) -> ConsentVersion:
        """Renew a consent: a new version extending its period to ``ends_at`` (at most 12
        months from the new version's start: now, or the old start if that is still ahead).

        Raises:
            ConsentNotFound. ConsentWithdrawn: it was withdrawn. ConsentPeriodInvalid: it
            does not extend the period. ConsentPeriodTooLong, ConsentPeriodInPast,
            ConsentNoticeUnknown.
        """
        now = self.clock()
        member = self._member(member_id)
        current = self._current(member_id, consent_id)
        if current.status == "withdrawn":
            raise ConsentWithdrawn("The consent was withdrawn; grant a new one.",
                                   consent_id=consent_id)
        if ends_at <= current.ends_at:
            raise ConsentPeriodInvalid.field("ends_at", "A renewal must extend the period.")
        starts = self._period(now, max(now, current.starts_at), ends_at)
        version = self._append(member, consent_id, current.version + 1, "renew", "active",
                               current.scope, Grantee(current.grantee_kind,
                                                      current.grantee_value),
                               current.purpose, starts, ends_at, evidence, now)
        return self._after(version)

    def withdraw(self, member_id: int, consent_id: str, evidence: Evidence) -> ConsentVersion:
        """Withdraw a consent: it stops counting at once (the next decision denies).

        Raises:
            ConsentNotFound. ConsentWithdrawn: withdrawn already. ConsentNoticeUnknown.
        """
        now = self.clock()
        member = self._member(member_id)
        current = self._current(member_id, consent_id)
        if current.status == "withdrawn":
            raise ConsentWithdrawn("The consent was withdrawn already.", consent_id=consent_id)
        version = self._append(member, consent_id, current.version + 1, "withdraw", "withdrawn",
                               current.scope, Grantee(current.grantee_kind,
                                                      current.grantee_value),
                               current.purpose, current.starts_at, current.ends_at, evidence,
                               now)
        return self._after(version)

    # -- reading --------------------------------------------------------------------------
    def current(self, member_id: int, *, include_ended: bool = False) -> list[ConsentState]:
        """The member's consents as they stand now (newest version each, oldest chain first);
        withdrawn and expired ones only with ``include_ended``."""
        now = self.clock()
        states = [ConsentState(v, status_at(v, now)) for v in _chains(self.session, member_id)]
        return [s for s in states
                if include_ended or s.status not in (WITHDRAWN, EXPIRED)]

    def history(self, member_id: int, consent_id: str | None = None) -> list[ConsentVersion]:
        """Every version of the member's consents (or of one), with its evidence, in the
        order recorded.

        Raises:
            ConsentNotFound: ``consent_id`` is not one of the member's consents.
        """
        stmt = select(ConsentVersion).where(ConsentVersion.member_id == member_id)
        if consent_id is not None:
            stmt = stmt.where(ConsentVersion.consent_id == consent_id)
        versions = list(self.session.scalars(stmt.order_by(ConsentVersion.recorded_at,
                                                           ConsentVersion.id)))
        if consent_id is not None and not versions:
            raise ConsentNotFound("No such consent.")
        return versions

    def decide(self, member_id: int, clinic_facility_code: str, clinic_type: str,
               purpose: str) -> ReleaseDecision:
        """``released_sections`` at the service's clock."""
        return released_sections(self.session, member_id, clinic_facility_code, clinic_type,
                                 purpose, self.clock())

    # -- helpers --------------------------------------------------------------------------
    def _member(self, member_id: int) -> Member:
        # locked until commit: two changes to one member's consents run one after the other
        member = self.session.get(Member, member_id, with_for_update=True)
        if member is None:
            raise NotFound("No such member.")
        return member

    def _current(self, member_id: int, consent_id: str) -> ConsentVersion:
        versions = [v for v in _chains(self.session, member_id) if v.consent_id == consent_id]
        if not versions:
            raise ConsentNotFound("No such consent.")
        return versions[0]

    def _check_terms(self, scope: str, grantee: Grantee, purpose: str) -> None:
        if scope not in CONSENT_SCOPES:
            raise ConsentTermsInvalid.field("scope", f"One of: {', '.join(CONSENT_SCOPES)}.")
        if purpose not in PURPOSES:
            raise ConsentTermsInvalid.field("purpose", f"One of: {', '.join(PURPOSES)}.")
        check_grantee(grantee, self.directory)
        if scope == "on-card":
            if (grantee.kind, purpose) != ON_CARD_TERMS:
                raise ConsentTermsInvalid.field(
                    "scope", "What the card carries can be read by anyone holding it: an "
                             "on-card consent is for all accredited clinics and treatment.")

    @staticmethod
    def _period(now: datetime, starts: datetime, ends: datetime) -> datetime:
        if starts.tzinfo is None or ends.tzinfo is None:
            raise ConsentPeriodInvalid.field("ends_at", "Times must carry a UTC offset.")
        if starts < now - START_SKEW:
            raise ConsentPeriodInPast.field("starts_at", "The period cannot start in the past.")
        if ends <= now:
            raise ConsentPeriodInPast.field("ends_at", "The period cannot end in the past.")
        if ends <= starts:
            raise ConsentPeriodInvalid.field("ends_at", "The period must end after it starts.")
        if ends > add_months(starts, MAX_MONTHS):
            raise ConsentPeriodTooLong.field(
                "ends_at", f"A consent lasts at most {MAX_MONTHS} months from its start.")
        return starts

    def _append(self, member: Member, consent_id: str, number: int, action: str, status: str,
                scope: str, grantee: Grantee, purpose: str, starts: datetime, ends: datetime,
                evidence: Evidence, now: datetime) -> ConsentVersion:
        if evidence.method not in METHODS:
            raise ConsentTermsInvalid.field("method", f"One of: {', '.join(METHODS)}.")
        shown = notice(evidence.notice_version, evidence.language)
        if evidence.shown_sha256 is not None and evidence.shown_sha256.lower() != shown.sha256:
            raise ConsentNoticeUnknown.field(
                "notice_sha256", "This is not the hash of the notice's exact text.")
        version = ConsentVersion(
            consent_id=consent_id, version=number, action=action, member_id=member.id,
            province_code=member.province_code, scope=scope, grantee_kind=grantee.kind,
            grantee_value=grantee.value, purpose=purpose, starts_at=starts, ends_at=ends,
            status=status, recorded_at=now, notice_version=shown.version,
            notice_language=shown.language, notice_sha256=shown.sha256,
            method=evidence.method, actor=evidence.actor)
        self.session.add(version)
        self.session.flush()
        audit.record(self.session, actor=evidence.actor, action=f"consent.{action}",
                     object_type="consent", object_id=consent_id,
                     province_code=member.province_code,
                     details={"member_id": member.id, "version": number, "scope": scope,
                              "method": evidence.method})
        return version

    def _after(self, version: ConsentVersion) -> ConsentVersion:
        if version.scope == "on-card":
            if self.on_card_changed is None:
                raise RuntimeError("an on-card consent needs the card desk (on_card_changed)")
            self.on_card_changed(version.member_id)
        return version
