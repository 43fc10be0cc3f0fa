"""Helpers shared by the card tests: an office with members, and the service's desk."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.composition import card_desk_for


def office(factory: Any, province: str = "24", union_code: str = "CDCS-24-QUEVO1") -> dict[str, Any]:
    """An officer with a union and two members in it."""
    union = factory.union(union_code, province, name="CĐCS Công ty TNHH Điện tử Quế Võ")
    officer = factory.user("officer", province)
    yen = factory.member(union, full_name="Nguyễn Thị Kim Yến", birth_date=date(1994, 3, 12),
                         sex="F")
    binh = factory.member(union, full_name="Trần Văn Bình", birth_date=date(1988, 1, 1), sex="M")
    return {"union": union, "officer": officer, "headers": factory.headers(officer),
            "yen": yen, "binh": binh}


def desk(app: Any, session: Any) -> Any:
    """A card desk on the test session."""
    return card_desk_for(app, session, "test")
