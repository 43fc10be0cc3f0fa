"""The health-summary document: its sections, frozen entry dataclasses and ``HealthSummary``.

The document (``to_document``) is the contract with the encrypted store: a JSON-safe dict
``{"version": 2, "health_id", "patient", "sections": {SECTION: ...}}``. Every entry carries its
codes with their text, ``source`` (facility), ``date`` (FHIR date or dateTime, as written),
``provenance`` (feed, bundle, received_at), ``sensitive`` (released only under the member's
``sensitive`` consent) and ``sensitivity`` (why: a protected category, ``restricted`` or
``unclassified``; null when positively not sensitive). Reading a document classifies every entry
again with today's tables (``app.services.health.sensitive``) and keeps it sensitive if it was,
so a document stored under older, narrower tables never releases more than the tables allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from app.services.health.sensitive import Kind, Verdict, classify, combine

#: The sections of design §2, in display order; ``sensitive`` is a label on entries, not here.
SECTIONS = ("emergency-core", "allergies", "conditions", "medications", "immunizations",
            "vitals-labs", "occ-exam-summary", "occ-exam-detail")

#: Health classes of Decision 1613/BYT-QĐ (loại sức khỏe I rất khỏe … V rất yếu).
HEALTH_CLASSES = ("I", "II", "III", "IV", "V")
#: Kinds of occupational exam (khám sức khỏe định kỳ, trước khi bố trí việc làm, ...).
OCC_EXAM_TYPES = ("periodic", "pre-employment", "return-to-work", "occupational-disease",
                  "exit")
#: Fitness for the job after an occupational exam.
FITNESS = ("fit", "fit-with-restrictions", "temporarily-unfit", "unfit")
CRITICALITIES = ("low", "high", "unable-to-assess")
#: 2: every entry carries ``sensitivity`` (classified fail-closed); 1 (before it) is still read,
#: its entries classified again.
DOCUMENT_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Code:
    """One coding: its system URI, code and the text it was given (kept even if unknown)."""

    system: str
    code: str
    text: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"system": self.system, "code": self.code, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Code:
        """From the JSON form."""
        return cls(str(d["system"]), str(d["code"]), str(d.get("text", "")))


@dataclass(frozen=True)
class Provenance:
    """Where an entry came from: which feed, which bundle, and when it was received."""

    feed: str
    bundle: str
    received_at: datetime

    def __post_init__(self) -> None:
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"feed": self.feed, "bundle": self.bundle,
                "received_at": self.received_at.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        """From the JSON form."""
        return cls(str(d["feed"]), str(d["bundle"]), datetime.fromisoformat(d["received_at"]))


@dataclass(frozen=True)
class Facility:
    """The source of an entry: a facility code (5 digits in health-insurance data) and name."""

    code: str = ""
    name: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"code": self.code, "name": self.name}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Facility:
        """From the JSON form."""
        return cls(str(d.get("code", "")), str(d.get("name", "")))


def check_sections(sections: Iterable[str]) -> frozenset[str]:
    """The section ids as a set.

    Raises:
        ValueError: one is not in ``SECTIONS``.
    """
    wanted = frozenset(sections)
    unknown = wanted - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections: {sorted(unknown)}")
    return wanted


def _codes(items: Iterable[Mapping[str, Any]]) -> tuple[Code, ...]:
    return tuple(Code.from_dict(c) for c in items)


@dataclass(frozen=True)
class Entry:
    """What every entry has: an id (the feed's resource id), its codes and text, source,
    date, provenance, the ``sensitive`` label and its reason ``sensitivity``."""

    #: The entry's kind for the sensitivity classifier.
    KIND: ClassVar[Kind] = "condition"

    id: str
    codes: tuple[Code, ...]
    text: str
    source: Facility
    date: str | None
    provenance: Provenance
    sensitive: bool = False
    sensitivity: str | None = None

    def code(self, system: str) -> str | None:
        """The entry's code in ``system``, if it has one."""
        return next((c.code for c in self.codes if c.system == system), None)

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "codes": [c.to_dict() for c in self.codes], "text": self.text,
                "source": self.source.to_dict(), "date": self.date,
                "provenance": self.provenance.to_dict(), "sensitive": self.sensitive,
                "sensitivity": self.sensitivity}

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return self._base()

    @classmethod
    def _verdict(cls, d: Mapping[str, Any]) -> Verdict:
        """Today's verdict on the stored entry ``d`` (its codes; a result's value codes too)."""
        codes = (*d.get("codes", ()), *d.get("value_codes", ()))
        return classify(cls.KIND, ((str(c.get("system", "")), str(c.get("code", "")))
                                   for c in codes))

    @classmethod
    def _base_args(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        stored = bool(d.get("sensitive", False))
        verdict = cls._verdict(d)
        reason = d.get("sensitivity") if stored else None
        return {"id": str(d["id"]), "codes": _codes(d.get("codes", ())),
                "text": str(d.get("text", "")), "source": Facility.from_dict(d.get("source", {})),
                "date": d.get("date"), "provenance": Provenance.from_dict(d["provenance"]),
                "sensitive": stored or verdict.sensitive,
                "sensitivity": reason or verdict.category}


@dataclass(frozen=True)
class Allergy(Entry):
    """An allergy or intolerance: the substance (codes), reaction and criticality."""

    KIND: ClassVar[Kind] = "allergy"

    reaction: str = ""
    criticality: str | None = None

    def __post_init__(self) -> None:
        if self.criticality is not None and self.criticality not in CRITICALITIES:
            raise ValueError(f"unknown criticality {self.criticality!r}")

    @property
    def critical(self) -> bool:
        """Whether it belongs in the emergency core."""
        return self.criticality == "high"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "reaction": self.reaction, "criticality": self.criticality}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Allergy:
        """From the JSON form."""
        return cls(**cls._base_args(d), reaction=str(d.get("reaction", "")),
                   criticality=d.get("criticality"))


