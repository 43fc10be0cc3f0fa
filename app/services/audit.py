"""Recording administrative actions in the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEntry


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: Any,
           province_code: str | None = None, reason: str = "",
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Add one audit entry (committed with the caller's transaction)."""
    entry = AuditEntry(actor=actor, action=action, object_type=object_type,
                       object_id=str(object_id), province_code=province_code, reason=reason,
                       details=details or {})
    session.add(entry)
    return entry
