"""Reading the access log: a member's own events (newest first) and administrators' aggregate
by clinic and kind, with clinics that used emergency access repeatedly flagged."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models.access_event import AccessEvent, AccessEventText
from app.services.access_events.log import EMERGENCY_TEXT_CONTEXT
from app.services.errors import AccessPeriodInvalid

#: Members see their access events for at least this long (nothing deletes them sooner).
RETENTION_YEARS = 3
#: The longest period an aggregate may cover.
MAX_SUMMARY_DAYS = 366


def member_events(session: Session, cipher: DataCipher, member_id: int, *, page: int,
                  per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of a member's access events, newest first, and their total; each with its
    clinic (name and facility code as recorded), time, kind, sections released and denied,
    purpose, outcome and, for emergency access, the reason code and the clinic's text."""
    total = session.scalar(select(func.count()).select_from(AccessEvent)
                           .where(AccessEvent.member_id == member_id)) or 0
    rows = session.execute(
        select(AccessEvent, AccessEventText.text_encrypted)
        .outerjoin(AccessEventText, AccessEventText.event_id == AccessEvent.id)
        .where(AccessEvent.member_id == member_id)
        .order_by(AccessEvent.at.desc(), AccessEvent.seq.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    items = []
    for event, sealed in rows:
        text = (cipher.decrypt(sealed, EMERGENCY_TEXT_CONTEXT, str(event.id))
                if sealed is not None else None)
        items.append({"id": event.id, "seq": event.seq, "at": event.at, "kind": event.kind,
                      "clinic_name": event.clinic_name, "clinic_code": event.clinic_code,
                      "device_id": event.device_id, "practitioner": event.practitioner,
                      "purpose": event.purpose, "released": list(event.released),
                      "denied": [{"section": s, "reason": r}
                                 for s, r in sorted(event.denied.items())],
                      "outcome": event.outcome, "reason": event.reason,
                      "emergency": event.kind == "emergency",
                      "emergency_reason": event.emergency_reason, "emergency_text": text})
    return items, int(total)


@dataclass(frozen=True)
class Period:
    """A half-open period ``[since, until)`` of at most ``MAX_SUMMARY_DAYS``."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, now: datetime) -> Period:
        """The period asked for (default: the 30 days up to now).

        Raises:
            AccessPeriodInvalid: ``until`` not after ``since``, or a period too long.
        """
        end = until or now
        start = since or end - timedelta(days=30)
        if end <= start:
            raise AccessPeriodInvalid.field("until", "Must be after since.")
        if end - start > timedelta(days=MAX_SUMMARY_DAYS):
            raise AccessPeriodInvalid.field("since",
                                            f"The period may be {MAX_SUMMARY_DAYS} days at most.")
        return cls(start, end)


def summary(session: Session, period: Period) -> list[dict[str, Any]]:
    """Access events per clinic and kind in the period: counts, distinct members and the
    first and last time (no member, no section, no health content)."""
    rows = session.execute(
        select(AccessEvent.clinic_code, AccessEvent.kind, func.count(),
               func.count(AccessEvent.member_id.distinct()), func.min(AccessEvent.at),
               func.max(AccessEvent.at), func.max(AccessEvent.clinic_name))
        .where(AccessEvent.at >= period.since, AccessEvent.at < period.until)
        .group_by(AccessEvent.clinic_code, AccessEvent.kind)
        .order_by(AccessEvent.clinic_code, AccessEvent.kind)).all()
    return [{"clinic_code": code, "clinic_name": name, "kind": kind, "events": count,
             "members": members, "first_at": _utc(first), "last_at": _utc(last)}
            for code, kind, count, members, first, last, name in rows]


@dataclass(frozen=True)
class FlagPolicy:
    """When a clinic's emergency use is flagged: ``threshold`` accesses within ``window``."""

    threshold: int
    window: timedelta


def emergency_flags(session: Session, period: Period,
                    policy: FlagPolicy) -> list[dict[str, Any]]:
    """Clinics with ``threshold`` or more emergency accesses within some ``window`` in the
    period: the most in one window, when that window began and ended, and the period's total."""
    threshold, window = policy.threshold, policy.window
    rows = session.execute(
        select(AccessEvent.clinic_code, AccessEvent.clinic_name, AccessEvent.at)
        .where(AccessEvent.kind == "emergency", AccessEvent.at >= period.since,
               AccessEvent.at < period.until)
        .order_by(AccessEvent.clinic_code, AccessEvent.at)).all()
    flags = []
    for code, group in groupby(rows, key=lambda r: r[0]):
        events = list(group)
        best, start, end = 0, events[0][2], events[0][2]
        recent: deque[datetime] = deque()
        for _, _, at in events:
            recent.append(at)
            while at - recent[0] >= window:
                recent.popleft()
            if len(recent) > best:
                best, start, end = len(recent), recent[0], at
        if best >= threshold:
            flags.append({"clinic_code": code, "clinic_name": events[-1][1],
                          "most_in_window": best, "window_start": _utc(start),
                          "window_end": _utc(end), "total": len(events)})
    return sorted(flags, key=lambda f: (-f["most_in_window"], f["clinic_code"]))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