@dataclass(frozen=True)
class Condition(Entry):
    """A condition (ICD-10): its clinical status and whether it is critical (severe)."""

    clinical_status: str = ""
    critical: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "clinical_status": self.clinical_status,
                "critical": self.critical}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Condition:
        """From the JSON form."""
        return cls(**cls._base_args(d), clinical_status=str(d.get("clinical_status", "")),
                   critical=bool(d.get("critical", False)))


@dataclass(frozen=True)
class Medication(Entry):
    """A medication (ATC, and the Vietnamese registration number where known) and its dose."""

    KIND: ClassVar[Kind] = "medication"

    dose: str = ""
    status: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "dose": self.dose, "status": self.status}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Medication:
        """From the JSON form."""
        return cls(**cls._base_args(d), dose=str(d.get("dose", "")),
                   status=str(d.get("status", "")))


@dataclass(frozen=True)
class Immunization(Entry):
    """An immunisation (CVX or ATC J07), its date (``date``) and dose number."""

    KIND: ClassVar[Kind] = "immunization"

    dose_number: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "dose_number": self.dose_number}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Immunization:
        """From the JSON form."""
        return cls(**cls._base_args(d), dose_number=d.get("dose_number"))


@dataclass(frozen=True)
class Measurement(Entry):
    """A vital sign or lab result (LOINC): a number with its unit, or a coded/text value."""

    KIND: ClassVar[Kind] = "result"

    category: str = "laboratory"
    value: float | None = None
    unit: str = ""
    value_codes: tuple[Code, ...] = ()
    value_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "category": self.category, "value": self.value,
                "unit": self.unit, "value_codes": [c.to_dict() for c in self.value_codes],
                "value_text": self.value_text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        """From the JSON form."""
        value = d.get("value")
        return cls(**cls._base_args(d), category=str(d.get("category", "laboratory")),
                   value=None if value is None else float(value), unit=str(d.get("unit", "")),
                   value_codes=_codes(d.get("value_codes", ())),
                   value_text=str(d.get("value_text", "")))


@dataclass(frozen=True)
class EmergencyContact:
    """Who to call: name, relationship (text) and phone, with provenance."""

    id: str
    name: str
    relationship: str
    phone: str
    provenance: Provenance

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "name": self.name, "relationship": self.relationship,
                "phone": self.phone, "provenance": self.provenance.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EmergencyContact:
        """From the JSON form."""
        return cls(str(d["id"]), str(d.get("name", "")), str(d.get("relationship", "")),
                   str(d.get("phone", "")), Provenance.from_dict(d["provenance"]))


