"""Console pages about cards: issue or reissue, suspend, reinstate and revoke — each after a
confirmation page, each form acting once (``app.web.forms``: Post/Redirect/Get with a one-time
token) — printing a card (its PDF, in a new tab) and printing a batch (the batch's sheets)."""

from __future__ import annotations

import functools
from typing import Any

from flask import Response, current_app, redirect, render_template, request, send_file, url_for

from app.composition import batch_settings, card_desk, card_desk_for, job_launcher
from app.edge.auth import actor, current_scope
from app.edge.bodies import accepts
from app.extensions import db
from app.services.issuing import batches, card_files
from app.services.issuing.issuance import REVOKE_REASONS, SUSPEND_REASONS
from app.services.registry import unions
from app.web.console import FORM, bp
from app.web.console.members import registry
from app.web.forms import keep_once, once, take_once

#: The actions on one card that a confirmation page asks about, and the reasons to choose from
#: (the service's; ``superseded`` is given by issuing a new card, not chosen).
ACTIONS: dict[str, tuple[str, ...]] = {
    "suspend": SUSPEND_REASONS, "reinstate": (),
    "revoke": tuple(r for r in REVOKE_REASONS if r != "superseded")}
#: The files of a card the console offers to print or show.
PRINTABLE = ("card.pdf", "card.png", "card-back.png", "qr.svg")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/members/<int:member_id>/issue")
def confirm_issue(member_id: int) -> Any:
    """Ask before issuing: a new card replaces (revokes) the member's present one."""
    scope = current_scope()
    member = registry().get(scope, member_id)
    live = [c for c in card_desk(actor()).for_member(scope, member_id)
            if c.status.value != "revoked"]
    return render_template("console/confirm_issue.html", member=member, live=live)


def _member_page(member_id: int, **_ignored: Any) -> str:
    return url_for("console.member", member_id=member_id)


def _card_member_page(serial: str, **_ignored: Any) -> str:
    card = card_desk(actor()).get(current_scope(), serial)
    return url_for("console.member", member_id=card.member_id)


@bp.post("/members/<int:member_id>/issue")
@accepts(FORM)
@once(back=_member_page)
def issue(member_id: int) -> Any:
    """Issue (or reissue) the member's card, then show it (Post/Redirect/Get): the one-time
    activation code waits in the session for that page, never in the URL."""
    issued = card_desk(actor()).issue(current_scope(), member_id)
    keep_once(_code_name(issued.card.serial), issued.activation_code)
    return redirect(url_for("console.issued", serial=issued.card.serial), code=303)


def _code_name(serial: str) -> str:
    return f"activation-code:{serial}"


@bp.get("/cards/<serial>/issued")
def issued(serial: str) -> Any:
    """The card just issued: its activation code the first time this page is shown (then
    only the way to a new code), the card's PDF to print in a new tab."""
    card = card_desk(actor()).get(current_scope(), serial)
    member = registry().get(current_scope(), card.member_id)
    return _no_store(current_app.make_response(render_template(
        "console/issued.html", member=member, card=card,
        activation_code=take_once(_code_name(card.serial)))))


@bp.get("/cards/<serial>/<any(suspend, reinstate, revoke):action>")
def confirm_card_action(serial: str, action: str) -> Any:
    """Ask before suspending, reinstating or revoking a card (with a reason where needed)."""
    card = card_desk(actor()).get(current_scope(), serial)
    member = registry().get(current_scope(), card.member_id)
    return render_template("console/confirm_card.html", card=card, member=member,
                           action=action, reasons=ACTIONS[action])


@bp.post("/cards/<serial>/<any(suspend, reinstate, revoke):action>")
@accepts(FORM)
@once(back=_card_member_page)
def card_action(serial: str, action: str) -> Any:
    """Suspend, reinstate or revoke a card (its status-list bit is set at once)."""
    desk, scope = card_desk(actor()), current_scope()
    reason = request.form.get("reason", "")
    if action == "reinstate":
        card = desk.reinstate(scope, serial)
    else:
        card = getattr(desk, action)(scope, serial, reason)
    return redirect(url_for("console.member", member_id=card.member_id), code=303)


@bp.get("/cards/<serial>/print/<any(" + ",".join(f"'{n}'" for n in PRINTABLE) + "):name>")
def card_file(serial: str, name: str) -> Any:
    """A card's printable file (the same PDF and images as the API's downloads)."""
    file = card_files.card_file(card_desk(actor()), current_scope(), serial, name)
    return Response(file.body, mimetype=file.media_type, headers={
        "Content-Disposition": f'inline; filename="{file.file_name}"',
        "Cache-Control": "private, no-store"})


@bp.route("/batches/new", methods=["GET", "POST"])
@accepts(FORM)
@once
def new_batch() -> Any:
    """Print a batch: cards for every active member of a union (or province) who has none,
    on A4 sheets; the job page follows its progress."""
    scope = current_scope()
    if request.method == "POST":
        union_code = request.form.get("union_code") or None
        province_code = None if union_code else (request.form.get("province_code") or None)
        target = batches.resolve_target(db.session, scope, union_code=union_code,
                                        province_code=province_code)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        job, _resumed = batches.start(db.session, scope, target,
                                      settings=batch_settings(app.config),
                                      desks=functools.partial(card_desk_for, app),
                                      launch=job_launcher(app))
        return redirect(url_for("console.job", job_id=job.id), code=303)
    rows, _total = unions.list_unions(db.session, scope, page=1, per_page=500)
    return render_template("console/batch_form.html", unions=rows,
                           province=scope.principal.province_code)


@bp.get("/batches/<job_id>/sheets/<int:number>.pdf")
def batch_sheet(job_id: str, number: int) -> Any:
    """One print sheet of a finished batch."""
    job = batches.batch_job(db.session, current_scope(), job_id)
    path = batches.sheet_path(batch_settings(current_app.config).root, job, number)
    return send_file(path, mimetype="application/pdf", as_attachment=False,
                     download_name=f"cards-{job.id}-{path.name}")
