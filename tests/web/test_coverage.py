"""Coverage figures for the dashboard: counted in SQL, within the caller's scope."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.registry import coverage
from tests.app.cards_helpers import desk, office


def test_figures_by_province_union_and_month(app: Any, session: Any, factory: Any) -> None:
    setup = office(factory)
    elsewhere = factory.union("CDCS-01-FAR", "01", name="Far away union")
    factory.member(elsewhere, full_name="Lý Văn Xa")
    officer = Scope(Principal("user", setup["officer"].id, "officer", province_code="24"))
    desk(app, session).issue(officer, setup["yen"].id)
    session.commit()

    provinces = coverage.by_province(session, officer)
    assert [(r.code, r.members, r.carded, r.linked) for r in provinces] == [("24", 2, 1, 0)]
    unions = coverage.by_union(session, officer)
    assert [(r.code, r.members, r.carded) for r in unions] == [(setup["union"].code, 2, 1)]
    national = Scope(Principal("user", 0, "admin"))
    assert {r.code for r in coverage.by_province(session, national)} >= {"24", "01"}

    today = datetime.now(timezone.utc).date()
    months = coverage.over_time(session, officer, today=today, months=3)
    assert [p.month for p in months] == coverage.month_starts(today, 3)
    assert (months[-1].members, months[-1].cards, months[-1].linked) == (2, 1, 0)
    assert months[0].members <= months[-1].members


def test_month_starts_cross_the_new_year() -> None:
    assert coverage.month_starts(date(2026, 2, 14), 4) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