@dataclass(frozen=True)
class OccExam(Entry):
    """An occupational exam. ``codes`` is its type; the summary part is type, date, facility
    (``source``), health class and fitness; the detail part is hazards, findings and
    measurements. It is sensitive when one of its findings or hazards is (each classified on its
    own, fail-closed); its measurements are classified one by one."""

    exam_type: str = "periodic"
    health_class: str | None = None
    fitness: str | None = None
    fitness_text: str = ""
    hazards: tuple[Code, ...] = ()
    findings: tuple[Code, ...] = ()
    measurements: tuple[Measurement, ...] = ()

    def __post_init__(self) -> None:
        if self.health_class is not None and self.health_class not in HEALTH_CLASSES:
            raise ValueError(f"unknown health class {self.health_class!r}")
        if self.fitness is not None and self.fitness not in FITNESS:
            raise ValueError(f"unknown fitness {self.fitness!r}")

    def summary_dict(self) -> dict[str, Any]:
        """JSON form of the ``occ-exam-summary`` part."""
        return {**self._base(), "exam_type": self.exam_type, "health_class": self.health_class,
                "fitness": self.fitness, "fitness_text": self.fitness_text}

    def detail_dict(self, *, sensitive: bool = True) -> dict[str, Any]:
        """JSON form of the ``occ-exam-detail`` part (keyed by the exam's id)."""
        return {**self._base(), "exam": self.id,
                "hazards": [c.to_dict() for c in self.hazards],
                "findings": [c.to_dict() for c in self.findings],
                "measurements": [m.to_dict() for m in self.measurements
                                 if sensitive or not m.sensitive]}

    @classmethod
    def _verdict(cls, d: Mapping[str, Any]) -> Verdict:
        return finding_verdict(_codes(d.get("findings", ())) + _codes(d.get("hazards", ())))

    @classmethod
    def from_dicts(cls, summary: Mapping[str, Any], detail: Mapping[str, Any] | None) -> OccExam:
        """From the two JSON parts (either may stand in for a missing other: a restricted
        document; the detail repeats the exam's identity, type, date and facility)."""
        detail = detail or {}
        return cls(**cls._base_args({**summary, **{k: detail[k] for k in ("findings", "hazards")
                                                    if k in detail}}),
                   exam_type=str(summary.get("exam_type", "periodic")),
                   health_class=summary.get("health_class"), fitness=summary.get("fitness"),
                   fitness_text=str(summary.get("fitness_text", "")),
                   hazards=_codes(detail.get("hazards", ())),
                   findings=_codes(detail.get("findings", ())),
                   measurements=tuple(Measurement.from_dict(m)
                                      for m in detail.get("measurements", ())))


def finding_verdict(codes: Iterable[Code]) -> Verdict:
    """The verdict on an exam from its findings and hazards, each classified on its own
    (a project hazard code is not sensitive; a finding with no decidable code is unclassified)."""
    return combine(classify("finding", ((c.system, c.code),)) for c in codes)


@dataclass(frozen=True)
class Patient:
    """The patient as the record names them: health ID (mã số BHXH), name, birth date, sex."""

    health_id: str
    name: str = ""
    birth_date: str | None = None
    gender: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"health_id": self.health_id, "name": self.name, "birth_date": self.birth_date,
                "gender": self.gender}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Patient:
        """From the JSON form."""
        return cls(str(d["health_id"]), str(d.get("name", "")), d.get("birth_date"),
                   d.get("gender"))


