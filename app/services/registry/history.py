"""A member's history as their officers see it: the audit entries about the member and about
each of their cards, newest first (what was done, by whom, when and why; never health data)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Card
from app.services.access.scope import Scope
from app.services.registry.members import MemberRegistry


def member_history(registry: MemberRegistry, session: Session, scope: Scope, member_id: int,
                   *, limit: int = 100) -> list[AuditEntry]:
    """The latest ``limit`` audit entries of a member in ``scope`` and of their cards.

    Raises:
        NotFound: no such member in the scope.
    """
    member = registry.get(scope, member_id)
    serials = select(Card.serial).where(Card.member_id == member.id)
    stmt = (select(AuditEntry)
            .where(or_((AuditEntry.object_type == "member")
                       & (AuditEntry.object_id == str(member.id)),
                       (AuditEntry.object_type == "card") & AuditEntry.object_id.in_(serials)))
            .order_by(AuditEntry.id.desc()).limit(limit))
    return list(session.scalars(stmt))
