"""Sharing my health record (consents) in plain language: who sees what, for what purpose and
for how long. The form starts with nothing chosen but the shortest period, keeps every choice
across a facility search (by name or place, in the page or by its script) and its errors (each
beside its field), and saves only after a confirmation step that says it in one sentence;
stopping a share is asked first and can be undone for a few minutes. The consent service of
``/api/v1/me/consents``, with the notice's version, language and SHA-256 as evidence."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.composition import consent_service
from app.edge.auth import actor, current_member_id
from app.edge.bodies import accepts
from app.extensions import db
from app.facility_types import FACILITY_TYPES, is_facility_code
from app.models import Member
from app.models.consent import CONSENT_SCOPES, GRANTEE_KINDS, PURPOSES, ConsentVersion
from app.services import form_submissions
from app.services.clinics.directory import ClinicDirectory, FacilityListing
from app.services.errors import ConsentNotFound, ConsentWithdrawn, DomainError, ValidationFailed
from app.services.health.consent import ConsentState, Evidence, Grantee, add_months
from app.services.health.consent_notices import CURRENT_NOTICE, Notice, notice
from app.web import wording
from app.web.i18n import DATE_FORMAT, current_language, local_time
from app.web.portal import FORM, bp

#: What each section holds, in plain words.
SECTIONS: dict[str, Any] = {
    "emergency-core": _l("Emergency information: blood group, critical allergies and "
                         "conditions, who to call."),
    "allergies": _l("Allergies and intolerances, with the reaction."),
    "conditions": _l("Illnesses and health problems, current and past."),
    "medications": _l("Medicines you take, with the dose."),
    "immunizations": _l("Vaccinations and their dates."),
    "vitals-labs": _l("Measurements and test results (blood pressure, blood tests...)."),
    "occ-exam-summary": _l("Occupational health exams: date, health class, fit for work."),
    "occ-exam-detail": _l("Occupational health exams in full, with findings."),
    "sensitive": _l("Sensitive information (mental, sexual and reproductive health, HIV and "
                    "other sexually transmitted infections, hepatitis B and C, substance use, "
                    "genetics) and every entry the service cannot classify: only with this "
                    "separate consent."),
    "on-card": _l("Emergency information printed on the card itself: anyone holding the card "
                  "can read it (the card is reissued)."),
}
#: Each section's name inside a sentence ("You will share allergies and medicines with ...").
SECTION_NAMES: dict[str, Any] = {
    "emergency-core": _l("emergency information"),
    "allergies": _l("allergies"),
    "conditions": _l("illnesses and health problems"),
    "medications": _l("medicines"),
    "immunizations": _l("vaccinations"),
    "vitals-labs": _l("measurements and test results"),
    "occ-exam-summary": _l("occupational exams (summary)"),
    "occ-exam-detail": _l("occupational exams in full"),
    "sensitive": _l("sensitive information and entries that cannot be classified"),
    "on-card": _l("emergency information printed on the card"),
}
#: Who may see it, in plain words.
GRANTEES: dict[str, Any] = {
    "all-accredited": _l("every accredited clinic or hospital"),
    "facility-type": _l("one kind of facility"),
    "facility": _l("one facility that I choose"),
}
#: For what, in plain words.
PURPOSES_TEXT: dict[str, Any] = {
    "treatment": _l("to treat you"),
    "occupational-health": _l("for occupational health (work fitness, exams)"),
}
#: How long a consent may last, in months (the service allows at most 12), and the choice
#: the form starts with: the shortest sensible period (the member can stop earlier or renew).
MONTHS = (1, 3, 6, 12)
DEFAULT_MONTHS = 3
#: Each period's words (no plural forms: the catalog test reads ids as keys).
MONTH_LABELS: dict[int, Any] = {1: _l("1 month"), 3: _l("3 months"), 6: _l("6 months"),
                                12: _l("12 months")}
#: The sections the form offers (``on-card`` reissues the card: the office does it).
OFFERED = tuple(s for s in CONSENT_SCOPES if s != "on-card")
#: How the member was shown the notice: on the web pages.
METHOD = "web"
#: How long after stopping a share the member may undo it.
UNDO_WINDOW = timedelta(minutes=10)
#: The session key of the confirmation shown last (a grant needs it, once).
CONFIRM_KEY = "share_confirm"
#: The session key of the confirmation saved last (a second tap on "Share" saves nothing).
DONE_KEY = "share_done"
#: Facilities a search shows.
SEARCH_LIMIT = 8


def _shown() -> Notice:
    """The notice in the page's language (what the member reads before consenting)."""
    return notice(CURRENT_NOTICE, current_language())


