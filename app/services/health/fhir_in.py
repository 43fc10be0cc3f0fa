"""FHIR R4 intake: validate an IPS-shaped Bundle with fhir.resources and map it to a
``HealthSummary`` (rules in docs/fhir-mapping.md). An invalid Bundle is rejected as a whole; a
valid resource of a type the summary has no place for is validated and left out, with a note."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.relatedperson import RelatedPerson
from pydantic import ValidationError

from app.services.errors import FhirInvalid
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.sensitive import Kind, Verdict, classify, combine, system_kind

#: The resource types the summary maps (or uses to resolve references), with their
#: fhir.resources R4 models. Any other resource type of FHIR R4 is validated by its own model and
#: left out with a note (an IPS document carries PractitionerRole, Device, DocumentReference,
#: Procedure, Flag ... that the summary has no section for).
MODELS: Mapping[str, Any] = {
    "Patient": Patient, "AllergyIntolerance": AllergyIntolerance, "Condition": Condition,
    "MedicationStatement": MedicationStatement, "Medication": Medication,
    "Immunization": Immunization, "Observation": Observation, "Encounter": Encounter,
    "Organization": Organization, "Practitioner": Practitioner,
    "RelatedPerson": RelatedPerson, "Composition": Composition,
}
#: The element that names the patient, per resource type.
SUBJECT = {"AllergyIntolerance": "patient", "Condition": "subject",
           "MedicationStatement": "subject", "Immunization": "patient",
           "Observation": "subject", "Encounter": "subject", "RelatedPerson": "patient",
           "Composition": "subject"}
#: Used only to resolve references (a source facility), never noted as left out.
RESOLVED_ONLY = frozenset({"Composition", "Organization", "Practitioner", "PractitionerRole",
                           "Medication", "Location"})
#: ``verificationStatus`` / ``status`` of a retracted record: never kept (noted).
ENTERED_IN_ERROR = "entered-in-error"
#: Condition severity codes that make a condition critical (emergency core): SNOMED CT Severe,
#: Life threatening severity and Fatal; LOINC answer Severe.
SEVERE_CODES = frozenset({(sy.SNOMED, sy.SEVERE), (sy.SNOMED, "442452003"),
                          (sy.SNOMED, "399166001"), (sy.LOINC, "LA6751-7")})
#: Clinical statuses that an abated condition may have (R4 invariant con-4).
ABATED_STATUSES = ("inactive", "resolved", "remission")
BUNDLE_TYPES = ("document", "collection")
MAX_ENTRIES = 200
MAX_BYTES = 1_000_000
_OCC_CODES = (sy.OCC_HEALTH_CLASS, sy.OCC_FITNESS, sy.OCC_HAZARD_CODE, sy.OCC_FINDING)


class _Problems:
    """The problems found so far, each with its FHIR path and JSON pointer."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: tuple[str | int, ...], detail: str) -> None:
        fhir = "Bundle" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        pointer = "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)
        self.items.append({"location": "fhir", "field": fhir, "pointer": pointer,
                           "detail": detail})

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise FhirInvalid(f"The FHIR Bundle is invalid ({n} problem{'s' * (n > 1)}).",
                              errors=self.items)


@dataclass(frozen=True)
class Intake:
    """What the intake made of a Bundle: the summary, and a note for each kind of resource left
    out (``"Bundle.entry[7]: PractitionerRole not kept (no summary section)"`` grouped by type,
    or an entered-in-error record)."""

    summary: s.HealthSummary
    notes: tuple[str, ...] = ()


