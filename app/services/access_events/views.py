"""Reading the access log: a member's own events (newest first) and administrators' aggregate
by clinic and kind, with clinics that used emergency access repeatedly flagged. Each event
read is checked on its own (``integrity``): a damaged one is shown marked, never an error."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import groupby
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models.access_event import AccessEvent, AccessEventText
from app.services.access_events.chain import GENESIS, STORED_FIELDS
from app.services.access_events.integrity import content_problem, text_problem
from app.services.errors import AccessPeriodInvalid

#: Members see their access events for at least this long (nothing deletes them sooner).
RETENTION_YEARS = 3
#: The longest period an aggregate may cover.
MAX_SUMMARY_DAYS = 366
#: Damaged events an aggregate lists (all are counted).
DAMAGED_SHOWN = 50
#: The JSON columns, read as text and parsed here: a damaged value is shown damaged instead of
#: failing the whole read.
_JSON_FIELDS = ("released", "denied")
_COLUMNS = [cast(getattr(AccessEvent, name), Text).label(name) if name in _JSON_FIELDS
            else getattr(AccessEvent, name) for name in STORED_FIELDS] + [AccessEvent.hash]


def _json(text: Any) -> tuple[Any, bool]:
    """A JSON column's value and whether it could be read."""
    try:
        return json.loads(text), True
    except (TypeError, ValueError, RecursionError):
        return None, False


def _checked(row: Any, text_province: str | None, sealed: bytes | None,
             cipher: DataCipher) -> tuple[SimpleNamespace, str | None, bool]:
    """An event row read as stored: (its fields, its emergency text when intact, whether
    it is damaged — its content or its text not what its hash covers)."""
    fields = {name: getattr(row, name) for name in STORED_FIELDS}
    readable = True
    for name in _JSON_FIELDS:
        fields[name], ok = _json(fields[name])
        readable = readable and ok
    event = SimpleNamespace(**fields, hash=row.hash)
    problem, text = text_problem(cipher, event_id=event.id, digest=event.emergency_text_digest,
                                 province_code=event.province_code,
                                 text_province=text_province, sealed=sealed)
    damaged = not readable or content_problem(event) is not None or problem is not None
    return event, text, damaged


