"""My health record: the member's own summary (``app.services.health.own_summary``, as
``/api/v1/me/health-summary``) section by section in plain words, each entry with its date and
source, sensitive and not-classified entries marked, and for each section who can see it now
under her consents and for what (``ConsentService.current``: the active consents the release
decision reads), with the date the record was last updated from the health record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.composition import consent_service, data_cipher
from app.edge.auth import actor, current_member_id
from app.extensions import db
from app.facility_types import FACILITY_TYPES
from app.services.errors import HealthSummaryMissing
from app.services.health import own_summary
from app.services.health.consent import ConsentState
from app.services.health.sensitive import UNCLASSIFIED
from app.services.health.store import HealthStore
from app.services.health.summary import (
    SECTIONS,
    Code,
    Entry,
    HealthSummary,
    Measurement,
    OccExam,
)
from app.web.i18n import current_language, local_date
from app.web.portal import bp

#: Each section's name and what it holds, in plain words.
SECTION_NAMES: dict[str, Any] = {
    "emergency-core": _l("Emergency information"),
    "allergies": _l("Allergies"),
    "conditions": _l("Illnesses and health problems"),
    "medications": _l("Medicines"),
    "immunizations": _l("Vaccinations"),
    "vitals-labs": _l("Measurements and test results"),
    "occ-exam-summary": _l("Occupational health exams"),
    "occ-exam-detail": _l("Occupational health exams in full"),
}
SECTION_HINTS: dict[str, Any] = {
    "emergency-core": _l("Blood group, critical allergies and illnesses, who to call."),
    "occ-exam-summary": _l("Date, place, health class and whether you are fit for the job."),
    "occ-exam-detail": _l("Hazards at work, findings and the exam's measurements."),
}
#: Who a consent is for, in plain words.
GRANTEES: dict[str, Any] = {
    "all-accredited": _l("every accredited clinic or hospital"),
    "facility-type": _l("one kind of facility"),
    "facility": _l("one facility, by its code"),
}
PURPOSES: dict[str, Any] = {
    "treatment": _l("to treat you"),
    "occupational-health": _l("for occupational health (work fitness, exams)"),
}
#: Why an entry is sensitive, in plain words (the categories of docs/fhir-mapping.md §6).
CATEGORIES: dict[str, Any] = {
    "mental-health": _l("mental health"),
    "hiv-sti": _l("HIV or a sexually transmitted infection"),
    "reproductive-sexual-health": _l("reproductive or sexual health"),
    "substance-use": _l("substance use"),
    "genetic": _l("genetics"),
    "restricted": _l("marked confidential by the clinic"),
}
EXAM_TYPES: dict[str, Any] = {
    "periodic": _l("periodic exam"),
    "pre-employment": _l("exam before starting the job"),
    "return-to-work": _l("exam before returning to work"),
    "occupational-disease": _l("occupational disease exam"),
    "exit": _l("exam on leaving the job"),
}
FITNESS: dict[str, Any] = {
    "fit": _l("fit for the job"),
    "fit-with-restrictions": _l("fit for the job with restrictions"),
    "temporarily-unfit": _l("temporarily unfit for the job"),
    "unfit": _l("unfit for the job"),
}
CRITICALITY: dict[str, Any] = {
    "high": _l("serious"),
    "low": _l("mild"),
    "unable-to-assess": _l("severity not known"),
}


@dataclass(frozen=True)
class Item:
    """One entry as the page shows it: what, details, when, where, and its mark
    (``sensitive``, ``unclassified`` or None) with the category's words."""

    title: str
    details: tuple[str, ...] = ()
    when: str = ""
    where: str = ""
    mark: str | None = None
    category: str = ""


@dataclass(frozen=True)
class Share:
    """One active (or coming) consent: who, for what, until when (from when, if later)."""

    who: str
    purpose: str
    until: str
    starts: str = ""


@dataclass
class Section:
    """A section of the record with its entries and who can see it now."""

    id: str
    name: str
    hint: str = ""
    items: list[Item] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)

    @property
    def marked(self) -> bool:
        """Whether any entry needs the separate consent to sensitive information."""
        return any(item.mark for item in self.items)


def entry_date(value: str | None) -> str:
    """A FHIR date or dateTime as the pages write dates (dd/mm/yyyy; a partial date as it
    is: mm/yyyy or yyyy)."""
    if not value:
        return ""
    try:
        return local_date(date.fromisoformat(value[:10]))
    except ValueError:
        parts = value[:7].split("-")
        return "/".join(reversed(parts))


def _title(entry: Entry) -> str:
    return entry.text or next((c.text or c.code for c in entry.codes), "") or "—"


def _mark(entry: Entry) -> tuple[str | None, str]:
    if not entry.sensitive:
        return None, ""
    if entry.sensitivity in (None, UNCLASSIFIED) or entry.sensitivity not in CATEGORIES:
        return "unclassified", ""
    return "sensitive", str(CATEGORIES[entry.sensitivity])


