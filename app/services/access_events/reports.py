""""I don't recognise this": a member reports one visit of her access log; the national
administrator (the data-protection contact) works the report open → investigating → closed
with a note the member reads on her log. Every change is audited; the administrator sees the
events and the clinic of the visit but no clinical content (no section, no emergency text)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher, DecryptionError
from app.models import AccessEvent, Member
from app.models.access_report import REPORT_REASONS, REPORT_STATUSES, AccessReport
from app.services import audit
from app.services.access_events.views import member_visit_of
from app.services.errors import Conflict, NotFound, ValidationFailed

#: Encryption contexts of the member's note and the administrator's (owner: first event id).
NOTE_CONTEXT = "access_reports.note"
ADMIN_NOTE_CONTEXT = "access_reports.admin_note"
#: The longest note accepted (characters), the member's and the administrator's.
NOTE_MAX = 1000
#: Where a report may go from each status (closed is final).
MOVES = {"open": ("investigating", "closed"), "investigating": ("closed",), "closed": ()}


@dataclass(frozen=True)
class ReportFilter:
    """Which reports an administrator lists."""

    status: str | None = None
    clinic_code: str | None = None


def _note(value: str | None, field: str) -> str | None:
    """A note as stored: trimmed, None when empty.

    Raises:
        ValidationFailed: longer than ``NOTE_MAX`` characters.
    """
    text = (value or "").strip()
    if len(text) > NOTE_MAX:
        raise ValidationFailed.field(field, f"The value is longer than {NOTE_MAX} characters.")
    return text or None


class AccessReports:
    """Reports of access-log visits, for the member who made them and for administrators."""

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.clock = clock

    # -- the member ------------------------------------------------------------------------
    def report(self, member_id: int, event_id: int, reason: str, note: str | None, *,
               actor: str) -> AccessReport:
        """Report the visit holding the member's event ``event_id`` (once per visit).

        Raises:
            ValidationFailed: an unknown reason or a note too long.
            NotFound: no such event in the member's log.
            Conflict: the visit is reported already (``report_id`` names the report).
        """
        if reason not in REPORT_REASONS:
            raise ValidationFailed.field("reason", "One of: " + ", ".join(REPORT_REASONS))
        text = _note(note, "note")
        ids = member_visit_of(self.session, member_id, event_id)
        if ids is None:
            raise NotFound("No such entry in your access log.")
        earlier = self.session.scalar(select(AccessReport).where(
            AccessReport.member_id == member_id, AccessReport.first_event_id == ids[0]))
        if earlier is not None:
            raise Conflict("This entry is reported already.", report_id=earlier.id)
        first = self.session.get(AccessEvent, ids[0])
        member = self.session.get(Member, member_id)
        assert first is not None and member is not None
        now = self.clock()
        row = AccessReport(
            member_id=member_id, province_code=member.province_code, first_event_id=ids[0],
            event_ids=ids, clinic_code=first.clinic_code, clinic_name=first.clinic_name,
            visit_at=first.at, reason=reason, status="open", created_at=now, updated_at=now,
            note_encrypted=(self.cipher.encrypt(text, NOTE_CONTEXT, str(ids[0]))
                            if text is not None else None))
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:  # the same visit reported at the same moment
            raise Conflict("This entry is reported already.") from None
        audit.record(self.session, actor=actor, action="access-report.create",
                     object_type="access_report", object_id=row.id,
                     province_code=row.province_code,
                     details={"events": ids, "clinic_code": row.clinic_code,
                              "reason": reason, "note": text is not None})
        return row

    def of_member(self, member_id: int) -> list[AccessReport]:
        """The member's reports, newest first."""
        return list(self.session.scalars(
            select(AccessReport).where(AccessReport.member_id == member_id)
            .order_by(AccessReport.created_at.desc(), AccessReport.id.desc())))

    def attach(self, member_id: int, visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``visits`` (``views.member_visits``), each with the member's report of it under
        ``report`` (None: not reported)."""
        by_event: dict[int, AccessReport] = {}
        for row in self.of_member(member_id):
            for event_id in row.event_ids:
                by_event.setdefault(int(event_id), row)
        for visit in visits:
            found = next((by_event[i] for i in visit["event_ids"] if i in by_event), None)
            visit["report"] = self.for_member(found) if found is not None else None
        return visits

    # -- administrators --------------------------------------------------------------------
    def search(self, where: ReportFilter, *, page: int, per_page: int
               ) -> tuple[list[AccessReport], int]:
        """Reports by status and clinic, open ones first, oldest first within a status.

        Raises:
            ValidationFailed: an unknown status.
        """
        stmt = select(AccessReport)
        if where.status is not None:
            if where.status not in REPORT_STATUSES:
                raise ValidationFailed.field("status", "One of: " + ", ".join(REPORT_STATUSES))
            stmt = stmt.where(AccessReport.status == where.status)
        if where.clinic_code:
            stmt = stmt.where(AccessReport.clinic_code == where.clinic_code)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rank = {s: i for i, s in enumerate(REPORT_STATUSES)}
        rows = list(self.session.scalars(stmt.order_by(AccessReport.created_at,
                                                       AccessReport.id)))
        rows.sort(key=lambda r: rank.get(r.status, len(rank)))
        return rows[(page - 1) * per_page: page * per_page], int(total)

    def get(self, report_id: int) -> AccessReport:
        """One report.

        Raises:
            NotFound: no such report.
        """
        row = self.session.get(AccessReport, report_id)
        if row is None:
            raise NotFound("No such report.")
        return row

    def update(self, report_id: int, *, status: str | None, note: str | None,
               actor: str) -> AccessReport:
        """Move a report on (open → investigating → closed; open → closed) and/or set the
        administrator's note (which the member reads); closing needs a note, a closed report
        changes no more.

        Raises:
            NotFound: no such report. ValidationFailed: an unknown status, a note too long,
            closing without a note. Conflict: a move not allowed from the report's status.
        """
        if status is not None and status not in REPORT_STATUSES:
            raise ValidationFailed.field("status", "One of: " + ", ".join(REPORT_STATUSES))
        text = _note(note, "note") if note is not None else None
        row = self.session.scalar(select(AccessReport).where(AccessReport.id == report_id)
                                  .with_for_update())
        if row is None:
            raise NotFound("No such report.")
        was = row.status
        if was == "closed":
            raise Conflict("The report is closed.", report_status=was)
        if status is not None and status != was and status not in MOVES[was]:
            raise Conflict(f"A report cannot go from {was} to {status}.", report_status=was)
        noted = text if note is not None else self.admin_note(row)
        if status == "closed" and not noted:
            raise ValidationFailed.field("note", "Say what was found before closing.")
        now = self.clock()
        if note is not None:
            row.admin_note_encrypted = (
                self.cipher.encrypt(text, ADMIN_NOTE_CONTEXT, str(row.first_event_id))
                if text is not None else None)
        if status is not None and status != was:
            row.status = status
            if status == "closed":
                row.closed_at = now
        row.updated_at = now
        row.handled_by = actor
        audit.record(self.session, actor=actor, action="access-report.update",
                     object_type="access_report", object_id=row.id,
                     province_code=row.province_code,
                     details={"from": was, "to": row.status, "note": note is not None})
        return row

    # -- reading ---------------------------------------------------------------------------
    def note(self, row: AccessReport) -> str | None:
        """The member's note (None: none, or unreadable)."""
        return self._open(row.note_encrypted, NOTE_CONTEXT, row.first_event_id)

    def admin_note(self, row: AccessReport) -> str | None:
        """The administrator's note (None: none, or unreadable)."""
        return self._open(row.admin_note_encrypted, ADMIN_NOTE_CONTEXT, row.first_event_id)

    def _open(self, blob: bytes | None, context: str, owner: int) -> str | None:
        if blob is None:
            return None
        try:
            return self.cipher.decrypt(blob, context, str(owner))
        except DecryptionError:
            return None

    def for_member(self, row: AccessReport) -> dict[str, Any]:
        """What the member sees of her report."""
        return {"id": row.id, "entry_id": row.first_event_id, "event_ids": list(row.event_ids),
                "clinic_name": row.clinic_name, "clinic_code": row.clinic_code,
                "visit_at": row.visit_at, "reason": row.reason, "note": self.note(row),
                "status": row.status, "admin_note": self.admin_note(row),
                "created_at": row.created_at, "updated_at": row.updated_at,
                "closed_at": row.closed_at}

    def for_admin(self, row: AccessReport) -> dict[str, Any]:
        """What an administrator sees: the report, the member's number, and of each event of
        the visit who, when, what kind, the purpose and the outcome; no section, no
        emergency reason or text, no health content."""
        member_number = self.session.scalar(select(Member.member_number)
                                            .where(Member.id == row.member_id))
        events = self.session.execute(
            select(AccessEvent.id, AccessEvent.at, AccessEvent.kind, AccessEvent.clinic_code,
                   AccessEvent.clinic_name, AccessEvent.client_id, AccessEvent.device_id,
                   AccessEvent.practitioner, AccessEvent.purpose, AccessEvent.outcome,
                   AccessEvent.reason, AccessEvent.card_serial)
            .where(AccessEvent.id.in_(list(row.event_ids)))
            .order_by(AccessEvent.at, AccessEvent.id)).all()
        return {"id": row.id, "member_number": member_number,
                "province_code": row.province_code, "clinic_name": row.clinic_name,
                "clinic_code": row.clinic_code, "visit_at": row.visit_at,
                "reason": row.reason, "note": self.note(row), "status": row.status,
                "admin_note": self.admin_note(row), "handled_by": row.handled_by,
                "created_at": row.created_at, "updated_at": row.updated_at,
                "closed_at": row.closed_at,
                "events": [{"id": e.id, "at": e.at, "kind": e.kind,
                            "clinic_code": e.clinic_code, "clinic_name": e.clinic_name,
                            "client_id": e.client_id, "device_id": e.device_id,
                            "practitioner": e.practitioner, "purpose": e.purpose,
                            "outcome": e.outcome, "reason": e.reason,
                            "card_serial": e.card_serial} for e in events]}
