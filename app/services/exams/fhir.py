"""Exam results as FHIR R4: the clinic's collection Bundle in (an occupational ``Encounter``
with its ``Observation``s, optionally a ``DiagnosticReport`` whose conclusion is the
recommendations), validated with the project's intake rules (``fhir_in.parse_bundle``,
docs/fhir-mapping.md); and the transaction Bundle out, to the national health record, whose
every entry is a conditional create (``ifNoneExist`` on a stable identifier), so a Bundle sent
twice creates nothing twice.

The clinic knows the member by the round, not by her health ID (a check-in releases nothing):
its Bundle's Patient carries her member number (``MEMBER_NUMBER`` identifier system), which
must be the participant's; the health ID is put in by the service before the intake rules
check the Patient.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from pydantic import ValidationError

from app.services.errors import FhirInvalid
from app.services.exams.results import ExamFindings
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle

#: The member number as a Patient identifier (the clinic's name for the member).
MEMBER_NUMBER = "https://unioncard.vn/fhir/sid/member-number"
#: The identifier system of the resources a result sends (value ``<bundle uuid>/<part>``).
EXAM_RESULT = "https://unioncard.vn/fhir/sid/exam-result"
#: A stand-in health ID for the intake check of a member not linked yet (never stored).
_UNLINKED = "0000000000"
_NAMESPACE = uuid.UUID("6f1c1f0e-5b0a-4d4e-9a55-2f3b4c5d6e7f")


def _problem(path: str, detail: str) -> FhirInvalid:
    return FhirInvalid("The FHIR Bundle is invalid (1 problem).", errors=[
        {"location": "fhir", "field": path, "pointer": "#", "detail": detail}])


def findings_from_fhir(raw: Mapping[str, Any], *, member_number: str, health_id: str | None,
                       kind: str, clinic_code: str, received_at: datetime) -> ExamFindings:
    """The result in a clinic's FHIR Bundle (``collection``, or a ``transaction`` read as the
    collection of its resources), checked by the intake rules.

    Raises:
        FhirInvalid: not valid FHIR, not one occupational Encounter of the round's kind,
            a Patient that is not the participant, a broken DiagnosticReport, or any rule of
            docs/fhir-mapping.md.
    """
    if not isinstance(raw, Mapping) or raw.get("resourceType") != "Bundle":
        raise _problem("Bundle", "Send a FHIR Bundle (type collection).")
    bundle = copy.deepcopy(dict(raw))
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise _problem("Bundle.entry", "The Bundle has no entries.")
    if bundle.get("type") == "transaction":  # read as the collection of what it would create
        bad = [i for i, e in enumerate(entries) if not isinstance(e, dict)
               or (e.get("request") or {}).get("method") not in ("POST", "PUT")]
        if bad:
            raise _problem(f"Bundle.entry[{bad[0]}].request",
                           "A transaction's entries create or update (POST or PUT).")
        bundle["type"] = "collection"
        entries = [{k: v for k, v in e.items() if k != "request"} for e in entries]
    recommendations = ""
    kept: list[Any] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "DiagnosticReport":
            try:
                report = DiagnosticReport.model_validate(resource)
            except ValidationError as e:
                raise _problem(f"Bundle.entry[{i}].resource",
                               f"Not a valid DiagnosticReport: {e.errors()[0]['msg']}") from None
            recommendations = (report.conclusion or "").strip()
            continue  # the intake rules know no DiagnosticReport: its conclusion is kept
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient":
            numbers = [x.get("value") for x in resource.get("identifier") or ()
                       if isinstance(x, dict) and x.get("system") == MEMBER_NUMBER]
            if member_number not in numbers:
                raise _problem(f"Bundle.entry[{i}].resource.identifier",
                               f"The Patient must carry the participant's member number "
                               f"({MEMBER_NUMBER}).")
            resource = {**resource, "identifier": [*(resource.get("identifier") or ()), {
                "system": sy.HEALTH_ID, "value": health_id or _UNLINKED}]}
            entry = {**entry, "resource": resource}
        kept.append(entry)
    bundle["entry"] = kept
    summary = parse_bundle(bundle, health_id=health_id or _UNLINKED,
                           feed=f"clinic:{clinic_code}", received_at=received_at)
    if len(summary.occ_exams) != 1:
        raise _problem("Bundle.entry", f"The Bundle must hold exactly one occupational exam "
                                       f"Encounter (found {len(summary.occ_exams)}).")
    others = [x for x in (summary.allergies, summary.conditions, summary.medications,
                          summary.immunizations, summary.vitals_labs) if x]
    if others or summary.blood_group is not None:
        raise _problem("Bundle.entry", "An exam result holds the exam's Encounter and its "
                                       "Observations only.")
    exam = summary.occ_exams[0]
    if exam.exam_type != kind:
        raise _problem("Bundle.entry.resource.type",
                       f"The exam is {exam.exam_type!r}; this round's kind is {kind!r}.")
    if exam.health_class is None or exam.fitness is None:
        raise _problem("Bundle.entry", "The exam needs its health class and job fitness "
                                       "Observations.")
    return ExamFindings(exam.health_class, exam.fitness, exam.fitness_text, exam.hazards,
                        exam.findings, recommendations, exam.measurements,
                        date=(exam.date or "")[:10] or None)


def _part(bundle_uuid: str, name: str) -> tuple[str, dict[str, str]]:
    """A stable urn and identifier of one part of a result's Bundle."""
    value = f"{bundle_uuid}/{name}"
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, value)}", {"system": EXAM_RESULT, "value": value}


