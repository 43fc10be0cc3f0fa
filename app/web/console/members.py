"""Console pages about members: search as you type, a member's page (status, cards, history,
whether a health record is linked — never its content), registering and editing."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from flask import (
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import clock
from app.composition import card_desk, data_cipher
from app.edge.auth import actor, current_scope
from app.edge.bodies import accepts
from app.extensions import db
from app.models import Province, Union
from app.services.csv_out import CsvOut
from app.services.errors import ValidationFailed
from app.services.health.store import HealthStore
from app.services.registry import unions, worklists
from app.services.registry.history import actor_names, member_history
from app.services.registry.members import MemberRegistry, SearchFilters, mask_personal_id
from app.web import wording
from app.web.console import FORM, bp
from app.web.forms import once

#: Fields of the member form, in the order shown.
FIELDS = ("full_name", "birth_date", "sex", "personal_id", "insurance_number", "phone",
          "union_code", "join_date", "member_number")
#: What a member number looks like (province code and digits), to search by it directly.
_NUMBER_RE = re.compile(r"^[A-Za-z]{0,4}\d{4,}$")
SEARCH_LIMIT = 20


def registry() -> MemberRegistry:
    """The register, acting for the signed-in staff member."""
    return MemberRegistry(db.session, data_cipher(), actor=actor())


def _filters(query: str) -> SearchFilters:
    query = query.strip()[:100]
    if _NUMBER_RE.match(query.replace(" ", "")):
        return SearchFilters(member_number=query.replace(" ", ""), per_page=SEARCH_LIMIT)
    return SearchFilters(q=query, per_page=SEARCH_LIMIT)


def _search(query: str) -> tuple[list[Any], int]:
    if not query.strip():
        return [], 0
    rows, total, _exact = registry().search(current_scope(), _filters(query))
    return rows, total


def union_names(codes: Any) -> dict[str, str]:
    """The names of unions by code (a code without a union stays itself)."""
    wanted = set(codes)
    found = {code: name for code, name in db.session.execute(
        select(Union.code, Union.name).where(Union.code.in_(wanted)))} if wanted else {}
    return {code: found.get(code, code) for code in wanted}


def status_words() -> dict[str, str]:
    """A member's status in words, as the status badge shows it (macros.status_label)."""
    return {"active": _("active"), "suspended": _("suspended"), "left": _("left the union")}


@bp.get("/")
def home() -> Any:
    """The console starts at the member search."""
    return redirect(url_for("console.members"))


@bp.get("/members")
def members() -> Any:
    """Search members by name (with or without diacritics) or member number; the page works
    without JavaScript, and with it the results follow the typing."""
    query = request.args.get("q", "")
    rows, total = _search(query)
    return render_template("console/members.html", q=query, rows=rows, total=total,
                           unions=union_names(m.union_code for m in rows))


@bp.get("/members/search.json")
def search_json() -> Any:
    """The results for the search box's script: what the search page would list."""
    rows, total = _search(request.args.get("q", ""))
    names = union_names(m.union_code for m in rows)
    words = status_words()
    response = jsonify(total=total, items=[{
        "name": m.full_name, "number": m.member_number, "union": names[m.union_code],
        "union_code": m.union_code, "birth_date": m.birth_date.isoformat(),
        "status": m.status.value, "status_label": words.get(m.status.value, m.status.value),
        "href": url_for("console.member", member_id=m.id)} for m in rows])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/members/<int:member_id>")
def member(member_id: int) -> Any:
    """A member's page: details (personal ID masked), status, cards, history, and whether a
    health record is linked and since when."""
    scope = current_scope()
    register = registry()
    found = register.get(scope, member_id)
    coverage = HealthStore(db.session, data_cipher(), actor=actor()).coverage(found.id)
    history = member_history(register, db.session, scope, member_id)
    return render_template(
        "console/member.html", member=found, coverage=coverage,
        personal_id=mask_personal_id(found.personal_id_last4),
        cards=card_desk(actor()).for_member(scope, member_id),
        union_name=union_names([found.union_code])[found.union_code],
        history=history, actors=actor_names(db.session, scope, {e.actor for e in history}))


def _union_choices() -> list[Any]:
    rows, _total = unions.list_unions(db.session, current_scope(), page=1, per_page=500)
    return rows


def _form_values() -> dict[str, Any]:
    return {name: request.form.get(name, "").strip() for name in FIELDS}


def _field_errors(error: ValidationFailed) -> dict[str, str]:
    return {e["field"]: e["message"] for e in wording.field_errors(error.errors)}


