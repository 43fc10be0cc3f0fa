"""The office's lists to work from: the active members in the caller's scope who still need
something done — no active card, a card but no activated account, an occupational exam due, no
linked health record — filtered by province and union, a page at a time or all of them (for the
CSV export). Each list is exactly the complement of one dashboard figure
(``app.services.registry.coverage``), and says nothing of a record's content (the exam list
names who is due, never the date of a last exam).

At national scale each list is one indexed query: the active members' ids read in name order
from a partial index, ``(province_code, name_ascii, id)`` or ``(union_code, name_ascii, id)``
where active (migration 0022; ``name_ascii`` for a national administrator without a filter),
index-only, each member's fact checked by a unique or leading index on ``member_id`` (cards
``(member_id, status)``, member_accounts, health_links and health_records ``member_id``), then
only the page's rows fetched; counting stops at ``COUNT_CAP`` as the search does, and the
export reads in keyset chunks (no OFFSET scan).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, literal, select, text, tuple_
from sqlalchemy.orm import Session

from app.models import (
    Card,
    CardStatus,
    HealthLink,
    HealthRecord,
    Member,
    MemberAccount,
    Province,
    Union,
)
from app.services.access.scope import Scope
from app.services.health.exam_dates import EXAM_INTERVAL_DAYS

#: The lists, in the order the console shows them.
KINDS = ("no-card", "not-activated", "exam-due", "not-linked")
#: Counting stops here (the page says "more than") so a national list stays fast.
COUNT_CAP = 10_000
PER_PAGE = 50


@dataclass(frozen=True)
class WorkFilters:
    """Which members of the scope a list shows (codes as typed; blank means all)."""

    province_code: str | None = None
    union_code: str | None = None
    page: int = 1
    per_page: int = PER_PAGE


@dataclass(frozen=True)
class WorkRow:
    """One member on a list, as the office needs it to act (never health data)."""

    member_id: int
    member_number: str
    full_name: str
    birth_date: date
    phone: str | None
    union_code: str
    union_name: str
    province_code: str
    province_name: str


@dataclass(frozen=True)
class WorkPage:
    """A page of a list with its total (counted up to ``COUNT_CAP``)."""

    rows: list[WorkRow]
    total: int
    exact: bool
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the (capped) total fills, at least 1."""
        return max(1, -(-self.total // self.per_page))


def condition(kind: str, today: date) -> Any:
    """The SQL condition on ``Member`` of a list (the active members are chosen apart).

    Raises:
        KeyError: no such list.
    """
    active_card = select(Card.id).where(Card.member_id == Member.id,
                                        Card.status == CardStatus.ACTIVE).exists()
    if kind == "no-card":
        return ~active_card
    if kind == "not-activated":
        account = select(MemberAccount.id).where(MemberAccount.member_id == Member.id).exists()
        return active_card & ~account
    if kind == "exam-due":
        examined = select(HealthRecord.id).where(
            HealthRecord.member_id == Member.id,
            HealthRecord.last_routine_exam_on > today - timedelta(days=EXAM_INTERVAL_DAYS)
        ).exists()
        return ~examined
    if kind == "not-linked":
        return ~select(HealthLink.id).where(HealthLink.member_id == Member.id).exists()
    raise KeyError(kind)


#: Active members, written as the partial indexes' own predicate (migration 0022), in the
#: SQL itself rather than as a parameter, so that a prepared statement's generic plan can
#: still use them.
ACTIVE = text("members.status = 'active'")


def _statement(scope: Scope, kind: str, filters: WorkFilters, today: date) -> Any:
    """The ids of a list's members (index-only where the indexes allow)."""
    stmt = scope.filter(select(Member.id), Member.province_code, Member.union_code).where(
        ACTIVE, condition(kind, today))
    if filters.province_code:
        stmt = stmt.where(Member.province_code == filters.province_code.strip())
    if filters.union_code:
        stmt = stmt.where(Member.union_code == filters.union_code.strip().upper())
    return stmt


def _rows(session: Session, members: list[Member]) -> list[WorkRow]:
    unions = {code: name for code, name in session.execute(
        select(Union.code, Union.name).where(Union.code.in_({m.union_code for m in members})))}
    provinces = {code: name for code, name in session.execute(
        select(Province.code, Province.name).where(
            Province.code.in_({m.province_code for m in members})))}
    return [WorkRow(m.id, m.member_number, m.full_name, m.birth_date, m.phone, m.union_code,
                    unions.get(m.union_code, m.union_code), m.province_code,
                    provinces.get(m.province_code, m.province_code)) for m in members]


def page_of(session: Session, scope: Scope, kind: str, filters: WorkFilters, *,
            today: date) -> WorkPage:
    """One page of a list, in name order, with the capped total (``today``: the date in
    Vietnam, against which exams are due).

    Raises:
        KeyError: no such list.
    """
    stmt = _statement(scope, kind, filters, today)
    capped = stmt.limit(COUNT_CAP + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(capped)) or 0)
    page = max(1, filters.page)
    # the page's ids first (from the index), then only those members' rows
    ids = list(session.scalars(stmt.order_by(Member.name_ascii, Member.id)
                               .limit(filters.per_page).offset((page - 1) * filters.per_page)))
    return WorkPage(_rows(session, _members(session, ids)), min(total, COUNT_CAP),
                    total <= COUNT_CAP, page, filters.per_page)


def _members(session: Session, ids: list[int]) -> list[Member]:
    """The members of ``ids``, in that order."""
    found = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))} \
        if ids else {}
    return [found[i] for i in ids if i in found]


def every_row(session: Session, scope: Scope, kind: str, filters: WorkFilters, *,
              today: date, chunk: int = 1000) -> Iterator[WorkRow]:
    """The whole list in name order, read ``chunk`` members at a time (for the CSV export:
    memory stays flat whatever the size; each chunk after the first starts after the last
    name read, so no chunk is an OFFSET scan).

    Raises:
        KeyError: no such list.
    """
    stmt = _statement(scope, kind, filters, today).order_by(Member.name_ascii, Member.id)
    after: tuple[str, int] | None = None
    while True:
        query = stmt if after is None else stmt.where(
            tuple_(Member.name_ascii, Member.id) > tuple_(literal(after[0]), literal(after[1])))
        ids = list(session.scalars(query.limit(chunk)))
        members = _members(session, ids)
        yield from _rows(session, members)
        if len(ids) < chunk or not members:
            return
        after = (members[-1].name_ascii, members[-1].id)


def count(session: Session, scope: Scope, kind: str, *, today: date) -> tuple[int, bool]:
    """How many members a whole list holds in the scope (up to ``COUNT_CAP``) and whether the
    count is exact.

    Raises:
        KeyError: no such list.
    """
    capped = _statement(scope, kind, WorkFilters(), today).limit(COUNT_CAP + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(capped)) or 0)
    return min(total, COUNT_CAP), total <= COUNT_CAP
