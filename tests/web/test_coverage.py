"""Coverage figures for the dashboard: counted in SQL, within the caller's scope."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
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

    today = datetime.now(timezone.utc).date()
    provinces = coverage.by_province(session, officer, today=today)
    assert [(r.code, r.members, r.carded, r.linked, r.exams_due) for r in provinces] == [
        ("24", 2, 1, 0, 2)]
    unions = coverage.by_union(session, officer, today=today)
    assert [(r.code, r.members, r.carded) for r in unions] == [(setup["union"].code, 2, 1)]
    national = Scope(Principal("user", 0, "admin"))
    assert {r.code for r in coverage.by_province(session, national, today=today)} >= {"24", "01"}

    months = coverage.over_time(session, officer, today=today, months=3)
    assert [p.month for p in months] == coverage.month_starts(today, 3)
    assert (months[-1].members, months[-1].cards, months[-1].linked) == (2, 1, 0)
    assert months[0].members <= months[-1].members


def test_month_starts_cross_the_new_year() -> None:
    assert coverage.month_starts(date(2026, 2, 14), 4) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]


def test_exams_due_count_the_routine_exam_date_only(app: Any, session: Any, factory: Any) -> None:
    from app.composition import cipher_for_config
    from app.models import HealthRecord
    from app.services.health.fhir_in import parse_bundle
    from app.services.health.store import HealthStore

    setup = office(factory)
    officer = Scope(Principal("user", setup["officer"].id, "officer", province_code="24"))
    bundle = Path(app.root_path, "data", "fhir", "yen-7412345678.json").read_bytes()
    summary = parse_bundle(bundle, health_id="7412345678", feed="test",
                           received_at=datetime.now(timezone.utc))
    store = HealthStore(session, cipher_for_config(app.config), actor="test")
    store.save(setup["yen"].id, summary.to_document(), source="test", bundle_id="b-1")
    session.commit()
    record = session.query(HealthRecord).filter_by(member_id=setup["yen"].id).one()
    assert record.last_routine_exam_on == date(2025, 9, 12)  # the fixture's periodic exam

    def due(today: date) -> int:
        return coverage.by_province(session, officer, today=today)[0].exams_due

    assert due(date(2026, 3, 1)) == 1  # only Bình: Yến was examined within the year
    assert due(date(2026, 9, 12)) == 2  # a year on, Yến is due again
    # a document without exams (or unreadable) keeps no date
    store.save(setup["yen"].id, {"allergies": []}, source="test", bundle_id="b-2")
    session.commit()
    assert due(date(2026, 3, 1)) == 2


def test_exams_falling_due_month_by_month(app: Any, session: Any, factory: Any) -> None:
    from app.models import HealthRecord
    from app.services.health.exam_dates import EXAM_INTERVAL_DAYS

    setup = office(factory)
    officer = Scope(Principal("user", setup["officer"].id, "officer", province_code="24"))
    other = factory.member(setup["union"], full_name="Trần Văn Ba")
    gone = factory.member(setup["union"], full_name="Lê Thị Đi")
    elsewhere = factory.member(factory.union("CDCS-01-FAR", "01"), full_name="Lý Văn Xa")
    from app.models import MemberStatus

    gone.status = MemberStatus.LEFT
    # Yến examined 2025-09-12 (due 2026-09-12); Ba 2026-01-20 (due 2027-01-20); Bình never
    # examined (due now); the member who left and the one outside the scope are not counted
    dates = {setup["yen"].id: date(2025, 9, 12), other.id: date(2026, 1, 20),
             gone.id: date(2025, 9, 1), elsewhere.id: date(2025, 9, 1)}
    for member_id, exam in dates.items():
        session.add(HealthRecord(member_id=member_id, province_code="24" if member_id !=
                                 elsewhere.id else "01", kek_version="k", data_key_wrapped=b"k",
                                 summary_encrypted=b"x", content_hash="h" * 64, source="test",
                                 bundle_id="b",
                                 last_routine_exam_on=exam))
    session.commit()
    assert EXAM_INTERVAL_DAYS == 365

    due = coverage.exams_due_by_month(session, officer, today=date(2026, 3, 14))
    assert [p.month for p in due] == coverage.months_ahead(date(2026, 3, 14), 12)
    assert due[0].month == date(2026, 3, 1) and due[-1].month == date(2027, 2, 1)
    by_month = {p.month: p.due for p in due}
    assert by_month[date(2026, 3, 1)] == 1  # Bình: never examined, due now
    assert by_month[date(2026, 9, 1)] == 1  # Yến, a year after 2025-09-12
    assert by_month[date(2027, 1, 1)] == 1  # Ba, a year after 2026-01-20
    assert sum(by_month.values()) == 3
    # half a year on, Yến is overdue: counted in the first month
    later = {p.month: p.due for p in coverage.exams_due_by_month(
        session, officer, today=date(2026, 10, 2))}
    assert later[date(2026, 10, 1)] == 2 and later[date(2027, 1, 1)] == 1


def test_months_ahead_cross_the_new_year() -> None:
    assert coverage.months_ahead(date(2026, 11, 30), 3) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
