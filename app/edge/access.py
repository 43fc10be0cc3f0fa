"""Access events written at the edge: each verify, pull, denial and emergency use is appended
to the member's access log in a short write transaction of its own, committed before the
answer is sent, so a refusal (answered 4xx, which rolls the request back) is logged too."""

from __future__ import annotations

from flask import current_app

from app.composition import access_log
from app.extensions import db
from app.models.access_event import AccessEvent
from app.services.access_events.log import AccessRecord
from app.services.access_events.outbox import notify_emergency


def record_access(record: AccessRecord) -> AccessEvent:
    """Append ``record`` (and queue the member's e-mail of an emergency use, once: not for the
    pulls of its grant) and commit."""
    # The request's own session only read; end its transaction first, so its rollback (a
    # refusal's) can never undo this write (tests join both to one connection's savepoints)
    # and SQLite sees no reader upgrading to a writer.
    db.session.rollback()
    session = db.new_session(current_app, write=True)
    try:
        event = access_log(session).record(record)
        if record.kind == "emergency" and record.emergency_reason:  # the use, not its pulls
            notify_emergency(session, event)
        session.commit()
        return event
    finally:
        session.close()