def parse_bundle(
    raw: bytes | str | Mapping[str, Any],
    *,
    health_id: str,
    feed: str,
    received_at: datetime,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> s.HealthSummary:
    """Validate an IPS-shaped FHIR R4 Bundle for the patient ``health_id`` and map it
    (``read_bundle``'s summary, without its notes).

    Raises:
        FhirInvalid: as ``read_bundle``.
    """
    return read_bundle(raw, health_id=health_id, feed=feed, received_at=received_at,
                       max_entries=max_entries, max_bytes=max_bytes).summary


def read_bundle(
    raw: bytes | str | Mapping[str, Any],
    *,
    health_id: str,
    feed: str,
    received_at: datetime,
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_BYTES,
) -> Intake:
    """Validate an IPS-shaped FHIR R4 Bundle for the patient ``health_id`` and map it, with a
    note on what was left out.

    ``max_bytes`` applies to raw input (bytes or str); ``max_entries`` always.

    Raises:
        FhirInvalid: the Bundle is not valid FHIR R4, breaks a rule of the mapping (resource
            types, one Patient with this health ID, every resource about that Patient), or
            exceeds a size bound; ``errors`` lists every problem found with its FHIR path.
    """
    problems = _Problems()
    data = _load(raw, max_bytes, problems)
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        problems.add(("entry",), "entry must be an array.")
        problems.raise_if_any()
    if len(entries) > max_entries:
        problems.add(("entry",), f"{len(entries)} entries; at most {max_entries} are accepted.")
        problems.raise_if_any()
    shell = {k: v for k, v in data.items() if k != "entry"}
    if entries:
        # the resources are validated one by one below, by their own model: faster than the
        # Bundle's dynamic lookup, and it lets a disallowed type be named instead of parsed
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"}
                          if isinstance(e, dict) else e for e in entries]
    bundle = _validate(Bundle, shell, (), problems)
    resources: list[tuple[int, str | None, Any]] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            problems.add(("entry", i, "resource"), "Every entry must hold a resource.")
            continue
        kind = resource.get("resourceType")
        model = _model(kind)
        if model is None:
            problems.add(("entry", i, "resource", "resourceType"),
                         f"{kind!r} is not a FHIR R4 resource type.")
            continue
        parsed = _validate(model, resource, ("entry", i, "resource"), problems)
        if parsed is not None:
            resources.append((i, entry.get("fullUrl"), parsed))
    problems.raise_if_any()
    assert bundle is not None
    return _Mapper(bundle, resources, problems, health_id, feed, received_at, raw).run()


def _model(kind: Any) -> Any:
    """The fhir.resources model of a FHIR R4 resource type name, or None."""
    if not isinstance(kind, str):
        return None
    if kind in MODELS:
        return MODELS[kind]
    if not kind.isalpha() or not kind[:1].isupper() or kind == "Bundle":
        return None
    try:
        return get_fhir_model_class(kind)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def _load(raw: bytes | str | Mapping[str, Any], max_bytes: int,
          problems: _Problems) -> dict[str, Any]:
    if isinstance(raw, (bytes, str)):
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
        if size > max_bytes:
            problems.add((), f"The Bundle is {size} bytes; at most {max_bytes} are accepted.")
            problems.raise_if_any()
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            problems.add((), f"Not JSON: {e}.")
            problems.raise_if_any()
    else:
        data = raw
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, Mapping) else type(data).__name__
        problems.add(("resourceType",), f"Expected a FHIR Bundle, got {kind!r}.")
        problems.raise_if_any()
    return dict(data)


def _validate(model: Any, data: Any, at: tuple[str | int, ...], problems: _Problems) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        for error in e.errors(include_url=False):
            loc = tuple(p for p in error["loc"] if p != "__root__")
            problems.add((*at, *loc), error["msg"])
        return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _concept(concept: Any) -> s.Concept:
    codes, text = _codes(concept)
    return s.Concept(codes, text)


def _coded(concept: Any) -> str:
    """The first code of a CodeableConcept (a status), or empty."""
    if concept is None:
        return ""
    return next((c.code for c in concept.coding or () if c.code), "") or ""


def _quantity(q: Any) -> s.Quantity | None:
    if q is None or q.value is None:
        return None
    return s.Quantity(float(q.value), q.unit or "", q.system or "", q.code or "",
                      q.comparator or "")


