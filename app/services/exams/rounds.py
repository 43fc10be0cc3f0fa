"""Planning exam rounds, the members' answers and the round's report (counts and names per
union, never a result).

An officer plans a round within their scope (province, or their one union): the clinic (an
accredited industrial-park clinic or occupational-health centre of the round's province), its
days and kind, and whom it invites — the active members of whole unions, or only those due an
exam (the office's "exam-due" list, ``app.services.registry.worklists``). Each member invited
is a participant; the portal lists the member's rounds (the notice) and the member confirms or
asks for another day. A participant not checked in by the round's last day counts as a
no-show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.models import Clinic, Member, MemberStatus, NotificationAddress, OutboxMessage, Union
from app.models.exam_round import (
    ROUND_FACILITY_TYPES,
    ROUND_KINDS,
    ExamDelivery,
    ExamParticipant,
    ExamRound,
)
from app.services import audit
from app.services.access.scope import Scope
from app.services.access_events.delivery import EXAM_INVITATION
from app.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.services.registry.worklists import condition as worklist_condition

#: The longest a round may last (its first to its last day).
MAX_ROUND_DAYS = 31
#: How far ahead a round may be planned.
MAX_DAYS_AHEAD = 366
#: The most members one round may invite.
MAX_PARTICIPANTS = 5000
#: The answers a member may give while the round has not checked her in.
ANSWERABLE = ("invited", "confirmed", "asked-another-day")
#: The states a report counts (``no-show`` derived after the last day).
REPORT_STATES = ("invited", "confirmed", "asked-another-day", "checked-in", "examined",
                 "delivered", "no-show")


class NotInRound(Conflict):
    """The card's member is not a participant of this round (``reason``: ``not-in-round``)."""


class RoundClosed(Conflict):
    """The round does not accept this now (its days are over or not begun, it was
    cancelled, or the participant's state does not allow it); ``reason`` says which."""


@dataclass(frozen=True)
class Plan:
    """What an officer asks for."""

    clinic_code: str
    kind: str
    title: str
    first_day: date
    last_day: date
    union_codes: tuple[str, ...] = ()
    #: Only the members due an occupational exam (no routine exam on record in 12 months).
    members_due: bool = False


@dataclass
class UnionReport:
    """One union's part of a round: counts per state and the people (names, never results)."""

    union_code: str
    union_name: str
    counts: dict[str, int] = field(default_factory=dict)
    people: list[dict[str, Any]] = field(default_factory=list)


def effective_state(participant: ExamParticipant, round_: ExamRound, today: date) -> str:
    """The participant's state as the report shows it: one who answered (or did not) but was
    never checked in by the round's last day is a no-show."""
    if participant.state in ANSWERABLE and today > round_.last_day:
        return "no-show"
    return participant.state