def _evidence() -> Evidence:
    """The notice the form showed (version, language, SHA-256 of its exact text), as sent
    back with the form: the service checks the hash against the shipped text."""
    form = request.form
    return Evidence(method=METHOD, actor=actor(),
                    notice_version=form.get("notice_version", "")[:16],
                    language=form.get("notice_language", "")[:2],
                    shown_sha256=form.get("notice_sha256", "")[:64] or None)


def facility_type_label(code: str) -> str:
    """A facility type's label in the page's language."""
    labels = FACILITY_TYPES.get(code)
    return code if labels is None else labels[0 if current_language() == "vi" else 1]


def _and(parts: Sequence[str]) -> str:
    """``a, b and c`` in the page's language."""
    if len(parts) <= 1:
        return "".join(parts)
    return str(_("%(first)s and %(last)s", first=", ".join(parts[:-1]), last=parts[-1]))


def place(listing: FacilityListing) -> str:
    """Where a facility is: its address, and its province unless the address names it."""
    if listing.province_name and listing.province_name in listing.address:
        return listing.address
    return ", ".join(p for p in (listing.address, listing.province_name) if p)


def grantee_words(kind: str, value: str, listings: Mapping[str, FacilityListing]) -> str:
    """Who a consent is for, in words: every accredited clinic, every facility of a kind, or
    one facility by its name and place (its code when the directory has no such clinic)."""
    if kind == "facility-type":
        return str(_("every facility of the kind “%(kind)s”", kind=facility_type_label(value)))
    if kind == "facility":
        listing = listings.get(value)
        if listing is None:
            return str(_("the facility with code %(code)s", code=value))
        return f"{listing.name} ({place(listing)})"
    return str(GRANTEES["all-accredited"])


def sentence(scopes: Sequence[str], kind: str, value: str, purpose: str, ends: datetime,
             listings: Mapping[str, FacilityListing]) -> str:
    """What will be (or is) shared with whom, for what, until when: one sentence."""
    return str(_("You will share %(what)s with %(who)s, %(why)s, until %(until)s.",
                 what=_and([str(SECTION_NAMES[s]) for s in scopes]),
                 who=grantee_words(kind, value, listings),
                 why=str(PURPOSES_TEXT.get(purpose, purpose)),
                 until=local_time(ends, DATE_FORMAT)))


