"""Console pages about cards: issue or reissue, suspend, reinstate and revoke — each after a
confirmation page, each form acting once (``app.web.forms``: Post/Redirect/Get with a one-time
token) — printing a card (its PDF, in a new tab) and printing a batch (the batch's sheets)."""

from __future__ import annotations

import csv
import functools
import hmac
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from flask import Response, current_app, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from app import clock
from app.clock import today_in_vietnam
from app.composition import batch_settings, card_desk, card_desk_for, data_cipher, job_launcher
from app.edge.auth import actor, current_scope
from app.edge.bodies import accepts
from app.extensions import db
from app.models import Card, MemberAccount, Union
from app.services.access.member_accounts import normalize_code
from app.services.errors import NotFound, ValidationFailed
from app.services.issuing import batches, card_files
from app.services.issuing.issuance import ACTIVATION_CONTEXT, REVOKE_REASONS, SUSPEND_REASONS
from app.services.registry import unions
from app.web.console import FORM, bp
from app.web.console.members import registry
from app.web.forms import keep_once, once, take_once
from cards.printing.letters import Letter, letters_pdf

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


# -- activation codes and letters ------------------------------------------------------------
@dataclass(frozen=True)
class AccountState:
    """What the member page says of a member's own account (never its secrets)."""

    activated_at: datetime | None
    pin_locked_until: datetime | None
    password_locked_until: datetime | None


@bp.app_template_global("account_state")
def account_state(member_id: int) -> AccountState:
    """The member's account: activated (when) or not, PIN and password locked (until) or not.
    For the member page, which has found the member in the officer's scope already."""
    found = db.session.scalar(select(MemberAccount).where(MemberAccount.member_id == member_id))
    if found is None:
        return AccountState(None, None, None)
    now = clock.now()

    def running(until: datetime | None) -> datetime | None:
        return until if until is not None and _aware(until) > now else None

    return AccountState(found.activated_at, running(found.pin_locked_until),
                        running(found.password_locked_until))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@bp.get("/cards/<serial>/activation-code")
def confirm_new_code(serial: str) -> Any:
    """Ask before giving the member a new activation code (the card stays as it is)."""
    card = card_desk(actor()).get(current_scope(), serial)
    member = registry().get(current_scope(), card.member_id)
    return render_template("console/confirm_code.html", card=card, member=member,
                           account=account_state(member.id))


@bp.post("/cards/<serial>/activation-code")
@accepts(FORM)
@once(back=_card_member_page)
def new_code(serial: str) -> Any:
    """A new one-time activation code for the card's member (the old one stops working; the
    card, its status and its QR stay the same), shown once on the page that follows."""
    code = card_desk(actor()).new_activation_code(current_scope(), serial)
    keep_once(_code_name(serial.upper()), code)
    return redirect(url_for("console.new_code_shown", serial=serial.upper()), code=303)


@bp.get("/cards/<serial>/activation-code/new")
def new_code_shown(serial: str) -> Any:
    """The new activation code, the first time this page is shown, with its letter."""
    card = card_desk(actor()).get(current_scope(), serial)
    member = registry().get(current_scope(), card.member_id)
    return render_template("console/activation_code.html", member=member, card=card,
                           activation_code=take_once(_code_name(card.serial)))


def _last_day(expires: datetime | None) -> date | None:
    return today_in_vietnam(_aware(expires)) if expires is not None else None


def _portal_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + url_for("portal.activate")


def _letters_response(letters: list[Letter], name: str) -> Response:
    return Response(letters_pdf(letters), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store"})


@bp.post("/cards/<serial>/letter.pdf")
@accepts(FORM)
def card_letter(serial: str) -> Any:
    """The activation letter of one member (PDF, downloaded) for the code just shown: the code
    comes in the form (never the URL) and must be the card's present, unused code."""
    card = card_desk(actor()).get(current_scope(), serial)
    code = normalize_code(request.form.get("activation_code", ""))
    if (not code or card.activation_hash is None or card.activation_used_at is not None
            or not hmac.compare_digest(card.activation_hash,
                                       data_cipher().lookup_hash(code, ACTIVATION_CONTEXT))):
        raise ValidationFailed("This is not the card's present activation code: give the "
                               "member a new code and print its letter from that page.")
    member = registry().get(current_scope(), card.member_id)
    union = db.session.scalar(select(Union).where(Union.code == member.union_code))
    return _letters_response([Letter(
        full_name=member.full_name, member_number=member.member_number,
        union_name=union.name if union is not None else member.union_code,
        card_serial=card.serial, activation_code=code, portal_url=_portal_url(),
        valid_until=_last_day(card.activation_expires_at))],
        f"letter-{card.serial}.pdf")


def _job_page(job_id: str, **_ignored: Any) -> str:
    return url_for("console.job", job_id=job_id)


@bp.post("/batches/<job_id>/letters.pdf")
@accepts(FORM)
@once(back=_job_page)
def batch_letters(job_id: str) -> Any:
    """A finished batch's activation letters, one page a member (PDF, downloaded once: the
    codes are deleted as they are handed out, as the API's letters.csv)."""
    job = batches.batch_job(db.session, current_scope(), job_id)
    text = batches.take_letters(db.session, data_cipher(), batch_settings(current_app.config).root,
                                job, actor=actor())
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    serials = [row["card_serial"] for row in rows]
    expiry = dict(db.session.execute(select(Card.serial, Card.activation_expires_at)
                                     .where(Card.serial.in_(serials))).all()) if serials else {}
    portal = _portal_url()
    letters = [Letter(full_name=row["full_name"], member_number=row["member_number"],
                      union_name=row["union_name"] or row["union_code"],
                      card_serial=row["card_serial"], activation_code=row["activation_code"],
                      portal_url=portal, valid_until=_last_day(expiry.get(row["card_serial"])))
               for row in rows if row.get("activation_code")]
    if not letters:
        raise NotFound("This batch has no activation letters.")
    return _letters_response(letters, f"letters-{job.id}.pdf")


@dataclass(frozen=True)
class LettersState:
    """A batch's activation letters for its page: how many, and when they were taken."""

    count: int
    downloaded_at: datetime | None


@bp.app_template_global("batch_letters")
def batch_letters_state(job: Any) -> LettersState | None:
    """The letters of a finished card batch (``None``: not a batch, or no letters)."""
    if job.kind != batches.KIND or not isinstance(job.result, dict):
        return None
    info = job.result.get("letters")
    if not info:
        return None
    taken = info.get("downloaded_at")
    return LettersState(int(info.get("count") or 0),
                        datetime.fromisoformat(taken) if isinstance(taken, str) else None)
