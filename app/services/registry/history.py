"""A member's history as their officers see it: the audit entries about the member and about
each of their cards, newest first (what was done, by whom, when and why; never health data)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Card, Member, Role, User
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


@dataclass(frozen=True)
class ActorName:
    """Who an audit entry's actor is, as the viewer may know it: ``kind`` is ``officer``,
    ``administrator``, ``member``, ``other-office`` (an officer outside the viewer's
    province: no name), ``system`` or ``unknown``; ``name`` is given only when in scope."""

    kind: str
    name: str = ""


def actor_names(session: Session, scope: Scope, actors: Iterable[str]) -> dict[str, ActorName]:
    """Names for audit actors (``user:7``, ``member:12``, ``demo``...), scoped: a staff
    member's name only when the viewer is national, the staff member is national, or both
    work in the same province; a member's name only when the member lies in the viewer's
    scope. Two queries whatever the number of entries."""
    wanted = set(actors)
    users: dict[int, str] = {}
    members: dict[int, str] = {}
    for value in wanted:
        kind, _sep, ident = value.partition(":")
        if ident.isdigit() and kind == "user":
            users[int(ident)] = value
        elif ident.isdigit() and kind == "member":
            members[int(ident)] = value
    names: dict[str, ActorName] = {}
    if users:
        for user in session.scalars(select(User).where(User.id.in_(users))):
            shown = user.full_name or user.username
            if user.role == Role.ADMIN:
                names[users[user.id]] = ActorName("administrator", shown)
            elif scope.is_national or user.province_code == scope.principal.province_code:
                names[users[user.id]] = ActorName("officer", shown)
            else:
                names[users[user.id]] = ActorName("other-office")
    if members:
        for member in session.scalars(select(Member).where(Member.id.in_(members))):
            if scope.allows(member.province_code, member.union_code):
                names[members[member.id]] = ActorName("member", member.full_name)
            else:
                names[members[member.id]] = ActorName("member")
    for value in wanted - names.keys():
        kind = value.partition(":")[0]
        names[value] = ActorName("unknown" if kind in ("user", "member") else "system", value)
    return names