def member_events(session: Session, cipher: DataCipher, member_id: int, *, page: int,
                  per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of a member's access events, newest first, and their total; each with its
    clinic (name and facility code as recorded), time, kind, sections released and denied,
    purpose, outcome and, for emergency access, the reason code and the clinic's text; and
    ``damaged``: the event's content or text is not what its hash covers, or it does not link
    to the event before it in the chain (its text is then not shown)."""
    total = session.scalar(select(func.count()).select_from(AccessEvent)
                           .where(AccessEvent.member_id == member_id)) or 0
    items = _member_event_items(session, cipher, member_id, None,
                                offset=(page - 1) * per_page, limit=per_page)
    return items, int(total)


def _member_event_items(session: Session, cipher: DataCipher, member_id: int, condition: Any,
                        *, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The member's events (all, or those meeting ``condition``), newest first, each checked
    and as ``member_events`` describes them."""
    stmt = (select(*_COLUMNS, AccessEventText.province_code.label("text_province"),
                   AccessEventText.text_encrypted)
            .outerjoin(AccessEventText, AccessEventText.event_id == AccessEvent.id)
            .where(AccessEvent.member_id == member_id)
            .order_by(AccessEvent.at.desc(), AccessEvent.seq.desc()))
    if condition is not None:
        stmt = stmt.where(condition)
    rows = session.execute(stmt.offset(offset).limit(limit)).all()
    checked = [_checked(row, row.text_province, row.text_encrypted, cipher) for row in rows]
    before = _previous_hashes(session, [event for event, _, _ in checked])
    items = []
    for event, text, damaged in checked:
        linked = event.prev_hash == (GENESIS if event.seq == 1
                                     else before.get((event.chain_key, event.seq - 1)))
        released = event.released if isinstance(event.released, list) else []
        denied = event.denied if isinstance(event.denied, dict) else {}
        items.append({"id": event.id, "seq": event.seq, "at": event.at, "kind": event.kind,
                      "clinic_name": event.clinic_name, "clinic_code": event.clinic_code,
                      "device_id": event.device_id, "practitioner": event.practitioner,
                      "purpose": event.purpose, "released": [str(r) for r in released],
                      "denied": [{"section": str(s), "reason": str(r)}
                                 for s, r in sorted(denied.items())],
                      "outcome": event.outcome, "reason": event.reason,
                      "emergency": event.kind == "emergency",
                      "emergency_reason": event.emergency_reason,
                      "emergency_text": None if damaged else text,
                      "damaged": damaged or not linked})
    return items


#: Events of one clinic client and card belong to one visit when each follows the one before
#: within a pull grant's life (a check, a PIN, the record opened) ...
VISIT_GAP = timedelta(minutes=10)
#: ... or, for emergency access, within the emergency grant's life.
EMERGENCY_VISIT_GAP = timedelta(hours=24)
#: The kinds of event that send the clinic part of the record (a verify sends nothing).
_SHOWING = ("pull", "emergency")


@dataclass(frozen=True)
class VisitFilter:
    """Which visits of the log: one clinic (facility code) and a period ``[since, until)`` in
    which the visit began (None: no bound)."""

    clinic_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _visit_groups(session: Session, member_id: int,
                  clinic_code: str | None = None) -> list[list[Any]]:
    """The member's events as visits, oldest first: an event joins the latest visit of the
    same clinic client and card when it follows that visit's last event within
    ``VISIT_GAP`` (``EMERGENCY_VISIT_GAP`` between emergency events); each visit a list of
    rows (id, at, kind, client_id, card_serial), oldest first."""
    stmt = (select(AccessEvent.id, AccessEvent.at, AccessEvent.kind, AccessEvent.client_id,
                   AccessEvent.card_serial)
            .where(AccessEvent.member_id == member_id)
            .order_by(AccessEvent.at, AccessEvent.seq))
    if clinic_code is not None:
        stmt = stmt.where(AccessEvent.clinic_code == clinic_code)
    visits: list[list[Any]] = []
    open_visits: dict[tuple[str, str | None], list[Any]] = {}
    for row in session.execute(stmt):
        key = (row.client_id, row.card_serial)
        visit = open_visits.get(key)
        if visit is not None:
            last = visit[-1]
            gap = EMERGENCY_VISIT_GAP if row.kind == "emergency" and any(
                e.kind == "emergency" for e in visit) else VISIT_GAP
            if _utc(row.at) - _utc(last.at) <= gap:
                visit.append(row)
                continue
        visit = [row]
        open_visits[key] = visit
        visits.append(visit)
    return visits


def member_visit_of(session: Session, member_id: int, event_id: int) -> list[int] | None:
    """The ids of the events of the visit holding the member's event ``event_id`` (oldest
    first), None when the member has no such event."""
    for visit in _visit_groups(session, member_id):
        ids = [row.id for row in visit]
        if event_id in ids:
            return ids
    return None


def member_clinics(session: Session, member_id: int) -> list[tuple[str, str]]:
    """The clinics in the member's log (facility code and the latest name recorded), by name."""
    rows = session.execute(
        select(AccessEvent.clinic_code, func.max(AccessEvent.clinic_name))
        .where(AccessEvent.member_id == member_id)
        .group_by(AccessEvent.clinic_code)).all()
    return sorted(((str(code), str(name)) for code, name in rows), key=lambda r: (r[1], r[0]))


def member_visits(session: Session, cipher: DataCipher, member_id: int, *, page: int,
                  per_page: int, where: VisitFilter | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
    """One page of the member's visits, newest first, and how many there are: the events of
    one clinic's check, PIN and record opened (``_visit_groups``) as one entry with the
    clinic, the purposes, what was actually shown (the sections a pull or an emergency access
    released: a verify shows nothing of the record), refusals, emergency access and its
    reasons, ``damaged`` when any of its events is, and its events in full (``events``, as
    ``member_events`` gives them, oldest first)."""
    where = where or VisitFilter()
    visits = [v for v in _visit_groups(session, member_id, where.clinic_code)
              if (where.since is None or _utc(v[0].at) >= where.since)
              and (where.until is None or _utc(v[0].at) < where.until)]
    visits.reverse()
    total = len(visits)
    shown = visits[(page - 1) * per_page: page * per_page]
    ids = [row.id for visit in shown for row in visit]
    events = {e["id"]: e for e in _member_event_items(
        session, cipher, member_id, AccessEvent.id.in_(ids))} if ids else {}
    items = []
    for visit in shown:
        group = [events[row.id] for row in visit if row.id in events]
        if group:
            items.append(_visit(group))
    return items, total


def _visit(events: list[dict[str, Any]]) -> dict[str, Any]:
    """One visit's entry from its events (oldest first)."""
    first, last = events[0], events[-1]
    seen: set[str] = set()
    for e in events:
        if e["kind"] in _SHOWING and e["outcome"] == "released":
            seen.update(e["released"])
    emergencies = [e for e in events if e["emergency"]]
    kinds = {e["kind"] for e in events}
    refusals = [e for e in events if e["kind"] == "denial"]
    return {
        "id": first["id"], "event_ids": [e["id"] for e in events],
        "started_at": first["at"], "ended_at": last["at"],
        "clinic_name": last["clinic_name"], "clinic_code": last["clinic_code"],
        "practitioners": sorted({e["practitioner"] for e in events if e["practitioner"]}),
        "purposes": sorted({e["purpose"] for e in events if e["purpose"]}),
        "card_checked": "verify" in kinds,
        "record_opened": bool(kinds & set(_SHOWING)) and bool(seen),
        "shown": sorted(seen),
        "refused": [{"at": e["at"], "reason": e["reason"]} for e in refusals],
        "emergency": bool(emergencies),
        "emergency_reasons": sorted({e["emergency_reason"] for e in emergencies
                                     if e["emergency_reason"]}),
        "emergency_texts": [e["emergency_text"] for e in emergencies if e["emergency_text"]],
        "damaged": any(e["damaged"] for e in events),
        "events": events}


def _previous_hashes(session: Session, events: list[SimpleNamespace]
                     ) -> dict[tuple[str, int], str]:
    """The hash of the event before each of ``events`` in its chain."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if isinstance(event.seq, int) and event.seq > 1:
            wanted.setdefault(event.chain_key, set()).add(event.seq - 1)
    found: dict[tuple[str, int], str] = {}
    for chain_key, seqs in wanted.items():
        for seq, digest in session.execute(
                select(AccessEvent.seq, AccessEvent.hash)
                .where(AccessEvent.chain_key == chain_key, AccessEvent.seq.in_(sorted(seqs)))):
            found[(chain_key, int(seq))] = str(digest)
    return found


def damaged_events(session: Session, cipher: DataCipher,
                   period: Period) -> tuple[int, list[dict[str, Any]]]:
    """The events of the period whose content or emergency text is not what their hash
    covers: how many, and the first ``DAMAGED_SHOWN`` (id, time, clinic and kind; never a
    member or health content). ``unioncard audit verify`` names each chain's first break."""
    rows = session.execute(
        select(*_COLUMNS, AccessEventText.province_code.label("text_province"),
               AccessEventText.text_encrypted)
        .outerjoin(AccessEventText, AccessEventText.event_id == AccessEvent.id)
        .where(AccessEvent.at >= period.since, AccessEvent.at < period.until)
        .order_by(AccessEvent.at, AccessEvent.id)
        .execution_options(yield_per=2000))
    count = 0
    shown: list[dict[str, Any]] = []
    for row in rows:
        event, _, damaged = _checked(row, row.text_province, row.text_encrypted, cipher)
        if damaged:
            count += 1
            if len(shown) < DAMAGED_SHOWN:
                shown.append({"id": event.id, "at": _utc(event.at),
                              "clinic_code": event.clinic_code, "kind": event.kind})
    return count, shown


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
