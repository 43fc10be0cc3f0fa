"""Consent per section, in plain language: who sees what, for what purpose and for how long,
granted after reading the notice, withdrawn with one tap — the consent service of
``/api/v1/me/consents``, with the notice's version, language and SHA-256 as evidence."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from app.composition import consent_service
from app.edge.auth import actor, current_member_id
from app.edge.bodies import accepts
from app.facility_types import FACILITY_TYPES
from app.models.consent import CONSENT_SCOPES, GRANTEE_KINDS, PURPOSES
from app.services.errors import ValidationFailed
from app.services.health.consent import Evidence, Grantee, add_months
from app.services.health.consent_notices import CURRENT_NOTICE, notice
from app.web.i18n import current_language
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
#: Who may see it, in plain words.
GRANTEES: dict[str, Any] = {
    "all-accredited": _l("every accredited clinic or hospital"),
    "facility-type": _l("one kind of facility"),
    "facility": _l("one facility, by its code"),
}
#: For what, in plain words.
PURPOSES_TEXT: dict[str, Any] = {
    "treatment": _l("to treat you"),
    "occupational-health": _l("for occupational health (work fitness, exams)"),
}
#: How long a consent may last, in months (the service allows at most 12).
MONTHS = tuple(range(1, 13))
#: How the member was shown the notice: on the web pages.
METHOD = "web"


def _shown() -> Any:
    """The notice in the page's language (what the member reads before consenting)."""
    return notice(CURRENT_NOTICE, current_language())


def _evidence() -> Evidence:
    """The notice the form showed (version, language, SHA-256 of its exact text), as sent
    back with the form: the service checks the hash against the shipped text."""
    form = request.form
    return Evidence(method=METHOD, actor=actor(),
                    notice_version=form.get("notice_version", ""),
                    language=form.get("notice_language", ""),
                    shown_sha256=form.get("notice_sha256") or None)


def facility_type_label(code: str) -> str:
    """A facility type's label in the page's language."""
    labels = FACILITY_TYPES.get(code)
    return code if labels is None else labels[0 if current_language() == "vi" else 1]


@bp.get("/consents")
def consents() -> Any:
    """The member's consents as they stand now, and the form to grant one."""
    states = consent_service(actor()).current(current_member_id(), include_ended=True)
    return render_template("portal/consents.html", states=states, notice=_shown(),
                           scopes=CONSENT_SCOPES, sections=SECTIONS, grantees=GRANTEES,
                           grantee_kinds=GRANTEE_KINDS, purposes=PURPOSES,
                           purposes_text=PURPOSES_TEXT, months=MONTHS,
                           facility_types=list(FACILITY_TYPES),
                           facility_type_label=facility_type_label,
                           done=request.args.get("done"))


def _grantee(form: Any) -> Grantee:
    kind = form.get("grantee_kind", "")
    value = {"facility-type": form.get("facility_type", ""),
             "facility": form.get("facility_code", "").strip()}.get(kind, "")
    return Grantee(kind, value)


@bp.post("/consents")
@accepts(FORM)
def grant() -> Any:
    """Grant one consent per section ticked, for the grantee, purpose and months chosen."""
    form = request.form
    if form.get("read_notice") != "yes":
        raise ValidationFailed.field("read_notice", "Read the notice and tick the box first.")
    scopes = form.getlist("scope")
    if not scopes:
        raise ValidationFailed.field("scope", "Choose at least one part of your record.")
    try:
        months = int(form.get("months", ""))
    except ValueError:
        raise ValidationFailed.field("months", "Choose how many months.") from None
    service = consent_service(actor())
    ends = add_months(service.clock(), months)
    for scope in scopes:
        service.grant(current_member_id(), scope, _grantee(form), form.get("purpose", ""),
                      _evidence(), ends_at=ends)
    return redirect(url_for("portal.consents", done="granted"), code=303)


@bp.post("/consents/<string:consent_id>/withdraw")
@accepts(FORM)
def withdraw(consent_id: str) -> Any:
    """Withdraw a consent at once (one tap); the next clinic request is refused."""
    consent_service(actor()).withdraw(current_member_id(), consent_id, _evidence())
    return redirect(url_for("portal.consents", done="withdrawn"), code=303)