@bp.route("/members/new", methods=["GET", "POST"])
@accepts(FORM)
@once  # a form sent twice (Back, Reload, a double click) registers once
def new_member() -> Any:
    """Register a member (the same checks as the API: scope, personal ID, number range)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values()
        raw = {k: (v or None) for k, v in values.items()}
        try:
            created, _warnings = registry().create(current_scope(), raw)
        except ValidationFailed as invalid:
            errors = _field_errors(invalid) or {"": wording.problem(invalid)}
        else:
            return redirect(url_for("console.member", member_id=created.id), code=303)
    return render_template("console/member_form.html", values=values, errors=errors,
                           unions=_union_choices(), member=None), 422 if errors else 200


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@accepts(FORM)
@once
def edit_member(member_id: int) -> Any:
    """Change a member's details; the personal ID is changed only when a new one is typed."""
    scope = current_scope()
    found = registry().get(scope, member_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values()
        changes = {k: (v or None) for k, v in values.items()
                   if k not in ("personal_id", "full_name", "birth_date", "sex",
                                "union_code", "member_number") or v}
        try:
            registry().update(scope, member_id, changes)
        except ValidationFailed as invalid:
            errors = _field_errors(invalid) or {"": wording.problem(invalid)}
        else:
            return redirect(url_for("console.member", member_id=member_id), code=303)
    else:
        values = {name: getattr(found, name, None) or "" for name in FIELDS
                  if name != "personal_id"}
        # day/month/year whatever the browser's language (the form's date fields are text)
        values["birth_date"] = found.birth_date.strftime("%d/%m/%Y")
        values["join_date"] = found.join_date.strftime("%d/%m/%Y") if found.join_date else ""
    return render_template("console/member_form.html", values=values, errors=errors,
                           unions=_union_choices(), member=found), 422 if errors else 200


#: The lists to work from: their titles and what each member on them still needs.
LISTS = {
    "no-card": (_l("Members without a card"),
                _l("Active members holding no active card: issue one, or reissue a "
                   "suspended or revoked one.")),
    "not-activated": (_l("Cards not activated"),
                      _l("Active members holding an active card who have not activated their "
                         "account with the card's code yet.")),
    "exam-due": (_l("Occupational exam due"),
                 _l("Active members with no routine (periodic or pre-employment) occupational "
                    "exam on record in the last 12 months. Officers never see the exams.")),
    "not-linked": (_l("Health record not linked"),
                   _l("Active members whose health record is not linked yet.")),
}
#: The CSV's columns (the header line, in the page's language).
CSV_COLUMNS = (_l("Member number"), _l("Full name"), _l("Birth date"), _l("Phone"),
               _l("Union"), _l("Union code"), _l("Province"))


def _work_filters() -> tuple[worklists.WorkFilters, dict[str, dict[str, str]], dict[str, str]]:
    """The list's filters from the query string, with the choices in scope and any error
    (a value outside the choices lists nobody and says so; a bad page number is page 1)."""
    scope = current_scope()
    if scope.is_national:
        provinces = {code: name for code, name in db.session.execute(
            select(Province.code, Province.name).order_by(Province.name))}
    else:
        provinces = {code: name for code, name in db.session.execute(
            select(Province.code, Province.name).where(
                Province.code == scope.principal.province_code))}
    province = request.args.get("province", "").strip()[:2]
    union = request.args.get("union", "").strip().upper()[:20]
    errors: dict[str, str] = {}
    if province and province not in provinces:
        errors["province"] = _("This province is not in your area.")
    rows, _total = unions.list_unions(db.session, scope, province_code=province or None,
                                      page=1, per_page=500)
    choices = {u.code: u.name for u in rows}
    if union and union not in choices:
        # beyond the first 500 listed (a national administrator without a province): checked
        # on its own, in scope and in the province chosen
        chosen = db.session.scalar(select(Union).where(Union.code == union))
        if chosen is not None and scope.allows(chosen.province_code, chosen.code) \
                and (not province or chosen.province_code == province):
            choices[chosen.code] = chosen.name
        else:
            errors["union"] = _("This union is not in your area (or not in that province).")
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 7 else 1
    filters = worklists.WorkFilters(province_code=province or None, union_code=union or None,
                                    page=max(1, number))
    return filters, {"provinces": provinces, "unions": choices}, errors


@bp.get("/lists/<kind>")
def worklist(kind: str) -> Any:
    """One list to work from, filtered by province and union in the officer's scope, a page
    at a time, with its CSV export and each member linked to their page."""
    if kind not in LISTS:
        abort(404)
    filters, choices, errors = _work_filters()
    page = worklists.WorkPage([], 0, True, 1, filters.per_page) if errors else \
        worklists.page_of(db.session, current_scope(), kind, filters,
                          today=clock.today_in_vietnam())
    title, about = LISTS[kind]
    args = {k: v for k, v in (("province", filters.province_code or ""),
                              ("union", filters.union_code or "")) if v}
    return render_template("console/worklist.html", kind=kind, title=title, about=about,
                           kinds=LISTS, page=page, filters=filters, choices=choices,
                           errors=errors, args=args), 422 if errors else 200


@bp.get("/lists/<kind>.csv")
def worklist_csv(kind: str) -> Any:
    """The whole filtered list as CSV for Excel (UTF-8 with a BOM, formula cells guarded:
    ``app.services.csv_out``), streamed a chunk of members at a time."""
    if kind not in LISTS:
        abort(404)
    filters, _choices, errors = _work_filters()
    if errors:
        abort(422)
    scope, today = current_scope(), clock.today_in_vietnam()
    columns = [str(c) for c in CSV_COLUMNS]

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        out = CsvOut(buffer, columns)
        for n, row in enumerate(worklists.every_row(db.session, scope, kind, filters,
                                                    today=today), start=1):
            out.row((row.member_number, row.full_name, row.birth_date.isoformat(), row.phone,
                     row.union_name, row.union_code, row.province_name))
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = f"{kind}-{today.isoformat()}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
