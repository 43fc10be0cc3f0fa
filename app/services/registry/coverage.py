"""Coverage figures for the office dashboard: how many members there are, how many hold an
active card, how many have a linked health record and how many are due an occupational exam —
per province or per union and month by month — always within the caller's scope, and never
anything of a record's content (exams due are counted from the one date kept in clear, see
``app.services.health.exam_dates``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import (
    Card,
    CardStatus,
    HealthLink,
    HealthRecord,
    Member,
    MemberStatus,
    Province,
    Union,
)
from app.services.access.scope import Scope
from app.services.health.exam_dates import EXAM_INTERVAL_DAYS


@dataclass(frozen=True)
class CoverageRow:
    """One province's or union's figures."""

    code: str
    name: str
    members: int  # active members
    carded: int  # active members holding an active card
    linked: int  # active members whose health record is linked
    exams_due: int = 0  # active members with no routine occupational exam on record in a year

    def share(self, count: int) -> float:
        """``count`` as a fraction of the active members (0 when there are none)."""
        return count / self.members if self.members else 0.0


@dataclass(frozen=True)
class MonthPoint:
    """Totals at the end of one month (cumulative)."""

    month: date  # the first day of the month
    members: int  # members registered by then
    cards: int  # cards issued by then (reissues included)
    linked: int  # health records linked by then (and still linked)


@dataclass(frozen=True)
class DuePoint:
    """How many active members' yearly routine exam falls due in one month (the first month
    also counts those already due: no routine exam on record, or the last one over a year
    old)."""

    month: date  # the first day of the month
    due: int


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _figures(session: Session, scope: Scope, group: Any, today: date
             ) -> dict[str, tuple[int, int, int, int]]:
    """Active members, carded, linked and exam-due ones, grouped by ``group`` (a Member
    column)."""
    has_card = (select(Card.id).where(Card.member_id == Member.id,
                                      Card.status == CardStatus.ACTIVE).exists())
    has_link = select(HealthLink.id).where(HealthLink.member_id == Member.id).exists()
    examined = (select(HealthRecord.id).where(
        HealthRecord.member_id == Member.id,
        HealthRecord.last_routine_exam_on > today - timedelta(days=EXAM_INTERVAL_DAYS)).exists())
    stmt = scope.filter(
        select(group, func.count(Member.id), _count_where(has_card), _count_where(has_link),
               _count_where(~examined))
        .where(Member.status == MemberStatus.ACTIVE).group_by(group),
        Member.province_code, Member.union_code)
    return {row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in session.execute(stmt)}


def by_province(session: Session, scope: Scope, *, today: date) -> list[CoverageRow]:
    """Figures per province in the scope that has members, largest first (``today``: the date
    in Vietnam, against which exams are due)."""
    figures = _figures(session, scope, Member.province_code, today)
    names = {code: name for code, name in session.execute(
        select(Province.code, Province.name).where(Province.code.in_(figures)))}
    return sorted((CoverageRow(code, names.get(code, code), *counts)
                   for code, counts in figures.items()), key=lambda r: (-r.members, r.code))


def by_union(session: Session, scope: Scope, *, today: date,
             limit: int = 20) -> list[CoverageRow]:
    """Figures of the ``limit`` largest unions in the scope."""
    figures = _figures(session, scope, Member.union_code, today)
    names = {code: name for code, name in session.execute(
        select(Union.code, Union.name).where(Union.code.in_(figures)))}
    rows = sorted((CoverageRow(code, names.get(code, code), *counts)
                   for code, counts in figures.items()), key=lambda r: (-r.members, r.code))
    return rows[:limit]


def month_starts(today: date, months: int) -> list[date]:
    """The first days of the last ``months`` months, oldest first, ending with this month."""
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _next_month(start: date) -> datetime:
    year, month = (start.year, start.month + 1) if start.month < 12 else (start.year + 1, 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def over_time(session: Session, scope: Scope, *, today: date,
              months: int = 12) -> list[MonthPoint]:
    """Cumulative totals at the end of each of the last ``months`` months (one query per
    table, whatever the number of months)."""
    starts = month_starts(today, months)
    ends = [_next_month(start) for start in starts]

    def totals(column: Any, province: Any, union: Any, *where: Any) -> list[int]:
        stmt = scope.filter(select(*(_count_where(column < end) for end in ends)).where(*where),
                            province, union)
        return [int(value) for value in session.execute(stmt).one()]

    members = totals(Member.created_at, Member.province_code, Member.union_code)
    cards = totals(Card.issued_at, Card.province_code, Card.union_code)
    linked = totals(HealthLink.linked_at, Member.province_code, Member.union_code,
                    HealthLink.member_id == Member.id)
    return [MonthPoint(start, m, c, h)
            for start, m, c, h in zip(starts, members, cards, linked, strict=True)]


def months_ahead(today: date, months: int) -> list[date]:
    """The first days of this month and the ``months - 1`` after it."""
    starts = [date(today.year, today.month, 1)]
    while len(starts) < months:
        starts.append(_next_month(starts[-1]).date())
    return starts


def exams_due_by_month(session: Session, scope: Scope, *, today: date,
                       months: int = 12) -> list[DuePoint]:
    """For this month and the ``months - 1`` after it, how many active members' yearly
    routine occupational exam falls due in it (a year after the last one on record); this
    month also counts every member already due. For planning the periodic exams; one query
    whatever the number of months, from the one date kept in clear."""
    interval = timedelta(days=EXAM_INTERVAL_DAYS)
    starts = months_ahead(today, months)
    # due in month i <=> the last exam falls in [start_i - interval, start_i+1 - interval)
    bounds = [start - interval for start in starts[1:]] + [_next_month(starts[-1]).date()
                                                           - interval]
    last = HealthRecord.last_routine_exam_on
    conditions = [(last.is_(None)) | (last < bounds[0])] + [
        (last >= low) & (last < high) for low, high in zip(bounds, bounds[1:], strict=False)]
    stmt = scope.filter(
        select(*(_count_where(c) for c in conditions))
        .select_from(Member).outerjoin(HealthRecord, HealthRecord.member_id == Member.id)
        .where(Member.status == MemberStatus.ACTIVE),
        Member.province_code, Member.union_code)
    counts = session.execute(stmt).one()
    return [DuePoint(start, int(n)) for start, n in zip(starts, counts, strict=True)]


# -- coverage against the provinces' targets (issue 26) ----------------------------------------
#: The Ministry of Health's targets: at least 80 % of people with a health record, over 90 %
#: under health management (here: a routine occupational exam on record in the last 12 months).
TARGET_LINKED = 0.80
TARGET_EXAMINED = 0.90


@dataclass(frozen=True)
class TargetRow:
    """One province's or union's shares against the targets."""

    code: str
    name: str
    members: int  # active members
    linked: int  # with a linked health record
    examined: int  # with a routine exam on record in the last 12 months

    @property
    def linked_share(self) -> float:
        return self.linked / self.members if self.members else 0.0

    @property
    def examined_share(self) -> float:
        return self.examined / self.members if self.members else 0.0

    @property
    def linked_met(self) -> bool:
        return self.members > 0 and self.linked_share >= TARGET_LINKED

    @property
    def examined_met(self) -> bool:
        return self.members > 0 and self.examined_share >= TARGET_EXAMINED


@dataclass(frozen=True)
class RoundMove:
    """How far one exam round moved a union's exam share: members it examined in the last 12
    months (routine kinds only count towards the target) over the union's active members."""

    round_id: int
    title: str
    kind: str
    first_day: date
    last_day: date
    union_code: str
    examined: int
    delivered: int
    union_members: int

    @property
    def points(self) -> float:
        """The share of the union's members it examined (0 for a non-routine round)."""
        from app.models.exam_round import ROUTINE_KINDS

        if self.kind not in ROUTINE_KINDS or not self.union_members:
            return 0.0
        return self.examined / self.union_members