class ExamRounds:
    """Rounds for one actor, with a session and a clock."""

    def __init__(self, session: Session, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock

    def today(self) -> date:
        """The date in Vietnam now."""
        return today_in_vietnam(self.clock())

    # -- office ----------------------------------------------------------------------------
    def plan(self, scope: Scope, plan: Plan) -> tuple[ExamRound, int]:
        """Plan a round and invite its members; the round and how many were invited.

        Raises:
            Forbidden: an administrator (rounds are planned by an office).
            ValidationFailed: a field is wrong (the clinic, the days, the kind, the unions),
                or nobody would be invited.
        """
        if scope.is_national:
            raise Forbidden("A round is planned by a province's or a union's office.")
        principal = scope.principal
        errors: list[dict[str, str]] = []

        def bad(name: str, detail: str) -> None:
            errors.append({"location": "json", "field": name, "pointer": f"#/{name}",
                           "detail": detail})

        if plan.kind not in ROUND_KINDS:
            bad("kind", f"The kind is one of {', '.join(ROUND_KINDS)}.")
        today = self.today()
        if plan.first_day < today:
            bad("first_day", "The first day is today or later.")
        elif plan.first_day > today + timedelta(days=MAX_DAYS_AHEAD):
            bad("first_day", f"A round is planned at most {MAX_DAYS_AHEAD} days ahead.")
        if plan.last_day < plan.first_day:
            bad("last_day", "The last day is the first day or later.")
        elif (plan.last_day - plan.first_day).days >= MAX_ROUND_DAYS:
            bad("last_day", f"A round lasts at most {MAX_ROUND_DAYS} days.")
        if not plan.title.strip() or len(plan.title) > 200:
            bad("title", "Give the round a title (at most 200 characters).")
        clinic = self.session.scalar(select(Clinic).where(
            Clinic.facility_code == plan.clinic_code))
        if clinic is None or clinic.province_code != principal.province_code:
            bad("clinic_code", "No clinic with this facility code in your province.")
        elif not clinic.accredited:
            bad("clinic_code", "The clinic is not accredited now.")
        elif clinic.facility_type not in ROUND_FACILITY_TYPES:
            bad("clinic_code", "A round is held at an industrial-park clinic or an "
                               "occupational-health centre.")
        unions = self._unions(scope, plan.union_codes, bad)
        if errors:
            raise ValidationFailed("The round cannot be planned as asked.", errors=errors)
        assert clinic is not None and principal.province_code is not None
        members = self._members(unions, plan.members_due, today)
        if not members:
            raise ValidationFailed.field(
                "union_codes", "Nobody to invite: the unions have no active members"
                + (" due an exam." if plan.members_due else "."))
        if len(members) > MAX_PARTICIPANTS:
            raise ValidationFailed.field(
                "union_codes", f"{len(members)} members: a round invites at most "
                               f"{MAX_PARTICIPANTS}; plan several rounds.")
        round_ = ExamRound(province_code=principal.province_code,
                           union_code=principal.union_code, clinic_id=clinic.id,
                           kind=plan.kind, title=plan.title.strip(), first_day=plan.first_day,
                           last_day=plan.last_day, status="planned", created_at=self.clock(),
                           created_by=self.actor)
        self.session.add(round_)
        self.session.flush()
        now = self.clock()
        participants = [ExamParticipant(
            round_id=round_.id, member_id=member_id, province_code=province, union_code=union,
            state="invited", invited_at=now, reply_note="") for member_id, province, union
            in members]
        self.session.add_all(participants)
        self.session.flush()
        self._queue_invitations(participants, now)
        audit.record(self.session, actor=self.actor, action="exam-round.plan",
                     object_type="exam_round", object_id=round_.id,
                     province_code=round_.province_code,
                     details={"invited": len(members), "kind": plan.kind,
                             "clinic": clinic.facility_code, "members_due": plan.members_due})
        return round_, len(members)

    def _queue_invitations(self, participants: Sequence[ExamParticipant], now: datetime) -> int:
        """Queue the invitation e-mail (the notification outbox, ``exam-invitation``) of each
        participant who gave an address for notices; the portal lists every invitation."""
        with_address = set(self.session.scalars(select(NotificationAddress.member_id).where(
            NotificationAddress.member_id.in_([p.member_id for p in participants]))))
        self.session.add_all(OutboxMessage(
            kind=EXAM_INVITATION, member_id=p.member_id, province_code=p.province_code,
            participant_id=p.id, event_id=None, status="pending", attempts=0, created_at=now,
            next_attempt_at=now, last_error="") for p in participants
            if p.member_id in with_address)
        self.session.flush()
        return len(with_address)

    def _unions(self, scope: Scope, codes: Sequence[str],
                bad: Callable[[str, str], None]) -> list[str]:
        principal = scope.principal
        wanted = sorted({c.strip().upper() for c in codes if c.strip()})
        if principal.union_code is not None:
            wanted = wanted or [principal.union_code]
        if not wanted:
            bad("union_codes", "Name the unions the round is for.")
            return []
        found = {code: province for code, province in self.session.execute(
            select(Union.code, Union.province_code).where(Union.code.in_(wanted)))}
        for code in wanted:
            if code not in found or not scope.allows(found[code], code):
                bad("union_codes", f"No union {code} in your scope.")
        return wanted

    def _members(self, unions: Iterable[str], due_only: bool,
                 today: date) -> list[tuple[int, str, str]]:
        stmt = (select(Member.id, Member.province_code, Member.union_code)
                .where(Member.union_code.in_(list(unions)),
                       Member.status == MemberStatus.ACTIVE)
                .order_by(Member.id))
        if due_only:
            stmt = stmt.where(worklist_condition("exam-due", today))
        return [(int(i), str(p), str(u)) for i, p, u in self.session.execute(
            stmt.limit(MAX_PARTICIPANTS + 1))]

    def visible(self, scope: Scope) -> Any:
        """The SQL condition of the rounds a scope sees: its province's (a national
        administrator: all); a union's office, the rounds that invited its members."""
        if scope.is_national:
            return ExamRound.id.is_not(None)
        principal = scope.principal
        if principal.union_code is None:
            return ExamRound.province_code == principal.province_code
        return select(ExamParticipant.id).where(
            ExamParticipant.round_id == ExamRound.id,
            ExamParticipant.union_code == principal.union_code).exists()

    def get(self, scope: Scope, round_id: int) -> ExamRound:
        """A round in scope.

        Raises:
            NotFound: none such in scope.
        """
        round_ = self.session.scalar(select(ExamRound).where(ExamRound.id == round_id,
                                                             self.visible(scope)))
        if round_ is None:
            raise NotFound("No such exam round.")
        return round_

    def in_scope(self, scope: Scope) -> list[tuple[ExamRound, Clinic, int]]:
        """The rounds in scope, latest first, with their clinic and number of participants
        (in the scope)."""
        counted = (select(func.count(ExamParticipant.id)).where(
            ExamParticipant.round_id == ExamRound.id,
            scope.condition(ExamParticipant.province_code, ExamParticipant.union_code))
            .scalar_subquery())
        rows = self.session.execute(
            select(ExamRound, Clinic, counted).join(Clinic, Clinic.id == ExamRound.clinic_id)
            .where(self.visible(scope)).order_by(ExamRound.first_day.desc(),
                                                 ExamRound.id.desc()).limit(500))
        return [(r, c, int(n or 0)) for r, c, n in rows]

    def report(self, scope: Scope, round_id: int) -> tuple[ExamRound, Clinic, list[UnionReport]]:
        """The round's report per union in scope: counts per state (``REPORT_STATES``) and
        each participant (member id, number, name, state, the day they asked for, delivery
        state of the result) — never a result.

        Raises:
            NotFound: no such round in scope.
        """
        round_ = self.get(scope, round_id)
        clinic = self.session.get(Clinic, round_.clinic_id)
        assert clinic is not None
        today = self.today()
        rows = self.session.execute(
            select(ExamParticipant, Member.member_number, Member.full_name, Union.name,
                   ExamDelivery.status)
            .join(Member, Member.id == ExamParticipant.member_id)
            .join(Union, Union.code == ExamParticipant.union_code)
            .outerjoin(ExamDelivery, ExamDelivery.participant_id == ExamParticipant.id)
            .where(ExamParticipant.round_id == round_.id,
                   scope.condition(ExamParticipant.province_code, ExamParticipant.union_code))
            .order_by(ExamParticipant.union_code, Member.name_ascii, Member.id))
        unions: dict[str, UnionReport] = {}
        for participant, number, name, union_name, delivery in rows:
            report = unions.get(participant.union_code)
            if report is None:
                report = unions[participant.union_code] = UnionReport(
                    participant.union_code, union_name, dict.fromkeys(REPORT_STATES, 0))
            state = effective_state(participant, round_, today)
            report.counts[state] += 1
            report.people.append({
                "participant_id": participant.id, "member_id": participant.member_id,
                "member_number": number, "full_name": name, "state": state,
                "preferred_day": participant.preferred_day,
                "checked_in_at": participant.checked_in_at,
                "examined_at": participant.examined_at,
                "delivery": delivery, "delivered_at": participant.delivered_at})
        for report in unions.values():
            # the steps passed, cumulatively: a delivered result was also examined, checked in
            c = report.counts
            c["examined_total"] = c["examined"] + c["delivered"]
            c["checked_in_total"] = c["checked-in"] + c["examined_total"]
            c["confirmed_total"] = c["confirmed"]
            c["total"] = sum(c[s] for s in REPORT_STATES)
        return round_, clinic, list(unions.values())

    # -- member ----------------------------------------------------------------------------
    def of_member(self, member_id: int) -> list[tuple[ExamParticipant, ExamRound, Clinic]]:
        """The member's rounds (her notices), the coming ones first."""
        rows = self.session.execute(
            select(ExamParticipant, ExamRound, Clinic)
            .join(ExamRound, ExamRound.id == ExamParticipant.round_id)
            .join(Clinic, Clinic.id == ExamRound.clinic_id)
            .where(ExamParticipant.member_id == member_id, ExamRound.status == "planned")
            .order_by(ExamRound.first_day.desc(), ExamRound.id.desc()))
        return [(p, r, c) for p, r, c in rows]

    def reply(self, member_id: int, round_id: int, answer: str, *,
              preferred_day: date | None = None, note: str = "") -> ExamParticipant:
        """The member confirms (``confirm``) or asks for another day (``another-day``, with
        the day she prefers and a short note); she may change her answer until she is checked
        in or the round is over.

        Raises:
            NotFound: she is not in this round. ValidationFailed: a wrong answer or day.
            RoundClosed: checked in already, or the round is over or cancelled.
        """
        row = self.session.execute(
            select(ExamParticipant, ExamRound)
            .join(ExamRound, ExamRound.id == ExamParticipant.round_id)
            .where(ExamParticipant.round_id == round_id,
                   ExamParticipant.member_id == member_id)
            .with_for_update(of=ExamParticipant)).first()
        if row is None:
            raise NotFound("You are not invited to this exam round.")
        participant, round_ = row
        today = self.today()
        if round_.status != "planned" or today > round_.last_day:
            raise RoundClosed("This exam round is over.", reason="round-over")
        if participant.state not in ANSWERABLE:
            raise RoundClosed("You were checked in already.", reason="checked-in")
        if answer == "confirm":
            participant.state, participant.preferred_day = "confirmed", None
        elif answer == "another-day":
            if preferred_day is None or not today <= preferred_day <= round_.last_day + \
                    timedelta(days=MAX_ROUND_DAYS):
                raise ValidationFailed.field(
                    "preferred_day", "Give the day you prefer: from today to a month after "
                                     "the round's last day.")
            participant.state, participant.preferred_day = "asked-another-day", preferred_day
        else:
            raise ValidationFailed.field("answer", "The answer is confirm or another-day.")
        participant.reply_note = note.strip()[:300]
        participant.replied_at = self.clock()
        self.session.flush()
        return participant