@dataclass
class ShareForm:
    """The sharing form as the member filled it in (every choice kept across a search, an
    error or the confirmation), and its errors by field."""

    scopes: list[str] = field(default_factory=list)
    grantee_kind: str = ""
    facility_type: str = ""
    facility_code: str = ""
    facility_q: str = ""
    purpose: str = ""
    months: int | None = DEFAULT_MONTHS
    read_notice: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, form: Any) -> ShareForm:
        """The form's fields, bounded; unknown choices are kept out (and said so on check)."""
        try:
            months: int | None = int(form.get("months", ""))
        except ValueError:
            months = None
        return cls(scopes=[s[:32] for s in form.getlist("scope")][:len(CONSENT_SCOPES) + 1],
                   grantee_kind=form.get("grantee_kind", "")[:32],
                   facility_type=form.get("facility_type", "")[:64],
                   facility_code=form.get("facility_code", "").strip()[:16],
                   facility_q=form.get("facility_q", "").strip()[:100],
                   purpose=form.get("purpose", "")[:32], months=months,
                   read_notice=form.get("read_notice") == "yes")

    def check(self, directory: ClinicDirectory, shown: Notice) -> ShareForm:
        """Every mistake, each beside its field (nothing is stopped at the first)."""
        errors = self.errors
        if not self.scopes:
            errors["scope"] = _("Choose at least one part of your record.")
        elif any(s not in OFFERED for s in self.scopes):
            errors["scope"] = _("Choose among the parts listed.")
        if self.grantee_kind not in GRANTEE_KINDS:
            errors["grantee_kind"] = _("Choose who may see it.")
        elif self.grantee_kind == "facility-type" and self.facility_type not in FACILITY_TYPES:
            errors["facility_type"] = _("Choose the kind of facility.")
        elif self.grantee_kind == "facility" and (
                not is_facility_code(self.facility_code)
                or directory.listings([self.facility_code]).get(self.facility_code) is None):
            errors["facility_code"] = _("Search for the facility by its name or place, then "
                                        "choose it in the list.")
        if self.purpose not in PURPOSES:
            errors["purpose"] = _("Choose what it is for.")
        if self.months not in MONTHS:
            errors["months"] = _("Choose how many months.")
        if not self.read_notice:
            errors["read_notice"] = _("Read the notice and tick the box first.")
        form = request.form
        if (form.get("notice_version"), form.get("notice_language"),
                form.get("notice_sha256")) != (shown.version, shown.language, shown.sha256):
            # the page's language changed, or a newer notice: the member reads this one
            self.read_notice = False
            errors["read_notice"] = _("The notice shown has changed: read it again and tick "
                                      "the box.")
        return self

    @property
    def grantee(self) -> Grantee:
        value = {"facility-type": self.facility_type,
                 "facility": self.facility_code}.get(self.grantee_kind, "")
        return Grantee(self.grantee_kind, value)


def _listings(codes: Sequence[str]) -> dict[str, FacilityListing]:
    return ClinicDirectory(db.session).listings(c for c in codes if c)


def _province() -> str | None:
    """The member's province (her own province's facilities are found first)."""
    member = db.session.get(Member, current_member_id())
    return member.province_code if member is not None else None


def _undoable(states: Sequence[ConsentState], consent_id: str | None,
              now: datetime) -> ConsentVersion | None:
    """The consent just stopped, while its undo is open: withdrawn less than
    ``UNDO_WINDOW`` ago, its period not over, not the card's own."""
    for state in states:
        version = state.current
        if (version.consent_id == consent_id and version.status == "withdrawn"
                and version.scope != "on-card" and now - _aware(version.recorded_at) < UNDO_WINDOW
                and _aware(version.ends_at) > now):
            return version
    return None


