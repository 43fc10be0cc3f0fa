"""The e-mail inviting a member to an exam round: Vietnamese, then English; the round's kind,
clinic, address and days, and where to answer. Nothing of her health record."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Clinic
from app.models.exam_round import ExamParticipant, ExamRound
from app.services.access_events.email_text import message_id

SUBJECT = "Mời khám sức khỏe / Invitation to a health examination"
KINDS = {"periodic": ("khám sức khỏe định kỳ", "a periodic health examination"),
         "pre-employment": ("khám sức khỏe trước khi bố trí việc làm",
                            "a pre-employment health examination"),
         "occupational-disease": ("khám phát hiện bệnh nghề nghiệp",
                                  "an occupational-disease screening")}


def invitation_email(session: Session, participant_id: int, *, outbox_id: int, sender: str,
                     to: str, portal_url: str, at: datetime) -> EmailMessage | None:
    """The invitation of one participant (None: the round is gone or cancelled)."""
    row = session.execute(
        select(ExamRound, Clinic).join(ExamParticipant, ExamParticipant.round_id == ExamRound.id)
        .join(Clinic, Clinic.id == ExamRound.clinic_id)
        .where(ExamParticipant.id == participant_id)).first()
    if row is None or row[0].status != "planned":
        return None
    round_, clinic = row
    kind_vi, kind_en = KINDS.get(round_.kind, (round_.kind, round_.kind))
    days_vi = (f"ngày {round_.first_day:%d/%m/%Y}" if round_.first_day == round_.last_day
               else f"từ ngày {round_.first_day:%d/%m/%Y} đến ngày {round_.last_day:%d/%m/%Y}")
    days_en = (f"on {round_.first_day:%Y-%m-%d}" if round_.first_day == round_.last_day
               else f"from {round_.first_day:%Y-%m-%d} to {round_.last_day:%Y-%m-%d}")
    where = f"{clinic.name}" + (f", {clinic.address}" if clinic.address else "")
    body = f"""Kính gửi đoàn viên,

Công đoàn mời bạn {kind_vi} ({round_.title}) tại {where}, {days_vi}.
Hãy mang theo thẻ đoàn viên: phòng khám quét thẻ để ghi nhận bạn đã đến.
Xin xác nhận hoặc đề nghị ngày khác trên cổng đoàn viên: {portal_url}

---

Dear member,

Your union invites you to {kind_en} ({round_.title}) at {where}, {days_en}.
Bring your union card: the clinic scans it to check you in.
Please confirm or ask for another day in the member portal: {portal_url}

-- unioncard
"""
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(at)
    message["Message-ID"] = message_id(outbox_id, sender) if sender else make_msgid()
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "vi, en"
    message.set_content(body, charset="utf-8")
    return message
