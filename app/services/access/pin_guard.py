"""Guards on PIN guessing beyond one member's own lock: each clinic client may get at most
``max_failures`` wrong PINs in a fixed window, whichever members they were for; what
administrators see of the locks and the capped clients, and how they clear a member's lock.

A check takes its slot *before* the PIN is compared, in one statement (an upsert that counts
only while under the cap), and a right PIN gives the slot back: so however many checks arrive
at once, no more than the cap are ever compared, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from math import ceil
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.models import Member, MemberAccount, PinClientWindow
from app.services import audit
from app.services.errors import NotFound, PinAttemptsCapped

log = logging.getLogger("unioncard.pin_guard")
#: How long the windows are kept for administrators to see (then the worker prunes them).
KEEP_WINDOWS = timedelta(days=7)
_WINDOWS: Table = PinClientWindow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class PinClientCap:
    """The clinic client checking a PIN, and its cap: at most ``max_failures`` wrong PINs in
    each window of ``window_seconds``."""

    client_id: str
    clinic_code: str
    max_failures: int = 20
    window_seconds: int = 3600


def window_start(now: datetime, seconds: int) -> datetime:
    """The start of the fixed window of ``seconds`` that holds ``now`` (aligned on the epoch)."""
    start = int(now.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start, tz=timezone.utc)


def _insert(session: Session) -> Any:
    """The backend's INSERT with ON CONFLICT (PostgreSQL's or SQLite's)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_WINDOWS)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_WINDOWS)


def take_client_slot(session: Session, cap: PinClientCap, now: datetime) -> datetime:
    """Take one of the client's PIN-check slots of the current window, or refuse at the cap
    (the first refusal of a window is logged and audited); commits. The window's start,
    to give the slot back with.

    Raises:
        PinAttemptsCapped: the client had ``cap.max_failures`` wrong PINs (or checks under
            way) in this window.
    """
    start = window_start(now, cap.window_seconds)
    column = _WINDOWS.c
    stmt = _insert(session).values(client_id=cap.client_id, window_start=start,
                                   clinic_code=cap.clinic_code, failures=1, refused=0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[column.client_id, column.window_start],
        set_={"failures": column.failures + 1},
        where=column.failures < cap.max_failures).returning(column.failures)
    if cap.max_failures > 0 and session.connection().execute(stmt).first() is not None:
        session.commit()
        return start
    refused = session.connection().execute(
        update(_WINDOWS).where(column.client_id == cap.client_id, column.window_start == start)
        .values(refused=column.refused + 1, capped_at=func.coalesce(column.capped_at, now))
        .returning(column.refused)).scalar()
    if refused == 1:
        log.warning("clinic client reached the wrong-PIN cap", extra={
            "client_id": cap.client_id, "clinic_code": cap.clinic_code,
            "window_start": start.isoformat(), "failures": cap.max_failures})
        audit.record(session, actor="system", action="clinic.pin_cap_reached",
                     object_type="clinic_client", object_id=cap.client_id,
                     reason=f"{cap.max_failures} wrong PINs within {cap.window_seconds} s",
                     details={"clinic_code": cap.clinic_code,
                              "window_start": start.isoformat()})
    session.commit()
    ends = start + timedelta(seconds=cap.window_seconds)
    raise PinAttemptsCapped(
        f"This clinic client has had {cap.max_failures} wrong PINs within "
        f"{cap.window_seconds // 60} minutes, across members: PIN checks are refused until "
        f"{ends.isoformat()}. The member's presence code (phone) still works.",
        retry_after=max(1, ceil((ends - now).total_seconds())), locked_until=ends.isoformat())


def give_back_client_slot(session: Session, cap: PinClientCap, start: datetime) -> None:
    """Give back the slot a check took (the PIN was right, or never compared); commits."""
    column = _WINDOWS.c
    session.connection().execute(
        update(_WINDOWS).where(column.client_id == cap.client_id, column.window_start == start,
                               column.failures > 0)
        .values(failures=column.failures - 1))
    session.commit()


@dataclass(frozen=True)
class LockedPin:
    """A member whose PIN is locked now: until when, and the how-manieth lock in a row."""

    member_id: int
    member_number: str
    province_code: str
    locked_until: datetime
    locks_in_a_row: int


@dataclass(frozen=True)
class CappedClient:
    """A clinic client that reached the wrong-PIN cap in a window."""

    client_id: str
    clinic_code: str
    window_start: datetime
    window_end: datetime
    wrong_pins: int
    refused: int
    capped_at: datetime | None


def locked_pins(session: Session, now: datetime, *, limit: int = 1000) -> list[LockedPin]:
    """The members whose PIN is locked now, the longest lock first (at most ``limit``)."""
    rows = session.execute(
        select(MemberAccount.member_id, Member.member_number, MemberAccount.province_code,
               MemberAccount.pin_locked_until, MemberAccount.pin_lock_count)
        .join(Member, Member.id == MemberAccount.member_id)
        .where(MemberAccount.pin_locked_until > now)
        .order_by(MemberAccount.pin_locked_until.desc(), MemberAccount.member_id)
        .limit(limit))
    return [LockedPin(row[0], row[1], row[2], row[3] or now, row[4]) for row in rows]


def capped_clients(session: Session, now: datetime, *, max_failures: int,
                   window_seconds: int) -> list[CappedClient]:
    """The clinic clients that reached the cap in the windows kept (``KEEP_WINDOWS``), the
    newest window first."""
    rows = session.scalars(
        select(PinClientWindow)
        .where(PinClientWindow.window_start >= now - KEEP_WINDOWS,
               or_(PinClientWindow.refused > 0, PinClientWindow.failures >= max_failures))
        .order_by(PinClientWindow.window_start.desc(), PinClientWindow.client_id))
    return [CappedClient(row.client_id, row.clinic_code, row.window_start,
                         row.window_start + timedelta(seconds=window_seconds),
                         row.failures, row.refused, row.capped_at) for row in rows]


def clear_pin_lock(session: Session, member_id: int, *, actor: str, now: datetime) -> bool:
    """End a member's PIN lock, its wrong PINs and its run of locks (audited; the caller
    commits); whether the PIN was locked.

    Raises:
        NotFound: the member has no account.
    """
    account = session.scalar(select(MemberAccount).where(MemberAccount.member_id == member_id)
                             .with_for_update())
    if account is None:
        raise NotFound("This member has no account (so no PIN).")
    was_locked = account.pin_locked_until is not None and account.pin_locked_until > now
    audit.record(session, actor=actor, action="member.pin_unlocked", object_type="member",
                 object_id=member_id, province_code=account.province_code,
                 details={"was_locked": was_locked,
                          "locked_until": (account.pin_locked_until.isoformat()
                                           if account.pin_locked_until else None),
                          "locks_in_a_row": account.pin_lock_count})
    account.pin_failures, account.pin_locked_until, account.pin_lock_count = 0, None, 0
    session.flush()
    return was_locked


def prune_client_windows(session: Session, now: datetime) -> int:
    """Delete the windows older than ``KEEP_WINDOWS`` (the caller commits); how many."""
    result = session.execute(delete(PinClientWindow)
                             .where(PinClientWindow.window_start < now - KEEP_WINDOWS)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