def _aware(moment: datetime) -> datetime:
    """A stored time (UTC, naive on SQLite) with its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _page(share: ShareForm, *, results: list[FacilityListing] | None = None,
          status: int = 200) -> Any:
    """The sharing page: what is shared now, the form (as the member left it), and what was
    stopped or ended."""
    service = consent_service(actor())
    states = service.current(current_member_id(), include_ended=True)
    now = service.clock()
    current = [s for s in states if s.status in ("active", "pending")]
    ended = sorted((s for s in states if s.status not in ("active", "pending")),
                   key=lambda s: s.current.recorded_at, reverse=True)
    codes = [s.current.grantee_value for s in states if s.current.grantee_kind == "facility"]
    listings = _listings([*codes, share.facility_code])
    chosen = listings.get(share.facility_code) if share.grantee_kind == "facility" else None
    if results is not None and chosen is not None and chosen not in results:
        results = [chosen, *results]
    done = request.args.get("done", "")
    undo = _undoable(states, request.args.get("undo"), now) if done == "withdrawn" else None
    return render_template(
        "portal/consents.html", current=current, ended=ended, share=share, notice=_shown(),
        scopes=OFFERED, sections=SECTIONS, section_names=SECTION_NAMES, grantees=GRANTEES,
        grantee_kinds=GRANTEE_KINDS, purposes=PURPOSES, purposes_text=PURPOSES_TEXT,
        months=MONTHS, month_labels=MONTH_LABELS, facility_types=list(FACILITY_TYPES),
        facility_type_label=facility_type_label, grantee_words=grantee_words,
        place=place, listings=listings, chosen=chosen, results=results, done=done, undo=undo,
        undo_minutes=int(UNDO_WINDOW.total_seconds() // 60)), status


@bp.get("/consents")
def consents() -> Any:
    """The member's consents as they stand now, and the form to grant one (nothing chosen
    but the shortest period)."""
    return _page(ShareForm())


@bp.get("/consents/facilities")
def facilities() -> Any:
    """The facility search of the sharing form, for its script (JSON): accredited clinics by
    name or place, the member's province first."""
    text = request.args.get("q", "").strip()[:100]
    found = ClinicDirectory(db.session).search(text, limit=SEARCH_LIMIT,
                                               province_first=_province())
    return jsonify({"q": text, "items": [
        {"facility_code": f.facility_code, "name": f.name, "place": place(f),
         "kind": facility_type_label(f.facility_type)} for f in found]})


def _search(share: ShareForm) -> list[FacilityListing]:
    return ClinicDirectory(db.session).search(share.facility_q, limit=SEARCH_LIMIT,
                                              province_first=_province())


def _confirmation(share: ShareForm) -> Any:
    """The confirmation step: one sentence saying what will be shared with whom, for what,
    until when, and the form's choices carried to the final "Share" (with a one-time
    token, so that a second tap or a resent form saves nothing twice)."""
    service = consent_service(actor())
    assert share.months is not None
    ends = add_months(service.clock(), share.months)
    listings = _listings([share.facility_code])
    token = secrets.token_urlsafe(16)
    session[CONFIRM_KEY] = token
    return render_template(
        "portal/consent_confirm.html", share=share, notice=_shown(), token=token,
        sentence=sentence(share.scopes, share.grantee_kind, share.grantee.value,
                          share.purpose, ends, listings),
        sensitive="sensitive" in share.scopes)


@bp.post("/consents/review")
@accepts(FORM)
def review() -> Any:
    """The form sent: a facility search (the results shown in the form, every choice kept),
    going back from the confirmation to change something, or the check — every mistake
    beside its field (422), else the confirmation step. Nothing is saved here."""
    share = ShareForm.read(request.form)
    step = request.form.get("step", "review")
    if step == "search":
        return _page(share, results=_search(share) if share.facility_q else [])
    if step == "edit":
        return _page(share, results=_search(share) if share.facility_q else None)
    share.check(ClinicDirectory(db.session), _shown())
    if share.errors:
        results = _search(share) if share.facility_q else None
        return _page(share, results=results, status=422)
    return _confirmation(share)


@bp.post("/consents")
@accepts(FORM)
def grant() -> Any:
    """Grant one consent per section chosen, for the grantee, purpose and months chosen —
    only from the confirmation step (its one-time token), all sections in one transaction;
    then Post/Redirect/Get. Without a current token the confirmation is shown (again), and
    the token of a grant saved already saves nothing."""
    share = ShareForm.read(request.form)
    token = request.form.get("confirm", "")
    done = url_for("portal.consents", done="granted")
    if token and token == session.get(DONE_KEY):
        return redirect(done, code=303)
    share.check(ClinicDirectory(db.session), _shown())
    if share.errors:
        return _page(share, results=_search(share) if share.facility_q else None, status=422)
    if not token or token != session.get(CONFIRM_KEY):
        return _confirmation(share)
    assert share.months is not None
    # the confirmation's token is claimed in this transaction (app/web/forms.py's table): two
    # taps sent at once, each with the session cookie of before, save the share once
    key = hashlib.sha256(f"{actor()}\x00share\x00{token}".encode()).hexdigest()
    if form_submissions.claim(db.session, key) is not None:
        return redirect(done, code=303)
    service = consent_service(actor())
    ends = add_months(service.clock(), share.months)
    try:
        for scope in share.scopes:
            service.grant(current_member_id(), scope, share.grantee, share.purpose,
                          _evidence(), ends_at=ends)
    except ValidationFailed as error:  # e.g. the clinic was withdrawn meanwhile
        db.session.rollback()
        share.errors["form"] = wording.problem(error)
        return _page(share, status=422)
    form_submissions.settle(db.session, key, done)
    session.pop(CONFIRM_KEY, None)
    session[DONE_KEY] = token
    return redirect(done, code=303)


