"""The audit log: recording administrative actions and searching them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import metrics
from app.models import AuditEntry


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: Any,
           province_code: str | None = None, reason: str = "",
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Add one audit entry (committed with the caller's transaction)."""
    entry = AuditEntry(actor=actor, action=action, object_type=object_type,
                       object_id=str(object_id), province_code=province_code, reason=reason,
                       details=details or {})
    session.add(entry)
    metrics.audited_on_commit(session, action)
    return entry


def search(session: Session, *, action: str | None = None, object_type: str | None = None,
           object_id: str | None = None, actor: str | None = None,
           province_code: str | None = None, page: int = 1, per_page: int = 50
           ) -> tuple[list[AuditEntry], int]:
    """Audit entries matching the filters, newest first, one page; with the total.

    ``action`` is an exact action, or a prefix when it ends in ``.`` (``card.``).
    """
    stmt = select(AuditEntry)
    exact = {"object_type": object_type, "object_id": object_id, "actor": actor,
             "province_code": province_code}
    for name, value in exact.items():
        if value:
            stmt = stmt.where(getattr(AuditEntry, name) == value)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True)
                          if action.endswith(".") else AuditEntry.action == action)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(per_page)
                           .offset((page - 1) * per_page)).all()
    return list(rows), total
