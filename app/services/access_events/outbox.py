"""The e-mail outbox: messages queued in the transaction of the event they announce."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.access_event import AccessEvent
from app.models.notification import OutboxMessage

EMERGENCY_ACCESS = "emergency-access"


def notify_emergency(session: Session, event: AccessEvent) -> None:
    """Queue the e-mail telling the member of an emergency access (once per event; nothing for
    an event tied to no member). Flushed with the caller's transaction; delivery is separate
    (``unioncard notifications deliver``).

    Raises:
        ValueError: the event is not an emergency access or is not written yet.
    """
    if event.kind != "emergency":
        raise ValueError("only emergency access events are notified")
    if event.id is None:
        raise ValueError("record the event (AccessLog.record) before notifying it")
    if event.member_id is None or event.province_code is None:
        return
    queued = session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.kind == EMERGENCY_ACCESS, OutboxMessage.event_id == event.id))
    if queued is not None:
        return
    session.add(OutboxMessage(kind=EMERGENCY_ACCESS, member_id=event.member_id,
                              province_code=event.province_code, event_id=event.id,
                              status="pending", attempts=0, created_at=event.at,
                              next_attempt_at=event.at, last_error=""))
    session.flush()