def _concept(code: s.Code, system_text: str = "") -> dict[str, Any]:
    coding: dict[str, str] = {"system": code.system, "code": code.code}
    if code.text:
        coding["display"] = code.text
    return {"coding": [coding], "text": code.text or system_text or code.code}


def _conditional(url: str, resource: dict[str, Any],
                 identifier: dict[str, str]) -> dict[str, Any]:
    kind = resource["resourceType"]
    return {"fullUrl": url, "resource": resource,
            "request": {"method": "POST", "url": kind,
                        "ifNoneExist": f"identifier={identifier['system']}|"
                                       f"{identifier['value']}"}}


def transaction(findings: ExamFindings, *, bundle_uuid: str, health_id: str, kind: str,
                clinic_code: str, clinic_name: str, now: datetime) -> dict[str, Any]:
    """The transaction Bundle that carries one result to the national health record: the
    Patient found by health ID (conditional create: never a second one), the Encounter, an
    Observation per health class, fitness, hazard and finding (and each measurement), and a
    DiagnosticReport with the recommendations; the same ids on every attempt."""
    patient_url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{bundle_uuid}/patient')}"
    subject = {"reference": patient_url}
    entries: list[dict[str, Any]] = [{
        "fullUrl": patient_url,
        "resource": {"resourceType": "Patient",
                     "identifier": [{"system": sy.HEALTH_ID, "value": health_id}]},
        "request": {"method": "POST", "url": "Patient",
                    "ifNoneExist": f"identifier={sy.HEALTH_ID}|{health_id}"}}]
    enc_url, enc_id = _part(bundle_uuid, "encounter")
    date = findings.date or now.date().isoformat()
    encounter = {
        "resourceType": "Encounter", "identifier": [enc_id], "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                  "code": "AMB", "display": "ambulatory"},
        "type": [{"coding": [{"system": sy.OCC_EXAM_TYPE, "code": kind}]}],
        "subject": subject, "period": {"start": date},
        "serviceProvider": {"identifier": {"system": sy.FACILITY, "value": clinic_code},
                            "display": clinic_name}}
    entries.append(_conditional(enc_url, encounter, enc_id))
    observations: list[str] = []

    def observation(name: str, code: str, value: dict[str, Any]) -> None:
        url, ident = _part(bundle_uuid, name)
        resource = {"resourceType": "Observation", "identifier": [ident], "status": "final",
                    "code": {"coding": [{"system": sy.OCC_OBSERVATION, "code": code}]},
                    "subject": subject, "encounter": {"reference": enc_url},
                    "effectiveDateTime": date, **value}
        entries.append(_conditional(url, resource, ident))
        observations.append(url)

    if findings.health_class:
        observation("health-class", sy.OCC_HEALTH_CLASS, {"valueCodeableConcept": {
            "coding": [{"system": sy.HEALTH_CLASS, "code": findings.health_class}]}})
    if findings.fitness:
        observation("job-fitness", sy.OCC_FITNESS, {"valueCodeableConcept": {
            "coding": [{"system": sy.JOB_FITNESS, "code": findings.fitness}],
            **({"text": findings.fitness_text} if findings.fitness_text else {})}})
    for n, hazard in enumerate(findings.hazards):
        observation(f"hazard-{n}", sy.OCC_HAZARD_CODE, {"valueCodeableConcept":
                                                        _concept(hazard)})
    for n, finding in enumerate(findings.findings):
        observation(f"finding-{n}", sy.OCC_FINDING, {"valueCodeableConcept":
                                                     _concept(finding)})
    for n, m in enumerate(findings.measurements):
        url, ident = _part(bundle_uuid, f"measurement-{n}")
        resource: dict[str, Any] = {
            "resourceType": "Observation", "identifier": [ident], "status": "final",
            "code": {"coding": [{"system": c.system, "code": c.code} for c in m.codes],
                     "text": m.text or (m.codes[0].text if m.codes else "")},
            "subject": subject, "encounter": {"reference": enc_url},
            "effectiveDateTime": date}
        if m.value is not None:
            resource["valueQuantity"] = {"value": m.value, "unit": m.unit}
        elif m.value_text:
            resource["valueString"] = m.value_text
        entries.append(_conditional(url, resource, ident))
        observations.append(url)
    report_url, report_id = _part(bundle_uuid, "report")
    report = {"resourceType": "DiagnosticReport", "identifier": [report_id],
              "status": "final",
              "code": {"coding": [{"system": sy.OCC_EXAM_TYPE, "code": kind}]},
              "subject": subject, "encounter": {"reference": enc_url},
              "effectiveDateTime": date, "issued": now.isoformat(),
              "result": [{"reference": u} for u in observations]}
    if findings.recommendations:
        report["conclusion"] = findings.recommendations
    entries.append(_conditional(report_url, report, report_id))
    return {"resourceType": "Bundle", "type": "transaction",
            "identifier": {"system": EXAM_RESULT, "value": bundle_uuid},
            "timestamp": now.isoformat(), "entry": entries}
