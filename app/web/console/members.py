"""Console pages about members: search as you type, a member's page (status, cards, history,
whether a health record is linked — never its content), registering and editing."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for

from app.composition import card_desk, data_cipher
from app.edge.auth import actor, current_scope
from app.edge.bodies import accepts
from app.extensions import db
from app.services.errors import ValidationFailed
from app.services.health.store import HealthStore
from app.services.registry import unions
from app.services.registry.history import member_history
from app.services.registry.members import MemberRegistry, SearchFilters, mask_personal_id
from app.web import wording
from app.web.console import FORM, bp

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
    return render_template("console/members.html", q=query, rows=rows, total=total)


@bp.get("/members/search.json")
def search_json() -> Any:
    """The results for the search box's script: what the search page would list."""
    rows, total = _search(request.args.get("q", ""))
    response = jsonify(total=total, items=[{
        "name": m.full_name, "number": m.member_number, "union": m.union_code,
        "birth_date": m.birth_date.isoformat(), "status": m.status.value,
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
    return render_template(
        "console/member.html", member=found, coverage=coverage,
        personal_id=mask_personal_id(found.personal_id_last4),
        cards=card_desk(actor()).for_member(scope, member_id),
        history=member_history(register, db.session, scope, member_id))


def _union_choices() -> list[Any]:
    rows, _total = unions.list_unions(db.session, current_scope(), page=1, per_page=500)
    return rows


def _form_values() -> dict[str, Any]:
    return {name: request.form.get(name, "").strip() for name in FIELDS}


def _field_errors(error: ValidationFailed) -> dict[str, str]:
    return {e["field"]: e["message"] for e in wording.field_errors(error.errors)}


@bp.route("/members/new", methods=["GET", "POST"])
@accepts(FORM)
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
        values["birth_date"] = found.birth_date.isoformat()
        values["join_date"] = found.join_date.isoformat() if found.join_date else ""
    return render_template("console/member_form.html", values=values, errors=errors,
                           unions=_union_choices(), member=found), 422 if errors else 200