def _state(consent_id: str) -> ConsentState:
    """One of the member's consents as it stands.

    Raises:
        ConsentNotFound: not hers, or no such consent.
    """
    for state in consent_service(actor()).current(current_member_id(), include_ended=True):
        if state.current.consent_id == consent_id:
            return state
    raise ConsentNotFound("No such consent.")


@bp.get("/consents/<string:consent_id>/stop")
def stop(consent_id: str) -> Any:
    """Ask before stopping a share: what stops, with whom (a consent stopped already goes
    back to the list)."""
    state = _state(consent_id[:64])
    if state.status not in ("active", "pending"):
        return redirect(url_for("portal.consents"))
    version = state.current
    listings = _listings([version.grantee_value] if version.grantee_kind == "facility" else [])
    return render_template("portal/consent_stop.html", version=version, notice=_shown(),
                           section_names=SECTION_NAMES, purposes_text=PURPOSES_TEXT,
                           who=grantee_words(version.grantee_kind, version.grantee_value,
                                             listings))


@bp.post("/consents/<string:consent_id>/withdraw")
@accepts(FORM)
def withdraw(consent_id: str) -> Any:
    """Withdraw a consent at once; the next clinic request is refused. Sent again (a reload,
    a second tap), it changes nothing and says the share is stopped."""
    try:
        consent_service(actor()).withdraw(current_member_id(), consent_id[:64], _evidence())
    except ConsentWithdrawn:
        db.session.rollback()
        return redirect(url_for("portal.consents", done="withdrawn"), code=303)
    return redirect(url_for("portal.consents", done="withdrawn", undo=consent_id), code=303)


@bp.post("/consents/<string:consent_id>/undo")
@accepts(FORM)
def undo(consent_id: str) -> Any:
    """Undo a stop made less than ``UNDO_WINDOW`` ago: the same part shared again with the
    same clinic(s), for the same purpose, until the same day (a new consent, with the notice
    as evidence). Sent again, it shares nothing twice."""
    service = consent_service(actor())
    member_id = current_member_id()
    # two undos at once run one after the other: the second finds the first's consent
    db.session.get(Member, member_id, with_for_update=True)
    states = service.current(member_id, include_ended=True)
    stopped = _undoable(states, consent_id[:64], service.clock())
    if stopped is None:
        return redirect(url_for("portal.consents", done="undo-closed"), code=303)
    again = [s.current for s in states
             if s.status in ("active", "pending") and s.current.scope == stopped.scope
             and (s.current.grantee_kind, s.current.grantee_value, s.current.purpose)
             == (stopped.grantee_kind, stopped.grantee_value, stopped.purpose)
             and s.current.recorded_at >= stopped.recorded_at]
    if not again:
        now = service.clock()
        starts = _aware(stopped.starts_at)
        try:
            service.grant(member_id, stopped.scope,
                          Grantee(stopped.grantee_kind, stopped.grantee_value),
                          stopped.purpose, _evidence(), ends_at=_aware(stopped.ends_at),
                          starts_at=starts if starts > now else None)
        except DomainError:  # the clinic was withdrawn meanwhile, a newer notice...
            db.session.rollback()
            return redirect(url_for("portal.consents", done="undo-closed"), code=303)
    return redirect(url_for("portal.consents", done="restored"), code=303)