def _datetime_or_text(*values: Any) -> str | None:
    """The first given of dateTime / Period (its start) / string values, as written."""
    for value in values:
        if value is None:
            continue
        if hasattr(value, "start") and hasattr(value, "end"):  # a Period
            value = value.start or value.end
            if value is None:
                continue
        return _iso(value)
    return None


def _codes(concept: Any) -> tuple[tuple[s.Code, ...], str]:
    """Every coding of a CodeableConcept (unknown ones too) and its text."""
    if concept is None:
        return (), ""
    codes = tuple(s.Code(c.system or "", c.code or "", c.display or "")
                  for c in concept.coding or () if c.code)
    text = concept.text or next((c.text for c in codes if c.text), "")
    return codes, text


@dataclass
class _Mapper:
    """Checks the Bundle's rules and maps its resources (one use)."""

    bundle: Any
    resources: list[tuple[int, str | None, Any]]
    problems: _Problems
    health_id: str
    feed: str
    received_at: datetime
    raw: Any
    refs: dict[str, Any] = field(default_factory=dict)
    patient_refs: set[str] = field(default_factory=set)
    default_source: s.Facility = field(default_factory=s.Facility)
    provenance: s.Provenance = field(init=False)
    left_out: Counter[str] = field(default_factory=Counter)
    retracted: list[int] = field(default_factory=list)

    def run(self) -> Intake:
        if self.bundle.type not in BUNDLE_TYPES:
            self.problems.add(("type",), f"Bundle type {self.bundle.type!r}; expected one of "
                                         f"{', '.join(BUNDLE_TYPES)}.")
        if self.bundle.type == "document" and (
                not self.resources or self.resources[0][0] != 0
                or self.resources[0][2].get_resource_type() != "Composition"):
            self.problems.add(("entry", 0, "resource"),
                              "A document Bundle starts with its Composition.")
        for _, full_url, res in self.resources:
            if full_url:
                self.refs[full_url] = res
            if res.id:
                self.refs[f"{res.get_resource_type()}/{res.id}"] = res
        patient = self._patient()
        self._check_subjects()
        self.problems.raise_if_any()
        assert patient is not None
        self.provenance = s.Provenance(self.feed, self._bundle_id(), self.received_at)
        composition = next((r for _, _, r in self.resources
                            if r.get_resource_type() == "Composition"), None)
        if composition is not None:
            self.default_source = self._facility(composition.custodian, *composition.author)
        summary = self._map(patient)
        notes = [f"{n} {kind} resource{'s' * (n > 1)} not kept: the summary has no section "
                 f"for {kind}." for kind, n in sorted(self.left_out.items())]
        notes.extend(f"Bundle.entry[{i}] not kept: entered in error." for i in self.retracted)
        return Intake(summary, tuple(notes))

    def _bundle_id(self) -> str:
        if self.bundle.identifier is not None and self.bundle.identifier.value:
            return str(self.bundle.identifier.value)
        if self.bundle.id:
            return str(self.bundle.id)
        text = self.raw if isinstance(self.raw, (bytes, str)) else json.dumps(
            self.raw, sort_keys=True)
        body = text.encode("utf-8") if isinstance(text, str) else text
        return "sha256:" + hashlib.sha256(body).hexdigest()[:32]

    def _patient(self) -> Any:
        patients = [(i, u, r) for i, u, r in self.resources if r.get_resource_type() == "Patient"]
        if len(patients) != 1:
            self.problems.add(("entry",), f"The Bundle must hold exactly one Patient "
                                          f"(found {len(patients)}).")
            return None
        i, full_url, patient = patients[0]
        ids = [x.value for x in patient.identifier or () if x.system == sy.HEALTH_ID]
        if self.health_id not in ids:
            self.problems.add(("entry", i, "resource", "identifier"),
                              f"The Patient has no identifier {sy.HEALTH_ID}|{self.health_id}; "
                              "this Bundle is about another patient.")
        self.patient_refs = {f"Patient/{patient.id}"} if patient.id else set()
        if full_url:
            self.patient_refs.add(full_url)
        return patient

    def _check_subjects(self) -> None:
        for i, _, res in self.resources:
            kind = res.get_resource_type()
            element = SUBJECT.get(kind)
            if element is None:
                continue
            ref = getattr(res, element)
            target = ref.reference if ref is not None else None
            if not self._is_patient(target):
                self.problems.add(("entry", i, "resource", element),
                                  f"{kind} must refer to the Bundle's Patient "
                                  f"(found {target!r}).")

    def _is_patient(self, reference: str | None) -> bool:
        if not reference or not self.patient_refs:
            return False
        # an absolute reference ending in Patient/{id} names the same Patient
        return reference in self.patient_refs or any(
            reference.endswith("/" + p) for p in self.patient_refs if p.startswith("Patient/"))

    def _facility(self, *refs: Any) -> s.Facility:
        """The facility named by the first usable reference, else the Bundle's default."""
        for ref in refs:
            if ref is None:
                continue
            target: Any = self.refs.get(ref.reference or "")
            kind = target.get_resource_type() if target is not None else None
            if kind == "Organization":
                code = next((x.value for x in target.identifier or ()
                             if x.system == sy.FACILITY), "")
                return s.Facility(code or "", target.name or "")
            if kind == "Encounter" and target.serviceProvider is not None:
                return self._facility(target.serviceProvider)
            if kind == "PractitionerRole" and target.organization is not None:
                return self._facility(target.organization)
            if kind is None and (ref.display or ref.identifier is not None):
                code = ref.identifier.value if ref.identifier is not None else ""
                return s.Facility(code or "", ref.display or "")
        return self.default_source

    def _entry(self, i: int, res: Any, concept: Any, element: str, date: Any,
               *sources: Any, kind: Kind, value_codes: tuple[s.Code, ...] = (),
               parts: Iterable[Verdict] = ()) -> dict[str, Any]:
        codes, text = _codes(concept)
        if concept is None or (not text and not any(
                c.system in sy.KNOWN_SYSTEMS or system_kind(c.system) for c in codes)):
            self.problems.add(("entry", i, "resource", element),
                              "No code in a system the mapping knows and no text: the entry "
                              "cannot be understood (docs/fhir-mapping.md lists the systems).")
        security = [(x.system or "", x.code or "") for x in
                    (res.meta.security or () if res.meta is not None else ())]
        verdict = combine((classify(kind, ((c.system, c.code) for c in codes), security,
                                    qualifying=((c.system, c.code) for c in value_codes)),
                           *parts))
        notes = [n.text for n in getattr(res, "note", None) or () if n.text]
        return {"id": res.id or f"entry-{i}", "codes": codes, "text": text,
                "source": self._facility(*sources), "date": _iso(date),
                "provenance": self.provenance, "sensitive": verdict.sensitive,
                "sensitivity": verdict.category, "note": "\n\n".join(notes)}

    def _map(self, patient: Any) -> s.HealthSummary:
        out: dict[str, list[Any]] = {k: [] for k in (
            "allergies", "conditions", "medications", "immunizations", "vitals", "contacts")}
        blood: s.Measurement | None = None
        exams: dict[str, dict[str, Any]] = {}
        occ_obs: list[tuple[int, Any]] = []
        for i, _, res in self.resources:
            if res.get_resource_type() == "Encounter" and any(
                    c.system == sy.OCC_EXAM_TYPE for t in res.type or () for c in t.coding or ()):
                exams[f"Encounter/{res.id}"] = {"i": i, "res": res, "obs": []}
        for i, _, res in self.resources:
            kind = res.get_resource_type()
            if kind not in MODELS:
                if kind not in RESOLVED_ONLY:
                    self.left_out[kind] += 1
                continue
            if _retracted(res):
                self.retracted.append(i)
                continue
            if kind == "AllergyIntolerance":
                out["allergies"].append(self._allergy(i, res))
            elif kind == "Condition":
                out["conditions"].append(self._condition(i, res))
            elif kind == "MedicationStatement":
                out["medications"].append(self._medication(i, res))
            elif kind == "Immunization":
                out["immunizations"].append(self._immunization(i, res))
            elif kind == "RelatedPerson":
                out["contacts"].append(self._related(i, res))
            elif kind == "Observation":
                encounter = self._exam_key(res, exams)
                if encounter is not None:
                    exams[encounter]["obs"].append((i, res))
                elif any(c.system == sy.OCC_OBSERVATION for c in res.code.coding or ()):
                    occ_obs.append((i, res))
                else:
                    m = self._measurement(i, res)
                    if m.code(sy.LOINC) in sy.BLOOD_GROUP_LOINC:
                        blood = m
                    else:
                        out["vitals"].append(m)
        for i, _ in occ_obs:
            self.problems.add(("entry", i, "resource", "encounter"),
                              "An occupational-exam Observation must refer to the exam's "
                              "Encounter (type in " + sy.OCC_EXAM_TYPE + ").")
        occ = tuple(self._exam(x["i"], x["res"], x["obs"]) for x in exams.values())
        contacts = [self._contact(c, n) for n, c in enumerate(patient.contact or ())]
        self.problems.raise_if_any()
        name = patient.name[0] if patient.name else None
        return s.HealthSummary(
            patient=s.Patient(self.health_id, _human_name(name), _iso(patient.birthDate),
                              patient.gender),
            blood_group=blood,
            emergency_contacts=(*contacts, *out["contacts"]),
            allergies=tuple(out["allergies"]), conditions=tuple(out["conditions"]),
            medications=tuple(out["medications"]), immunizations=tuple(out["immunizations"]),
            vitals_labs=tuple(out["vitals"]), occ_exams=occ,
        )

    def _exam_key(self, res: Any, exams: Mapping[str, Any]) -> str | None:
        ref = res.encounter.reference if res.encounter is not None else None
        if ref is None:
            return None
        target = self.refs.get(ref)
        key = f"Encounter/{target.id}" if target is not None else ref
        return key if key in exams else None

    def _allergy(self, i: int, res: Any) -> s.Allergy:
        manifestations = [_concept(m) for r in res.reaction or () for m in r.manifestation or ()]
        reactions = [m.text or (m.codes[0].text if m.codes else "") for m in manifestations]
        severities = [r.severity for r in res.reaction or () if r.severity]
        worst = max(severities, key=("mild", "moderate", "severe").index, default="")
        onset = _datetime_or_text(res.onsetDateTime, res.onsetPeriod, res.onsetString)
        entry = self._entry(i, res, res.code, "code", res.recordedDate or res.onsetDateTime,
                            res.recorder, res.asserter, res.encounter, kind="allergy",
                            parts=(s.qualifier_verdict(manifestations),))
        return s.Allergy(**entry, reaction="; ".join(x for x in reactions if x),
                         criticality=self._criticality(i, res.criticality),
                         clinical_status=_coded(res.clinicalStatus),
                         verification_status=_coded(res.verificationStatus),
                         type=res.type or "", categories=tuple(res.category or ()),
                         onset=onset, manifestations=tuple(manifestations),
                         reaction_severity=worst)

    def _criticality(self, i: int, value: str | None) -> str | None:
        # fhir.resources checks a code's form, not its value set
        if value is not None and value not in s.CRITICALITIES:
            self.problems.add(("entry", i, "resource", "criticality"),
                              f"criticality must be one of {', '.join(s.CRITICALITIES)}.")
            return None
        return value

    def _condition(self, i: int, res: Any) -> s.Condition:
        status = _coded(res.clinicalStatus)
        severity = _concept(res.severity)
        sites = tuple(_concept(c) for c in res.bodySite or ())
        severe = any((c.system, c.code) in SEVERE_CODES for c in severity.codes)
        onset = _datetime_or_text(res.onsetDateTime, res.onsetPeriod, res.onsetString)
        abatement = _datetime_or_text(res.abatementDateTime, res.abatementPeriod,
                                      res.abatementString)
        if abatement is not None and status and status not in ABATED_STATUSES:
            self.problems.add(("entry", i, "resource", "clinicalStatus"),
                              f"An abated condition's clinicalStatus is one of "
                              f"{', '.join(ABATED_STATUSES)} (R4 con-4), not {status!r}.")
        entry = self._entry(i, res, res.code, "code", res.recordedDate or onset,
                            res.asserter, res.recorder, res.encounter, kind="condition",
                            parts=(s.qualifier_verdict((severity, *sites)),))
        return s.Condition(**entry, clinical_status=status, critical=severe,
                           verification_status=_coded(res.verificationStatus),
                           severity=severity, onset=onset, abatement=abatement,
                           body_sites=sites)

    def _medication(self, i: int, res: Any) -> s.Medication:
        concept, element = res.medicationCodeableConcept, "medicationCodeableConcept"
        if concept is None and res.medicationReference is not None:
            target = self.refs.get(res.medicationReference.reference or "")
            concept = target.code if target is not None else None
            element = "medicationReference"
        period = res.effectivePeriod.start if res.effectivePeriod is not None else None
        dosages = tuple(_dosage(d) for d in res.dosage or ())
        dose = "; ".join(x for x in (d.label() for d in dosages) if x)
        entry = self._entry(i, res, concept, element,
                            res.effectiveDateTime or period or res.dateAsserted,
                            res.informationSource, res.context, kind="medication",
                            parts=(s.qualifier_verdict(c for d in dosages
                                                        for c in d.concepts()),))
        end = res.effectivePeriod.end if res.effectivePeriod is not None else None
        return s.Medication(**entry, dose=dose, status=res.status or "", dosages=dosages,
                            end=_iso(end))

    def _immunization(self, i: int, res: Any) -> s.Immunization:
        dose = None
        for p in res.protocolApplied or ():
            dose = str(p.doseNumberPositiveInt or p.doseNumberString or "") or None
        performers = [p.actor for p in res.performer or ()]
        site, route = _concept(res.site), _concept(res.route)
        entry = self._entry(i, res, res.vaccineCode, "vaccineCode",
                            res.occurrenceDateTime or res.occurrenceString,
                            *performers, res.encounter, kind="immunization",
                            parts=(s.qualifier_verdict((site, route)),))
        return s.Immunization(**entry, dose_number=dose, status=res.status or "completed",
                              lot_number=res.lotNumber or "", site=site, route=route,
                              dose_quantity=_quantity(res.doseQuantity))

    def _measurement(self, i: int, res: Any) -> s.Measurement:
        category = next((c.code for cat in res.category or () for c in cat.coding or ()
                         if c.system == sy.OBSERVATION_CATEGORY and c.code), "laboratory")
        quantity = _quantity(res.valueQuantity)
        if quantity is None and res.valueInteger is not None:
            quantity = s.Quantity(float(res.valueInteger))
        value_codes, value_text = _codes(res.valueCodeableConcept)
        if res.valueString:
            value_text = res.valueString
        elif res.valueBoolean is not None:
            value_text = "true" if res.valueBoolean else "false"
        elif res.valueDateTime is not None or res.valueTime is not None:
            value_text = _iso(res.valueDateTime or res.valueTime) or ""
        low = _quantity(res.valueRange.low) if res.valueRange is not None else None
        high = _quantity(res.valueRange.high) if res.valueRange is not None else None
        absent = _concept(res.dataAbsentReason)
        interpretation = tuple(_concept(c) for c in res.interpretation or ())
        ranges = tuple(s.ReferenceRange(_quantity(r.low), _quantity(r.high), r.text or "")
                       for r in res.referenceRange or ())
        components = tuple(_component(c) for c in res.component or ())
        members = tuple(m for m in (self._member(r) for r in res.hasMember or ()) if m)
        parts = [classify("result", ((c.system, c.code) for c in x.codes),
                          qualifying=((c.system, c.code) for c in x.value_codes))
                 for x in components]
        parts.append(s.qualifier_verdict((absent, *interpretation)))
        entry = self._entry(i, res, res.code, "code",
                            res.effectiveDateTime or (res.effectivePeriod.start
                                                      if res.effectivePeriod else None)
                            or res.issued,
                            *(res.performer or ()), res.encounter,
                            kind="result", value_codes=value_codes, parts=parts)
        return s.Measurement(**entry, category=category or "laboratory",
                             value=quantity.value if quantity else None,
                             unit=(quantity.unit or quantity.code) if quantity else "",
                             unit_system=quantity.system if quantity else "",
                             unit_code=quantity.code if quantity else "",
                             comparator=quantity.comparator if quantity else "",
                             value_codes=value_codes, value_text=value_text,
                             components=components, members=members, value_low=low,
                             value_high=high, absent_reason=absent,
                             interpretation=interpretation, reference_ranges=ranges)

    def _member(self, ref: Any) -> str | None:
        """The entry id of a panel's member (an Observation in the Bundle), or None."""
        target = self.refs.get(ref.reference or "")
        if target is None or target.get_resource_type() != "Observation":
            return None
        if target.id:
            return str(target.id)
        return next((f"entry-{i}" for i, _, r in self.resources if r is target), None)

    def _exam(self, i: int, res: Any, observations: list[tuple[int, Any]]) -> s.OccExam:
        exam_type = next(c.code for t in res.type for c in t.coding or ()
                         if c.system == sy.OCC_EXAM_TYPE)
        if exam_type not in s.OCC_EXAM_TYPES:
            self.problems.add(("entry", i, "resource", "type"),
                              f"Unknown occupational exam type {exam_type!r}; expected one of "
                              f"{', '.join(s.OCC_EXAM_TYPES)}.")
        health_class = fitness = None
        fitness_text = ""
        hazards: list[s.Code] = []
        findings: list[s.Code] = []
        measurements: list[s.Measurement] = []
        verdicts: list[Verdict] = []
        for j, obs in observations:
            occ = next((c.code for c in obs.code.coding or ()
                        if c.system == sy.OCC_OBSERVATION and c.code in _OCC_CODES), None)
            value_codes, value_text = _codes(obs.valueCodeableConcept)
            if occ == sy.OCC_HEALTH_CLASS:
                health_class = next((c.code for c in value_codes
                                     if c.system == sy.HEALTH_CLASS), None)
                if health_class not in s.HEALTH_CLASSES:
                    self.problems.add(("entry", j, "resource", "valueCodeableConcept"),
                                      f"The health class must be one of I-V in "
                                      f"{sy.HEALTH_CLASS}.")
                    health_class = None
            elif occ == sy.OCC_FITNESS:
                fitness = next((c.code for c in value_codes if c.system == sy.JOB_FITNESS), None)
                if fitness not in s.FITNESS:
                    self.problems.add(("entry", j, "resource", "valueCodeableConcept"),
                                      f"Fitness must be one of {', '.join(s.FITNESS)} in "
                                      f"{sy.JOB_FITNESS}.")
                    fitness = None
                fitness_text = value_text or obs.valueString or ""
            elif occ in (sy.OCC_HAZARD_CODE, sy.OCC_FINDING):
                entry = self._entry(j, obs, obs.valueCodeableConcept, "valueCodeableConcept",
                                    None, kind="finding")
                # one code per hazard or finding, named by the concept's own text
                first = entry["codes"][0] if entry["codes"] else s.Code("", "")
                code = s.Code(first.system, first.code, entry["text"] or first.text)
                (hazards if occ == sy.OCC_HAZARD_CODE else findings).append(code)
                verdicts.append(Verdict(entry["sensitivity"]))
            else:
                measurements.append(self._measurement(j, obs))
        date = res.period.start if res.period is not None else None
        entry = self._entry(i, res, res.type[0], "type", date, res.serviceProvider, kind="exam")
        verdict = combine((Verdict(entry["sensitivity"]), *verdicts))
        return s.OccExam(**{**entry, "sensitive": verdict.sensitive,
                            "sensitivity": verdict.category},
                         exam_type=exam_type, health_class=health_class, fitness=fitness,
                         fitness_text=fitness_text, hazards=tuple(hazards),
                         findings=tuple(findings), measurements=tuple(measurements))

    def _contact(self, contact: Any, n: int) -> s.EmergencyContact:
        relationship, codes = _relationship(contact.relationship)
        phone = next((t.value for t in contact.telecom or () if t.system == "phone"), "")
        return s.EmergencyContact(f"contact-{n}", _human_name(contact.name), relationship,
                                  phone or "", self.provenance, codes)

    def _related(self, i: int, res: Any) -> s.EmergencyContact:
        relationship, codes = _relationship(res.relationship)
        phone = next((t.value for t in res.telecom or () if t.system == "phone"), "")
        name = res.name[0] if res.name else None
        return s.EmergencyContact(res.id or f"entry-{i}", _human_name(name), relationship,
                                  phone or "", self.provenance, codes)


