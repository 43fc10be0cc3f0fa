"""The coverage dashboard: members, cards, linked health records and occupational exams due by
province and by union, and month by month, as server-drawn SVG charts with the figures in tables beside them."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import format_date
from flask_babel import gettext as _

from app import clock
from app.edge.auth import current_scope
from app.extensions import db
from app.services.registry import coverage, worklists
from app.web import charts
from app.web.console import bp


def _coverage_bars(title: str, rows: list[coverage.CoverageRow]) -> Any:
    return charts.bars(title, [r.name for r in rows], [
        charts.Series(_("Active members"), [r.members for r in rows]),
        charts.Series(_("With an active card"), [r.carded for r in rows]),
        charts.Series(_("Health record linked"), [r.linked for r in rows]),
        charts.Series(_("Occupational exam due"), [r.exams_due for r in rows]),
    ])


@bp.get("/dashboard")
def dashboard() -> Any:
    """Coverage in the signed-in staff member's scope."""
    scope = current_scope()
    today = clock.today_in_vietnam()
    provinces = coverage.by_province(db.session, scope, today=today)
    union_rows = coverage.by_union(db.session, scope, today=today)
    months = coverage.over_time(db.session, scope, today=today)
    labels = [format_date(p.month, "MM/yy") for p in months]
    trend = charts.lines(_("Totals at the end of each month"), labels, [
        charts.Series(_("Members registered"), [p.members for p in months]),
        charts.Series(_("Cards issued"), [p.cards for p in months]),
        charts.Series(_("Health records linked"), [p.linked for p in months]),
    ])
    due = coverage.exams_due_by_month(db.session, scope, today=today)
    due_labels = [format_date(p.month, "MM/yy") for p in due]
    due_chart = charts.bars(_("Occupational exams falling due, month by month"), due_labels, [
        charts.Series(_("Exams falling due"), [p.due for p in due])])
    total = coverage.CoverageRow("", _("Total"), sum(r.members for r in provinces),
                                 sum(r.carded for r in provinces),
                                 sum(r.linked for r in provinces),
                                 sum(r.exams_due for r in provinces))
    not_activated, _exact = worklists.count(db.session, scope, "not-activated", today=today)
    # the provinces' targets (issue 26): linked records 80 %, routine exams 90 %, and the
    # exam rounds of the last 12 months that moved the exam share
    target_provinces, target_unions, moves = coverage.against_targets(db.session, scope,
                                                                      today=today)
    return render_template(
        "console/dashboard.html", total=total, provinces=provinces, unions=union_rows,
        not_activated=not_activated, target_provinces=target_provinces,
        target_unions=target_unions, moves=moves, targets={
            "linked": coverage.TARGET_LINKED, "examined": coverage.TARGET_EXAMINED},
        union_names={r.code: r.name for r in target_unions},
        months=months, labels=labels, trend=trend, due=due, due_labels=due_labels,
        due_chart=due_chart,
        province_chart=_coverage_bars(_("Coverage by province"), provinces),
        union_chart=_coverage_bars(_("Coverage by union (largest 20)"), union_rows))
