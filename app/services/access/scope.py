"""The part of the register a caller may see: the one scope rule every endpoint uses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, true

from app.services.access.tokens import Principal
from app.services.errors import NotFound


class Scope:
    """The part of the register a principal may see: everything, a province, or one union."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_national(self) -> bool:
        """Administrators see every province."""
        return self.principal.role == "admin"

    def allows(self, province_code: str | None, union_code: str | None = None) -> bool:
        """Whether a record of this province (and union) lies inside the scope."""
        if self.is_national:
            return True
        if province_code is None or province_code != self.principal.province_code:
            return False
        if self.principal.union_code is not None:
            return union_code == self.principal.union_code
        return True

    def ensure(self, province_code: str | None, union_code: str | None = None,
               what: str = "resource") -> None:
        """Raise 404 (not 403) for a record outside the scope, so existence does not leak.

        Raises:
            NotFound: the record is outside the scope.
        """
        if not self.allows(province_code, union_code):
            raise NotFound(f"No such {what}.")

    def condition(self, province_col: Any, union_col: Any | None = None) -> ColumnElement[bool]:
        """A SQL condition restricting rows to the scope."""
        if self.is_national:
            return true()
        clauses = [province_col == self.principal.province_code]
        if self.principal.union_code is not None:
            if union_col is None:
                raise ValueError("a union-scoped principal needs a union column to filter on")
            clauses.append(union_col == self.principal.union_code)
        return and_(*clauses)

    def filter(self, stmt: Select[Any], province_col: Any,
               union_col: Any | None = None) -> Select[Any]:
        """Apply ``condition`` to a select."""
        return stmt.where(self.condition(province_col, union_col))
