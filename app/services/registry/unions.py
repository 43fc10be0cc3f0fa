"""Grassroots unions: create, list, read, update within the officer's scope."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Province, Union
from app.services.access.scope import Scope
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.registry.identity import InvalidField, normalize_name

UNION_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    try:
        if "name" in out:
            out["name"] = normalize_name(out["name"], "name")
        for key in ("employer", "industrial_park"):
            if out.get(key):
                out[key] = normalize_name(out[key], key)
    except InvalidField as exc:
        raise ValidationFailed.field(exc.field, exc.message) from None
    return out


def create_union(session: Session, scope: Scope, data: dict[str, Any]) -> Union:
    """Create a grassroots union in a province inside the scope.

    Raises:
        ValidationFailed: bad code, unknown province, province outside scope.
        Conflict: the code exists.
    """
    code = str(data["code"]).strip().upper()
    if not UNION_CODE_RE.match(code):
        raise ValidationFailed.field("code", "2-20 characters: capital letters, digits and '-'.")
    province = data["province_code"]
    if session.get(Province, province) is None:
        raise ValidationFailed.field("province_code", f"Unknown province code {province!r}.")
    if not scope.allows(province) or scope.principal.union_code is not None:
        raise ValidationFailed.field("province_code", "You may not create unions there.")
    if session.scalar(select(Union.id).where(Union.code == code)) is not None:
        raise Conflict(f"A union with code {code} already exists.")
    clean = _clean(data)
    union = Union(code=code, name=clean["name"], province_code=province,
                  employer=clean.get("employer") or "",
                  industrial_park=clean.get("industrial_park") or "")
    session.add(union)
    session.flush()
    return union


def get_union(session: Session, scope: Scope, code: str) -> Union:
    """A union by code, if in scope.

    Raises:
        NotFound: no such union in the scope.
    """
    union = session.scalar(select(Union).where(Union.code == code.upper()))
    if union is None:
        raise NotFound("No such union.")
    scope.ensure(union.province_code, union.code, "union")
    return union


def update_union(session: Session, scope: Scope, code: str, changes: dict[str, Any]) -> Union:
    """Change a union's name, employer or industrial park (code and province are fixed).

    Raises:
        NotFound: no such union in the scope.
    """
    union = get_union(session, scope, code)
    for key, value in _clean(changes).items():
        setattr(union, key, value or "")
    session.flush()
    return union


def list_unions(session: Session, scope: Scope, *, province_code: str | None = None,
                q: str | None = None, page: int = 1, per_page: int = 50
                ) -> tuple[list[Union], int]:
    """Unions in scope, optionally by province and name/code fragment; with the total."""
    stmt = scope.filter(select(Union), Union.province_code, Union.code)
    if province_code:
        stmt = stmt.where(Union.province_code == province_code)
    if q:
        # autoescape: % and _ in the query are literal characters, not wildcards
        text = q.strip()
        stmt = stmt.where(Union.name.icontains(text, autoescape=True)
                          | Union.code.icontains(text, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Union.province_code, Union.code)
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total
