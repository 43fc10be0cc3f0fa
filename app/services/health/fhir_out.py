"""FHIR R4 output: a ``HealthSummary`` as an IPS-shaped document Bundle (optionally restricted
to some sections), and the member's export Bundle. Plain dicts, validated by the tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.services.health import narrative as nv
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.sensitive import CATEGORY_LABELS, V3_ACT_CODE, V3_CONFIDENTIALITY

_NS = uuid.UUID("5f0c3c1e-8f0a-4a57-9d54-3c5f6e0a9b10")
#: A FHIR date or dateTime (else an onset or abatement is a text: ``onsetString``).
_DATETIME = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))?)?)?")
_REACTION_SEVERITIES = ("mild", "moderate", "severe")
_SECTION_TITLES = {
    "emergency-core": "Thông tin cấp cứu", "allergies": "Dị ứng", "conditions": "Bệnh",
    "medications": "Thuốc", "immunizations": "Tiêm chủng", "vitals-labs": "Chỉ số và xét nghiệm",
    "occ-exam-summary": "Khám sức khỏe nghề nghiệp (tóm tắt)",
    "occ-exam-detail": "Khám sức khỏe nghề nghiệp (chi tiết)",
}
_AUTHOR = "unioncard"
#: The security label of a resource with masked elements (a masked health ID).
_V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def _url(*parts: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(_NS, "|".join(parts)))


def _concept(codes: Iterable[s.Code], text: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    coding = [{k: v for k, v in (("system", c.system), ("code", c.code), ("display", c.text))
               if v} for c in codes if c.code]
    if coding:
        out["coding"] = coding
    if text or not coding:
        out["text"] = text or "(không rõ)"
    return out


def _reference(url: str, display: str = "") -> dict[str, str]:
    return {"reference": url, **({"display": display} if display else {})}


def _qualifier(concept: s.Concept) -> dict[str, Any] | None:
    return _concept(concept.codes, concept.text) if concept else None


def _quantity(q: s.Quantity) -> dict[str, Any]:
    out: dict[str, Any] = {"value": q.value}
    if q.comparator:
        out["comparator"] = q.comparator
    if q.unit:
        out["unit"] = q.unit
    if q.system and q.code:  # R4 qty-3: a unit code only with its system
        out["system"] = q.system
        out["code"] = q.code
    return out


def _status(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _when(r: dict[str, Any], element: str, value: str | None) -> None:
    """``{element}DateTime`` for a FHIR dateTime, else ``{element}String``."""
    if value:
        kind = "DateTime" if _DATETIME.fullmatch(value) else "String"
        r[element + kind] = value


def _dosage(d: s.Dosage) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.sequence is not None:
        out["sequence"] = d.sequence
    if d.text:
        out["text"] = d.text
    timing: dict[str, Any] = {}
    repeat = {k: v for k, v in (("count", d.count), ("frequency", d.frequency),
                                ("period", d.period),
                                ("periodUnit", d.period_unit)) if v not in (None, "")}
    if repeat:
        timing["repeat"] = repeat
    if d.timing:
        timing["code"] = _qualifier(d.timing)
    if timing:
        out["timing"] = timing
    if d.as_needed:
        out["asNeededBoolean"] = True
    for element, concept in (("site", d.site), ("route", d.route), ("method", d.method)):
        if concept:
            out[element] = _qualifier(concept)
    dose_rate: dict[str, Any] = {}
    if d.dose is not None:
        dose_rate["doseQuantity"] = _quantity(d.dose)
    elif d.dose_low is not None or d.dose_high is not None:
        dose_rate["doseRange"] = {k: _quantity(q) for k, q in (("low", d.dose_low),
                                                               ("high", d.dose_high)) if q}
    if d.rate is not None:
        dose_rate["rateQuantity"] = _quantity(d.rate)
    if dose_rate:
        out["doseAndRate"] = [dose_rate]
    return out


def _value(r: dict[str, Any], m: s.Measurement | s.Component) -> None:
    quantity = m.quantity if isinstance(m, s.Measurement) else m.value
    if quantity is not None:
        r["valueQuantity"] = _quantity(quantity)
    elif m.value_codes:
        r["valueCodeableConcept"] = _concept(m.value_codes, m.value_text)
    elif m.value_text:
        r["valueString"] = m.value_text
    elif isinstance(m, s.Measurement) and (m.value_low or m.value_high):
        r["valueRange"] = {k: _quantity(q) for k, q in (("low", m.value_low),
                                                        ("high", m.value_high)) if q}
    elif isinstance(m, s.Measurement) and m.absent_reason:
        r["dataAbsentReason"] = _qualifier(m.absent_reason)  # R4 obs-6: only without a value


class _Builder:
    """Accumulates the entries of one Bundle."""

    def __init__(self, summary: s.HealthSummary, key: str) -> None:
        self.summary = summary
        self.key = key
        self.entries: list[dict[str, Any]] = []
        self.patient_url = _url(key, "Patient")
        self.facilities: dict[s.Facility, str] = {}
        self.done: dict[tuple[str, str, str], str] = {}
        blood = (summary.blood_group,) if summary.blood_group else ()
        #: (bundle, id) of the results the Bundle holds: the panels' members it may refer to
        self.results = {(m.provenance.bundle, m.id) for m in (*blood, *summary.vitals_labs)}

    def add(self, resource: dict[str, Any], *parts: str) -> str:
        url = _url(self.key, *parts)
        resource["id"] = url.removeprefix("urn:uuid:")
        self.entries.append({"fullUrl": url, "resource": resource})
        return url

    def facility(self, facility: s.Facility) -> dict[str, Any] | None:
        if not facility.code and not facility.name:
            return None
        if facility not in self.facilities:
            org: dict[str, Any] = {"resourceType": "Organization",
                                   "name": facility.name or facility.code}
            if facility.code:
                org["identifier"] = [{"system": sy.FACILITY, "value": facility.code}]
            self.facilities[facility] = self.add(org, "Organization", facility.code,
                                                 facility.name)
        return _reference(self.facilities[facility], facility.name)

    def patient(self, contacts: bool) -> None:
        p = self.summary.patient
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [{"system": sy.HEALTH_ID, "value": p.health_id}],
        }
        if p.health_id.startswith("*"):  # masked for this pull's purpose (clinic_flow.desk)
            resource["meta"] = {"security": [{"system": _V3_OBSERVATION_VALUE,
                                              "code": "MASKED", "display": "masked"}]}
        if p.name:
            resource["name"] = [{"text": p.name}]
        if p.gender:
            resource["gender"] = p.gender
        if p.birth_date:
            resource["birthDate"] = p.birth_date
        # R4 pat-1: a contact has a name, telecom, address or organization
        reachable = [c for c in self.summary.emergency_contacts if c.name or c.phone]
        if contacts and reachable:
            resource["contact"] = [
                {k: v for k, v in (
                    ("relationship", [_concept(c.relationship_codes, c.relationship)]
                     if c.relationship or c.relationship_codes else None),
                    ("name", {"text": c.name} if c.name else None),
                    ("telecom", [{"system": "phone", "value": c.phone}] if c.phone else None),
                ) if v} for c in reachable]
        self.entries.insert(0, {"fullUrl": self.patient_url,
                                "resource": {**resource, "id": self.patient_url[9:]}})

    def _common(self, e: s.Entry, kind: str) -> dict[str, Any]:
        resource: dict[str, Any] = {"resourceType": kind}
        if e.note and kind != "Encounter":
            resource["note"] = [{"text": e.note}]
        if e.sensitive:
            labels = [{"system": V3_CONFIDENTIALITY, "code": "R", "display": "restricted"}]
            if e.sensitivity in CATEGORY_LABELS:
                labels.append({"system": V3_ACT_CODE, "code": CATEGORY_LABELS[e.sensitivity]})
            resource["meta"] = {"security": labels}
        return resource

    def entry(self, e: s.Entry) -> str:
        """One entry as its FHIR resource (once per Bundle); returns its fullUrl."""
        done = (type(e).__name__, e.provenance.bundle, e.id)
        if done in self.done:
            return self.done[done]
        subject = _reference(self.patient_url)
        source = self.facility(e.source)
        if isinstance(e, s.Allergy):
            r = self._common(e, "AllergyIntolerance")
            # R4 ait-1: clinicalStatus unless entered in error (never kept): a listed allergy
            # without one is active
            r["clinicalStatus"] = _status(sy.ALLERGY_CLINICAL, e.clinical_status or "active")
            if e.verification_status:
                r["verificationStatus"] = _status(sy.ALLERGY_VERIFICATION,
                                                  e.verification_status)
            if e.type in ("allergy", "intolerance"):
                r["type"] = e.type
            if e.categories:
                r["category"] = list(e.categories)
            r.update(patient=subject, code=_concept(e.codes, e.text))
            if e.criticality:
                r["criticality"] = e.criticality
            _when(r, "onset", e.onset)
            reaction: dict[str, Any] = {}
            if e.manifestations:
                reaction["manifestation"] = [_concept(m.codes, m.text)
                                             for m in e.manifestations]
            elif e.reaction:
                reaction["manifestation"] = [{"text": e.reaction}]
            if reaction and e.reaction_severity in _REACTION_SEVERITIES:
                reaction["severity"] = e.reaction_severity
            if reaction:
                r["reaction"] = [reaction]
            if e.date and e.date != e.onset:
                r["recordedDate"] = e.date
            if source:
                r["asserter"] = source
        elif isinstance(e, s.Condition):
            r = self._common(e, "Condition")
            status = e.clinical_status
            if e.abatement and not status:
                status = "inactive"  # R4 con-4: an abated condition is not active
            if status:
                r["clinicalStatus"] = _status(sy.CONDITION_CLINICAL, status)
            if e.verification_status:
                r["verificationStatus"] = _status(sy.CONDITION_VERIFICATION,
                                                  e.verification_status)
            if e.body_sites:
                r["bodySite"] = [_concept(c.codes, c.text) for c in e.body_sites]
            if e.severity:
                r["severity"] = _qualifier(e.severity)
            elif e.critical:
                r["severity"] = {"coding": [{"system": sy.SNOMED, "code": sy.SEVERE,
                                             "display": "Severe"}]}
            r.update(subject=subject, code=_concept(e.codes, e.text))
            _when(r, "onset", e.onset)
            _when(r, "abatement", e.abatement)
            if e.date and e.date != e.onset:
                r["recordedDate"] = e.date
            if source:
                r["asserter"] = source
        elif isinstance(e, s.Medication):
            r = self._common(e, "MedicationStatement")
            r.update(status=e.status or "unknown", subject=subject,
                     medicationCodeableConcept=_concept(e.codes, e.text))
            if e.dosages:
                r["dosage"] = [_dosage(d) for d in e.dosages]
            elif e.dose:
                r["dosage"] = [{"text": e.dose}]
            if e.end:
                r["effectivePeriod"] = {k: v for k, v in (("start", e.date), ("end", e.end))
                                        if v}
            elif e.date:
                r["effectiveDateTime"] = e.date
            if source:
                r["informationSource"] = source
        elif isinstance(e, s.Immunization):
            r = self._common(e, "Immunization")
            r.update(status=e.status or "completed", patient=subject,
                     vaccineCode=_concept(e.codes, e.text))
            if e.date:
                r["occurrenceDateTime"] = e.date
            else:
                r["occurrenceString"] = "không rõ ngày"
            if e.lot_number:
                r["lotNumber"] = e.lot_number
            if e.site:
                r["site"] = _qualifier(e.site)
            if e.route:
                r["route"] = _qualifier(e.route)
            if e.dose_quantity is not None:
                r["doseQuantity"] = _quantity(e.dose_quantity)
            if e.dose_number:
                key = "doseNumberPositiveInt" if e.dose_number.isdigit() else "doseNumberString"
                value: int | str = int(e.dose_number) if e.dose_number.isdigit() else e.dose_number
                r["protocolApplied"] = [{key: value}]
            if source:
                r["performer"] = [{"actor": source}]
        elif isinstance(e, s.Measurement):
            r = self._measurement(e, subject, source)
        else:
            raise TypeError(f"not an entry type: {type(e).__name__}")
        self.done[done] = self.add(r, *done)
        return self.done[done]

    def _measurement(self, e: s.Measurement, subject: dict[str, str],
                     source: dict[str, Any] | None, encounter: str | None = None
                     ) -> dict[str, Any]:
        r = self._common(e, "Observation")
        r.update(status="final", category=[{"coding": [{"system": sy.OBSERVATION_CATEGORY,
                                                        "code": e.category}]}],
                 code=_concept(e.codes, e.text), subject=subject)
        if e.date:
            r["effectiveDateTime"] = e.date
        _value(r, e)
        if e.interpretation:
            r["interpretation"] = [_concept(c.codes, c.text) for c in e.interpretation]
        ranges = [{k: v for k, v in (("low", _quantity(x.low) if x.low else None),
                                     ("high", _quantity(x.high) if x.high else None),
                                     ("text", x.text)) if v}
                  for x in e.reference_ranges]
        if any(ranges):  # R4 obs-3: a range has a low, a high or a text
            r["referenceRange"] = [x for x in ranges if x]
        if source:
            r["performer"] = [source]
        if encounter:
            r["encounter"] = _reference(encounter)
        # a panel's members: those this Bundle holds (a member withheld is not referred to)
        members = [_reference(_url(self.key, "Measurement", e.provenance.bundle, m))
                   for m in e.members if (e.provenance.bundle, m) in self.results]
        if members:
            r["hasMember"] = members
        if e.components:
            r["component"] = []
            for c in e.components:
                component: dict[str, Any] = {"code": _concept(c.codes, c.text)}
                _value(component, c)
                r["component"].append(component)
        return r

    def exam(self, exam: s.OccExam, detail: bool) -> tuple[str, list[str]]:
        """An occupational exam as an Encounter and its Observations."""
        subject = _reference(self.patient_url)
        source = self.facility(exam.source)
        enc = self._common(exam, "Encounter")
        enc.update(status="finished",
                   type=[_concept(exam.codes if exam.code(sy.OCC_EXAM_TYPE) else
                                  [s.Code(sy.OCC_EXAM_TYPE, exam.exam_type), *exam.codes],
                                  exam.text)],
                   subject=subject)
        enc["class"] = {"system": sy.ACT_CODE, "code": "AMB", "display": "ambulatory"}
        if exam.date:
            enc["period"] = {"start": exam.date}
        if source:
            enc["serviceProvider"] = source
        enc_url = self.add(enc, "Encounter", exam.provenance.bundle, exam.id)
        summary: list[str] = []
        details: list[str] = []

        def occ(code: str, text: str, value: dict[str, Any], sensitive: bool, *part: str) -> str:
            r: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                                 "code": {"coding": [{"system": sy.OCC_OBSERVATION,
                                                      "code": code}], "text": text},
                                 "subject": subject, "encounter": _reference(enc_url),
                                 "valueCodeableConcept": value}
            if sensitive:
                r["meta"] = {"security": [{"system": V3_CONFIDENTIALITY, "code": "R"}]}
            if exam.date:
                r["effectiveDateTime"] = exam.date
            return self.add(r, "Observation", exam.provenance.bundle, exam.id, code, *part)

        if exam.health_class:
            summary.append(occ(sy.OCC_HEALTH_CLASS, "Phân loại sức khỏe", _concept(
                [s.Code(sy.HEALTH_CLASS, exam.health_class)], f"Loại {exam.health_class}"),
                False))
        if exam.fitness:
            summary.append(occ(sy.OCC_FITNESS, "Kết luận sức khỏe với công việc", _concept(
                [s.Code(sy.JOB_FITNESS, exam.fitness)], exam.fitness_text), False))
        if detail:
            for n, hazard in enumerate(exam.hazards):
                details.append(occ(sy.OCC_HAZARD_CODE, "Yếu tố có hại nghề nghiệp",
                                   _concept([hazard], hazard.text), False, str(n)))
            for n, finding in enumerate(exam.findings):
                details.append(occ(sy.OCC_FINDING, "Phát hiện bệnh nghề nghiệp",
                                   _concept([finding], finding.text), exam.sensitive, str(n)))
            for m in exam.measurements:
                details.append(self.add(self._measurement(m, subject, self.facility(m.source),
                                                          enc_url),
                                        "Measurement", m.provenance.bundle, m.id))
        return enc_url, [*summary, *details] if detail else summary


def build_document(summary: s.HealthSummary, *, now: datetime,
                   sections: Iterable[str] = s.SECTIONS, sensitive: bool = True,
                   document_id: str | None = None) -> dict[str, Any]:
    """The summary (only ``sections``; without sensitive entries unless ``sensitive``) as an
    IPS-shaped FHIR R4 ``document`` Bundle: a Composition (LOINC 60591-5) whose sections carry
    the IPS LOINC section codes where IPS has one, and always the project's section code.

    Raises:
        ValueError: a section id is not one of ``SECTIONS``.
    """
    wanted = s.check_sections(sections)
    doc = s.HealthSummary.from_document(summary.to_document(wanted, sensitive=sensitive))
    key = document_id or str(uuid.uuid4())
    b = _Builder(doc, key)
    b.patient(contacts="emergency-core" in wanted)
    comp_sections: list[dict[str, Any]] = []

    def section(sid: str, refs: list[str], tables: Iterable[str],
                loinc: tuple[str, str] | None = None, title: str | None = None) -> None:
        coding = [{"system": sy.SUMMARY_SECTION, "code": sid}]
        loinc = loinc or sy.IPS_SECTION_LOINC[sid]
        if loinc:
            coding.insert(0, {"system": sy.LOINC, "code": loinc[0], "display": loinc[1]})
        title = title or _SECTION_TITLES[sid]
        sec: dict[str, Any] = {"title": title, "code": {"coding": coding},
                               "text": {"status": "generated", "div": nv.div(title, *tables)}}
        if refs:
            sec["entry"] = [_reference(u) for u in refs]
        else:
            sec["emptyReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                "code": "unavailable"}]}
        comp_sections.append(sec)

    # entries in the order of their own sections (the emergency core refers to some of them)
    for x in (*((doc.blood_group,) if doc.blood_group else ()), *doc.allergies,
              *doc.conditions, *doc.vitals_labs):
        b.entry(x)
    for sid in s.SECTIONS:
        if sid not in wanted:
            continue
        if sid == "emergency-core":
            blood = (doc.blood_group,) if doc.blood_group else ()
            refs = [b.entry(x) for x in (*blood, *doc.critical_allergies,
                                         *doc.critical_conditions)]
            reachable = [c for c in doc.emergency_contacts if c.name or c.phone]
            section(sid, refs, (nv.results(blood), nv.allergies(doc.critical_allergies),
                                nv.conditions(doc.critical_conditions),
                                nv.contacts(reachable)))
        elif sid == "allergies":
            section(sid, [b.entry(x) for x in doc.allergies], (nv.allergies(doc.allergies),))
        elif sid == "conditions":
            section(sid, [b.entry(x) for x in doc.conditions],
                    (nv.conditions(doc.conditions),))
        elif sid == "medications":
            section(sid, [b.entry(x) for x in doc.medications],
                    (nv.medications(doc.medications),))
        elif sid == "immunizations":
            section(sid, [b.entry(x) for x in doc.immunizations],
                    (nv.immunizations(doc.immunizations),))
        elif sid == "vitals-labs":
            vitals = [x for x in doc.vitals_labs if x.category == "vital-signs"]
            others = [x for x in doc.vitals_labs if x.category != "vital-signs"]
            section(sid, [b.entry(x) for x in others], (nv.results(others),))
            section(sid, [b.entry(x) for x in vitals], (nv.results(vitals),),
                    sy.VITAL_SIGNS_SECTION_LOINC, "Dấu hiệu sinh tồn")
        elif sid == "occ-exam-summary":
            refs = []
            detail = "occ-exam-detail" in wanted
            for exam in doc.occ_exams:
                enc, obs = b.exam(exam, detail=detail)
                refs.extend([enc, *obs])
            section(sid, refs, (nv.exams(doc.occ_exams, detail=detail),))
        elif sid == "occ-exam-detail" and "occ-exam-summary" not in wanted:
            refs = []
            for exam in doc.occ_exams:
                enc, obs = b.exam(exam, detail=True)
                refs.extend([enc, *obs])
            section(sid, refs, (nv.exams(doc.occ_exams, detail=True),))
    timestamp = now.isoformat(timespec="seconds")
    composition = {
        "resourceType": "Composition", "id": _url(key, "Composition")[9:], "status": "final",
        "type": {"coding": [{"system": sy.LOINC, "code": "60591-5",
                             "display": "Patient summary Document"}]},
        "subject": _reference(b.patient_url), "date": timestamp,
        "author": [{"display": _AUTHOR}],
        "title": f"Tóm tắt sức khỏe – {doc.patient.name}".rstrip(" –"),
        "confidentiality": "R" if any(e.sensitive for e in doc.entries()) else "N",
        "section": comp_sections,
    }
    return {"resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": _url(key, "Bundle")},
            "type": "document", "timestamp": timestamp,
            "entry": [{"fullUrl": _url(key, "Composition"), "resource": composition},
                      *b.entries]}


def build_export(summary: s.HealthSummary, *, now: datetime) -> dict[str, Any]:
    """The member's own export (right of access): a ``collection`` Bundle with every entry,
    sensitive ones included, and one Provenance per source Bundle naming its feed and time."""
    key = "export|" + summary.health_id + "|" + now.isoformat()
    b = _Builder(summary, key)
    b.patient(contacts=True)
    by_bundle: dict[tuple[str, str, str], list[str]] = {}
    for e in (*((summary.blood_group,) if summary.blood_group else ()), *summary.allergies,
              *summary.conditions, *summary.medications, *summary.immunizations,
              *summary.vitals_labs):
        url = b.entry(e)
        p = e.provenance
        by_bundle.setdefault((p.feed, p.bundle, p.received_at.isoformat()), []).append(url)
    for exam in summary.occ_exams:
        enc, obs = b.exam(exam, detail=True)
        p = exam.provenance
        by_bundle.setdefault((p.feed, p.bundle, p.received_at.isoformat()), []).extend(
            [enc, *obs])
    for (feed, bundle, received), targets in by_bundle.items():
        b.add({"resourceType": "Provenance", "target": [_reference(t) for t in targets],
               "recorded": received,
               "agent": [{"who": {"display": f"health feed {feed}"}}],
               "entity": [{"role": "source", "what": {"identifier": {"value": bundle}}}]},
              "Provenance", feed, bundle, received)
    timestamp = now.isoformat(timespec="seconds")
    return {"resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": _url(key, "Bundle")},
            "type": "collection", "timestamp": timestamp, "entry": b.entries}