@dataclass(frozen=True)
class HealthSummary:
    """A member's health summary; the emergency core is derived from the other sections plus
    the blood group and emergency contacts."""

    patient: Patient
    blood_group: Measurement | None = None
    emergency_contacts: tuple[EmergencyContact, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    immunizations: tuple[Immunization, ...] = ()
    vitals_labs: tuple[Measurement, ...] = ()
    occ_exams: tuple[OccExam, ...] = field(default=())

    @property
    def health_id(self) -> str:
        """The patient's health ID (mã số BHXH)."""
        return self.patient.health_id

    @property
    def critical_allergies(self) -> tuple[Allergy, ...]:
        """Allergies of high criticality (in the emergency core)."""
        return tuple(a for a in self.allergies if a.critical)

    @property
    def critical_conditions(self) -> tuple[Condition, ...]:
        """Conditions marked critical (in the emergency core)."""
        return tuple(c for c in self.conditions if c.critical)

    def entries(self) -> tuple[Entry, ...]:
        """Every coded entry of every section (the occupational exams' measurements too)."""
        out: list[Entry] = [*((self.blood_group,) if self.blood_group else ()), *self.allergies,
                            *self.conditions, *self.medications, *self.immunizations,
                            *self.vitals_labs]
        for exam in self.occ_exams:
            out.extend((exam, *exam.measurements))
        return tuple(out)

    def to_document(self, sections: Iterable[str] = SECTIONS, *,
                    sensitive: bool = True) -> dict[str, Any]:
        """The JSON-safe document with the given sections (all by default) and, unless
        ``sensitive`` is false, the sensitive entries. The emergency core is self-contained
        (it repeats the critical allergies and conditions in full).

        Raises:
            ValueError: a section id is not one of ``SECTIONS``.
        """
        wanted = check_sections(sections)

        def dicts(items: Iterable[Entry]) -> list[dict[str, Any]]:
            return [e.to_dict() for e in items if sensitive or not e.sensitive]

        exams = [e for e in self.occ_exams if sensitive or not e.sensitive]
        everything: dict[str, Any] = {
            "emergency-core": {
                "blood_group": self.blood_group.to_dict() if self.blood_group else None,
                "critical_allergies": dicts(self.critical_allergies),
                "critical_conditions": dicts(self.critical_conditions),
                "emergency_contacts": [c.to_dict() for c in self.emergency_contacts],
            },
            "allergies": dicts(self.allergies),
            "conditions": dicts(self.conditions),
            "medications": dicts(self.medications),
            "immunizations": dicts(self.immunizations),
            "vitals-labs": dicts(self.vitals_labs),
            "occ-exam-summary": [e.summary_dict() for e in exams],
            "occ-exam-detail": [e.detail_dict(sensitive=sensitive) for e in exams],
        }
        return {"version": DOCUMENT_VERSION, "health_id": self.health_id,
                "patient": self.patient.to_dict(),
                "sections": {k: v for k, v in everything.items() if k in wanted}}

    def sections_present(self) -> tuple[str, ...]:
        """The sections that hold at least one entry (coverage, not content)."""
        doc = self.to_document()["sections"]
        core = doc["emergency-core"]
        return tuple(s for s in SECTIONS
                     if (any(core.values()) if s == "emergency-core" else doc[s]))

    @classmethod
    def from_document(cls, d: Mapping[str, Any]) -> HealthSummary:
        """From ``to_document``'s form.

        Raises:
            ValueError: the document's version is not supported, or it is malformed.
        """
        if d.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"unsupported health summary version {d.get('version')!r}")
        try:
            s = d["sections"]
            core = s.get("emergency-core") or {}
            allergies = s.get("allergies", core.get("critical_allergies", ()))
            conditions = s.get("conditions", core.get("critical_conditions", ()))
            details = {x["exam"]: x for x in s.get("occ-exam-detail", ())}
            blood = core.get("blood_group")
            return cls(
                patient=Patient.from_dict(d["patient"]),
                blood_group=Measurement.from_dict(blood) if blood else None,
                emergency_contacts=tuple(EmergencyContact.from_dict(c)
                                         for c in core.get("emergency_contacts", ())),
                allergies=tuple(Allergy.from_dict(a) for a in allergies),
                conditions=tuple(Condition.from_dict(c) for c in conditions),
                medications=tuple(Medication.from_dict(m) for m in s.get("medications", ())),
                immunizations=tuple(Immunization.from_dict(i)
                                    for i in s.get("immunizations", ())),
                vitals_labs=tuple(Measurement.from_dict(m) for m in s.get("vitals-labs", ())),
                occ_exams=tuple(OccExam.from_dicts(e, details.get(e["id"]))
                                for e in s.get("occ-exam-summary", ())) or tuple(
                    OccExam.from_dicts(e, e) for e in details.values()),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed health summary document: {e!r}") from e