def _targets(rows: list[CoverageRow]) -> list[TargetRow]:
    return [TargetRow(r.code, r.name, r.members, r.linked, r.members - r.exams_due)
            for r in rows]


def against_targets(session: Session, scope: Scope, *, today: date,
                    unions: int = 200) -> tuple[list[TargetRow], list[TargetRow], list[RoundMove]]:
    """Per province and per union in scope: the shares of active members with a linked health
    record and with a routine exam in the last 12 months (from the one date kept in clear),
    and the exam rounds of the last 12 months that examined members in scope, per union."""
    from app.models.exam_round import ExamParticipant, ExamRound

    provinces = _targets(by_province(session, scope, today=today))
    union_rows = _targets(by_union(session, scope, today=today, limit=unions))
    since = datetime(today.year, today.month, today.day, tzinfo=timezone.utc) - timedelta(
        days=EXAM_INTERVAL_DAYS)
    done = ExamParticipant.state.in_(("examined", "delivered"))
    stmt = scope.filter(
        select(ExamRound.id, ExamRound.title, ExamRound.kind, ExamRound.first_day,
               ExamRound.last_day, ExamParticipant.union_code, _count_where(done),
               _count_where(ExamParticipant.state == "delivered"))
        .join(ExamRound, ExamRound.id == ExamParticipant.round_id)
        .where(done, ExamParticipant.examined_at >= since)
        .group_by(ExamRound.id, ExamRound.title, ExamRound.kind, ExamRound.first_day,
                  ExamRound.last_day, ExamParticipant.union_code)
        .order_by(ExamRound.first_day.desc(), ExamRound.id.desc(), ExamParticipant.union_code),
        ExamParticipant.province_code, ExamParticipant.union_code)
    rows = session.execute(stmt).all()
    sizes = {code: members for code, members in session.execute(
        select(Member.union_code, func.count(Member.id))
        .where(Member.union_code.in_({r[5] for r in rows}),
               Member.status == MemberStatus.ACTIVE).group_by(Member.union_code))}
    moves = [RoundMove(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]),
                       int(sizes.get(r[5], 0))) for r in rows]
    return provinces, union_rows, moves