def _measured(m: Measurement) -> str:
    if m.value is not None:
        number = int(m.value) if m.value == int(m.value) else m.value
        return f"{number} {m.unit}".strip()
    return m.value_text or ", ".join(c.text or c.code for c in m.value_codes)


def _item(entry: Entry, *details: str) -> Item:
    mark, category = _mark(entry)
    return Item(_title(entry), tuple(d for d in details if d), entry_date(entry.date),
                entry.source.name, mark, category)


def _codes(codes: Iterable[Code]) -> str:
    return "; ".join(c.text or c.code for c in codes)


def _sections(summary: HealthSummary) -> dict[str, Section]:
    out = {s: Section(s, str(SECTION_NAMES[s]), str(SECTION_HINTS.get(s, ""))) for s in SECTIONS}
    core = out["emergency-core"]
    blood = summary.blood_group
    core.facts.append((_("Blood group"), _measured(blood) if blood else "—"))
    contacts = ", ".join(" ".join(x for x in (c.name, f"({c.relationship})" if c.relationship
                                              else "", c.phone) if x)
                         for c in summary.emergency_contacts)
    core.facts.append((_("Who to call"), contacts or "—"))
    core.items.extend(_item(a, a.reaction) for a in summary.critical_allergies)
    core.items.extend(_item(c) for c in summary.critical_conditions)
    out["allergies"].items.extend(
        _item(a, a.reaction, str(CRITICALITY.get(a.criticality or "", "")))
        for a in summary.allergies)
    out["conditions"].items.extend(_item(c) for c in summary.conditions)
    out["medications"].items.extend(_item(m, m.dose) for m in summary.medications)
    out["immunizations"].items.extend(
        _item(i, _("dose %(n)s", n=i.dose_number) if i.dose_number else "")
        for i in summary.immunizations)
    out["vitals-labs"].items.extend(_item(m, _measured(m)) for m in summary.vitals_labs)
    for exam in summary.occ_exams:
        out["occ-exam-summary"].items.append(_exam_summary(exam))
        out["occ-exam-detail"].items.extend(_exam_detail(exam))
    return out


def _exam_summary(exam: OccExam) -> Item:
    details = [str(EXAM_TYPES.get(exam.exam_type, exam.exam_type))]
    if exam.health_class:
        details.append(_("health class %(c)s", c=exam.health_class))
    if exam.fitness:
        details.append(str(FITNESS.get(exam.fitness, exam.fitness)))
    if exam.fitness_text:
        details.append(exam.fitness_text)
    return _item(exam, *details)


def _exam_detail(exam: OccExam) -> list[Item]:
    details = []
    if exam.hazards:
        details.append(_("hazards: %(h)s", h=_codes(exam.hazards)))
    if exam.findings:
        details.append(_("findings: %(f)s", f=_codes(exam.findings)))
    return [_item(exam, *details), *(_item(m, _measured(m)) for m in exam.measurements)]


def _grantee(kind: str, value: str) -> str:
    if kind == "facility-type":
        labels = FACILITY_TYPES.get(value)
        return value if labels is None else labels[0 if current_language() == "vi" else 1]
    if kind == "facility":
        return str(_("the facility with code %(code)s", code=value))
    return str(GRANTEES.get(kind, kind))


def _share(state: ConsentState, now: datetime) -> Share:
    v = state.current
    return Share(_grantee(v.grantee_kind, v.grantee_value),
                 str(PURPOSES.get(v.purpose, v.purpose)), local_date(v.ends_at),
                 local_date(v.starts_at) if v.starts_at > now else "")


def sharing(states: Sequence[ConsentState], now: datetime) -> dict[str, list[Share]]:
    """Scope -> the consents that count now or will (active and pending), as the release
    decision reads them: only a chain's newest version, only while it is not withdrawn or
    expired."""
    out: dict[str, list[Share]] = {}
    for state in states:
        if state.status in ("active", "pending"):
            out.setdefault(state.current.scope, []).append(_share(state, now))
    return out


@bp.get("/health")
def health() -> Any:
    """My health record, section by section, with who can see each part now."""
    member_id = current_member_id()
    store = HealthStore(db.session, data_cipher(), actor=actor())
    try:
        summary: HealthSummary | None = own_summary.own_summary(store, member_id)
    except HealthSummaryMissing:
        summary = None
    service = consent_service(actor())
    shares = sharing(service.current(member_id), service.clock())
    sections: list[Section] = []
    if summary is not None:
        by_id = _sections(summary)
        for section in by_id.values():
            section.shares = shares.get(section.id, [])
        sections = list(by_id.values())
    return render_template("portal/health.html", summary=summary, sections=sections,
                           updated=store.coverage(member_id).updated_at,
                           sensitive_shares=shares.get("sensitive", []),
                           on_card=bool(shares.get("on-card")))
