"""The e-mail telling a member of an emergency access: Vietnamese, then English; the clinic,
the time, the reason code and where to see it. Never any health data (no sections, no text
the clinic wrote)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from app.clock import VIETNAM
from app.models.access_event import AccessEvent

SUBJECT = ("Truy cập khẩn cấp vào hồ sơ sức khỏe của bạn / "
           "Emergency access to your health record")


def message_id(outbox_id: int, sender: str) -> str:
    """The Message-ID of an outbox message: the same on every attempt, so a mail system that
    receives it twice can tell it is one message."""
    domain = sender.rpartition("@")[2] or "unioncard.invalid"
    return f"<unioncard-outbox-{outbox_id}@{domain}>"


def emergency_email(event: AccessEvent, *, outbox_id: int, sender: str, to: str,
                    access_log_url: str) -> EmailMessage:
    """The notification of one emergency access event."""
    local = event.at.astimezone(VIETNAM)
    utc = event.at.strftime("%Y-%m-%d %H:%M UTC")
    when_vi = f"{local:%H:%M} ngày {local:%d/%m/%Y} (giờ Việt Nam; {utc})"
    when_en = f"{local:%Y-%m-%d %H:%M} Vietnam time ({utc})"
    clinic = f"{event.clinic_name} (mã cơ sở / facility code {event.clinic_code})"
    reason = event.emergency_reason or "-"
    body = f"""Kính gửi đoàn viên,

Cơ sở y tế {clinic} đã truy cập khẩn cấp vào hồ sơ sức khỏe của bạn lúc {when_vi}.
Mã lý do: {reason}.

Truy cập khẩn cấp chỉ dùng khi bạn không thể tự đồng ý (ví dụ bất tỉnh) và chỉ mở phần thông tin
cấp cứu trong 24 giờ. Bạn có thể xem lần truy cập này trong nhật ký truy cập của mình:
{access_log_url}
Nếu bạn cho rằng việc truy cập này không đúng, hãy liên hệ công đoàn của bạn.

---

Dear member,

The health facility {clinic} used emergency access to your health record at {when_en}.
Reason code: {reason}.

Emergency access is meant for when you cannot consent yourself (for example, unconscious) and
opens only the emergency information, for 24 hours. You can see this access in your access log:
{access_log_url}
If you think this access was not right, please contact your union.

-- unioncard
"""
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(event.at)
    message["Message-ID"] = message_id(outbox_id, sender) if sender else make_msgid()
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "vi, en"
    message.set_content(body, charset="utf-8")
    return message