def _relationship(concepts: Any) -> tuple[str, tuple[s.Code, ...]]:
    """A contact's relationship: the text (the first concept's text, else the first display,
    else the first code), and every coding of every concept."""
    given = [c.text for c in concepts or () if c.text]
    mapped = [_concept(c) for c in concepts or ()]
    codes = tuple(c for concept in mapped for c in concept.codes)
    text = next(iter(given), "") or next((c.text or c.code for c in codes), "")
    return text, codes


def _retracted(res: Any) -> bool:
    """Whether the record was entered in error (its content was withdrawn)."""
    if _coded(getattr(res, "verificationStatus", None)) == ENTERED_IN_ERROR:
        return True
    return getattr(res, "status", None) == ENTERED_IN_ERROR


def _dosage(d: Any) -> s.Dosage:
    repeat = d.timing.repeat if d.timing is not None else None
    dose = rate = low = high = None
    for dr in d.doseAndRate or ():
        dose = dose or _quantity(dr.doseQuantity)
        if dr.doseRange is not None:
            low, high = _quantity(dr.doseRange.low), _quantity(dr.doseRange.high)
        rate = rate or _quantity(dr.rateQuantity)
    return s.Dosage(
        text=d.text or "", sequence=d.sequence,
        count=repeat.count if repeat is not None else None,
        frequency=repeat.frequency if repeat is not None else None,
        period=float(repeat.period) if repeat is not None and repeat.period is not None
        else None,
        period_unit=(repeat.periodUnit or "") if repeat is not None else "",
        timing=_concept(d.timing.code if d.timing is not None else None),
        as_needed=bool(d.asNeededBoolean), route=_concept(d.route), site=_concept(d.site),
        method=_concept(d.method), dose=dose, dose_low=low, dose_high=high, rate=rate)


def _component(c: Any) -> s.Component:
    codes, text = _codes(c.code)
    value_codes, value_text = _codes(c.valueCodeableConcept)
    return s.Component(codes, text, _quantity(c.valueQuantity), value_codes,
                       c.valueString or value_text)


def _human_name(name: Any) -> str:
    if name is None:
        return ""
    if name.text:
        return str(name.text)
    # Vietnamese order: family name first
    return " ".join([name.family or "", *(name.given or ())]).strip()
