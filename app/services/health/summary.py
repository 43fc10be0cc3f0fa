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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from app.services.health.sensitive import (
    CATEGORIES,
    NOT_SENSITIVE,
    Kind,
    Verdict,
    category,
    classify,
    combine,
)

#: The sections of a summary, in display order (the consent scopes of docs/reference/consent.md
#: but ``on-card`` and ``sensitive``, which is a label on entries, not a section).
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
#: 3: nothing clinical lost in the mapping (allergy and condition statuses, severity, onset and
#: abatement, structured dosage, immunisation lot/site/route, UCUM units, result components and
#: panel members, coded contact relationships); 2: every entry carries ``sensitivity``
#: (classified fail-closed); 1 and 2 are still read (the new fields empty), their entries
#: classified again.
DOCUMENT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


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
class Concept:
    """A coded concept that qualifies an entry (a severity, a route, a body site): its codings
    and text."""

    codes: tuple[Code, ...] = ()
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.codes or self.text)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"codes": [c.to_dict() for c in self.codes], "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Concept:
        """From the JSON form (None: the empty concept)."""
        if not d:
            return cls()
        return cls(_codes(d.get("codes", ())), str(d.get("text", "")))


@dataclass(frozen=True)
class Quantity:
    """A measured amount: its value, the unit as written, and the unit's code in its system
    (UCUM ``http://unitsofmeasure.org`` for a proper unit)."""

    value: float
    unit: str = ""
    system: str = ""
    code: str = ""
    comparator: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"value": self.value, "unit": self.unit, "system": self.system,
                "code": self.code, "comparator": self.comparator}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Quantity | None:
        """From the JSON form (None stays None)."""
        if not d:
            return None
        return cls(float(d["value"]), str(d.get("unit", "")), str(d.get("system", "")),
                   str(d.get("code", "")), str(d.get("comparator", "")))

    def label(self) -> str:
        """The amount as a person reads it (``500 mg``)."""
        value = f"{self.value:g}"
        return " ".join(x for x in (self.comparator + value, self.unit or self.code) if x)


def _pairs(codes: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """A stored entry's codings as ``(system, code)``."""
    return [(str(c.get("system", "")), str(c.get("code", ""))) for c in codes]


def qualifier_verdict(concepts: Iterable[Concept]) -> Verdict:
    """The verdict a qualifier's codes add (a severity, a route, a site, a reaction): sensitive
    when one of them is in a sensitive table, else nothing. A qualifier never counts as the
    positive "not sensitive" evidence of a fail-closed entry (only the entry's own codes do)."""
    codes = [(c.system, c.code) for concept in concepts for c in concept.codes]
    found = [x for x in (category(system, code) for system, code in codes) if x in CATEGORIES]
    return Verdict(found[0]) if found else NOT_SENSITIVE


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
    #: The resource's notes (``note[].text``), joined by a blank line; released with the entry.
    note: str = ""

    def code(self, system: str) -> str | None:
        """The entry's code in ``system``, if it has one."""
        return next((c.code for c in self.codes if c.system == system), None)

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "codes": [c.to_dict() for c in self.codes], "text": self.text,
                "source": self.source.to_dict(), "date": self.date,
                "provenance": self.provenance.to_dict(), "sensitive": self.sensitive,
                "sensitivity": self.sensitivity, "note": self.note}

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return self._base()

    @classmethod
    def _verdict(cls, d: Mapping[str, Any]) -> Verdict:
        """Today's verdict on the stored entry ``d`` (its codes; a result's value codes too),
        with what its parts and qualifiers add (``part_verdicts``)."""
        own = classify(cls.KIND, _pairs(d.get("codes", ())),
                       qualifying=_pairs(d.get("value_codes", ())))
        return combine((own, *cls.part_verdicts(d)))

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        """The verdicts of the stored entry's parts (none here; see the subclasses)."""
        return ()

    @classmethod
    def _base_args(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        stored = bool(d.get("sensitive", False))
        verdict = cls._verdict(d)
        reason = d.get("sensitivity") if stored else None
        return {"id": str(d["id"]), "codes": _codes(d.get("codes", ())),
                "text": str(d.get("text", "")), "source": Facility.from_dict(d.get("source", {})),
                "date": d.get("date"), "provenance": Provenance.from_dict(d["provenance"]),
                "sensitive": stored or verdict.sensitive,
                "sensitivity": reason or verdict.category, "note": str(d.get("note", ""))}


@dataclass(frozen=True)
class Allergy(Entry):
    """An allergy or intolerance: the substance (codes), reaction and criticality."""

    KIND: ClassVar[Kind] = "allergy"

    reaction: str = ""
    criticality: str | None = None
    #: ``allergyintolerance-clinical`` (active, inactive, resolved); empty when not given.
    clinical_status: str = ""
    #: ``allergyintolerance-verification`` (unconfirmed, confirmed, refuted); empty if unknown.
    verification_status: str = ""
    #: ``allergy`` or ``intolerance``; empty when not given.
    type: str = ""
    #: food, medication, environment, biologic.
    categories: tuple[str, ...] = ()
    onset: str | None = None
    #: The reactions' manifestations, coded (their texts are ``reaction``).
    manifestations: tuple[Concept, ...] = ()
    #: The most severe reaction's severity (mild, moderate, severe); empty when not given.
    reaction_severity: str = ""

    def __post_init__(self) -> None:
        if self.criticality is not None and self.criticality not in CRITICALITIES:
            raise ValueError(f"unknown criticality {self.criticality!r}")

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        return (qualifier_verdict(Concept.from_dict(m) for m in d.get("manifestations", ())),)

    @property
    def critical(self) -> bool:
        """Whether it belongs in the emergency core."""
        return self.criticality == "high"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "reaction": self.reaction, "criticality": self.criticality,
                "clinical_status": self.clinical_status,
                "verification_status": self.verification_status, "type": self.type,
                "categories": list(self.categories), "onset": self.onset,
                "manifestations": [m.to_dict() for m in self.manifestations],
                "reaction_severity": self.reaction_severity}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Allergy:
        """From the JSON form."""
        return cls(**cls._base_args(d), reaction=str(d.get("reaction", "")),
                   criticality=d.get("criticality"),
                   clinical_status=str(d.get("clinical_status", "")),
                   verification_status=str(d.get("verification_status", "")),
                   type=str(d.get("type", "")),
                   categories=tuple(str(c) for c in d.get("categories", ())),
                   onset=d.get("onset"),
                   manifestations=tuple(Concept.from_dict(m)
                                        for m in d.get("manifestations", ())),
                   reaction_severity=str(d.get("reaction_severity", "")))


@dataclass(frozen=True)
class Condition(Entry):
    """A condition (ICD-10): its clinical status and whether it is critical (severe)."""

    clinical_status: str = ""
    critical: bool = False
    #: ``condition-ver-status`` (unconfirmed, provisional, differential, confirmed, refuted).
    verification_status: str = ""
    #: The severity as coded (SNOMED CT or LOINC answer codes); ``critical`` is derived from it.
    severity: Concept = field(default_factory=Concept)
    #: Onset and abatement as written: a FHIR dateTime, or a text (``onsetString``).
    onset: str | None = None
    abatement: str | None = None
    body_sites: tuple[Concept, ...] = ()

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        return (qualifier_verdict((Concept.from_dict(d.get("severity")),
                                   *(Concept.from_dict(x) for x in d.get("body_sites", ())))),)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "clinical_status": self.clinical_status,
                "critical": self.critical, "verification_status": self.verification_status,
                "severity": self.severity.to_dict(), "onset": self.onset,
                "abatement": self.abatement, "body_sites": [c.to_dict() for c in self.body_sites]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Condition:
        """From the JSON form."""
        return cls(**cls._base_args(d), clinical_status=str(d.get("clinical_status", "")),
                   critical=bool(d.get("critical", False)),
                   verification_status=str(d.get("verification_status", "")),
                   severity=Concept.from_dict(d.get("severity")), onset=d.get("onset"),
                   abatement=d.get("abatement"),
                   body_sites=tuple(Concept.from_dict(x) for x in d.get("body_sites", ())))


@dataclass(frozen=True)
class Medication(Entry):
    """A medication (ATC, and the Vietnamese registration number where known) and its dose."""

    KIND: ClassVar[Kind] = "medication"

    #: The dose as a person reads it: the dosages' texts, else their structured parts written
    #: out (what the member's and the clinic's pages show).
    dose: str = ""
    status: str = ""
    #: The structured dosages (timing, route, dose and rate) as given.
    dosages: tuple[Dosage, ...] = ()
    #: When it was (or is to be) stopped: ``effectivePeriod.end``.
    end: str | None = None

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        return (qualifier_verdict(c for x in d.get("dosages", ())
                                   for c in Dosage.from_dict(x).concepts()),)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "dose": self.dose, "status": self.status,
                "dosages": [x.to_dict() for x in self.dosages], "end": self.end}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Medication:
        """From the JSON form."""
        return cls(**cls._base_args(d), dose=str(d.get("dose", "")),
                   status=str(d.get("status", "")),
                   dosages=tuple(Dosage.from_dict(x) for x in d.get("dosages", ())),
                   end=d.get("end"))


@dataclass(frozen=True)
class Dosage:
    """One structured dosage of a medication (FHIR ``Dosage``): its text, timing (``frequency``
    times per ``period`` ``period_unit``, or a coded timing), when needed, route, site, method,
    and the dose (a quantity or a range) and rate."""

    text: str = ""
    sequence: int | None = None
    #: ``timing.repeat.count``: how many times in all (``1``: once).
    count: int | None = None
    frequency: int | None = None
    period: float | None = None
    period_unit: str = ""
    timing: Concept = field(default_factory=Concept)
    as_needed: bool = False
    route: Concept = field(default_factory=Concept)
    site: Concept = field(default_factory=Concept)
    method: Concept = field(default_factory=Concept)
    dose: Quantity | None = None
    dose_low: Quantity | None = None
    dose_high: Quantity | None = None
    rate: Quantity | None = None

    def concepts(self) -> tuple[Concept, ...]:
        """Its coded parts (for the classifier)."""
        return (self.timing, self.route, self.site, self.method)

    def label(self) -> str:
        """The dosage written out: its text, else ``500 mg, 2 lần/1 d, Oral``."""
        if self.text:
            return self.text
        parts = []
        if self.dose is not None:
            parts.append(self.dose.label())
        elif self.dose_low is not None or self.dose_high is not None:
            parts.append("–".join(q.label() for q in (self.dose_low, self.dose_high) if q))
        if self.frequency is not None:
            parts.append(f"{self.frequency} lần/{self.period or 1:g} {self.period_unit}".strip())
        if self.count is not None:
            parts.append(f"tổng {self.count} lần")
        if self.timing:
            parts.append(self.timing.text or self.timing.codes[0].text
                         or self.timing.codes[0].code)
        if self.as_needed:
            parts.append("khi cần")
        for concept in (self.route, self.site):
            if concept:
                parts.append(concept.text or concept.codes[0].text or concept.codes[0].code)
        return ", ".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        def q(x: Quantity | None) -> dict[str, Any] | None:
            return x.to_dict() if x is not None else None

        return {"text": self.text, "sequence": self.sequence, "count": self.count,
                "frequency": self.frequency,
                "period": self.period, "period_unit": self.period_unit,
                "timing": self.timing.to_dict(), "as_needed": self.as_needed,
                "route": self.route.to_dict(), "site": self.site.to_dict(),
                "method": self.method.to_dict(), "dose": q(self.dose),
                "dose_low": q(self.dose_low), "dose_high": q(self.dose_high),
                "rate": q(self.rate)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dosage:
        """From the JSON form."""
        period = d.get("period")
        sequence, frequency, count = d.get("sequence"), d.get("frequency"), d.get("count")
        return cls(text=str(d.get("text", "")),
                   sequence=None if sequence is None else int(sequence),
                   count=None if count is None else int(count),
                   frequency=None if frequency is None else int(frequency),
                   period=None if period is None else float(period),
                   period_unit=str(d.get("period_unit", "")),
                   timing=Concept.from_dict(d.get("timing")),
                   as_needed=bool(d.get("as_needed", False)),
                   route=Concept.from_dict(d.get("route")), site=Concept.from_dict(d.get("site")),
                   method=Concept.from_dict(d.get("method")),
                   dose=Quantity.from_dict(d.get("dose")),
                   dose_low=Quantity.from_dict(d.get("dose_low")),
                   dose_high=Quantity.from_dict(d.get("dose_high")),
                   rate=Quantity.from_dict(d.get("rate")))


@dataclass(frozen=True)
class Immunization(Entry):
    """An immunisation (CVX or ATC J07), its date (``date``) and dose number."""

    KIND: ClassVar[Kind] = "immunization"

    dose_number: str | None = None
    #: ``completed`` or ``not-done`` (an entered-in-error one is not kept).
    status: str = "completed"
    lot_number: str = ""
    site: Concept = field(default_factory=Concept)
    route: Concept = field(default_factory=Concept)
    dose_quantity: Quantity | None = None

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        return (qualifier_verdict((Concept.from_dict(d.get("site")),
                                    Concept.from_dict(d.get("route")))),)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "dose_number": self.dose_number, "status": self.status,
                "lot_number": self.lot_number, "site": self.site.to_dict(),
                "route": self.route.to_dict(),
                "dose_quantity": (self.dose_quantity.to_dict()
                                  if self.dose_quantity is not None else None)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Immunization:
        """From the JSON form."""
        return cls(**cls._base_args(d), dose_number=d.get("dose_number"),
                   status=str(d.get("status") or "completed"),
                   lot_number=str(d.get("lot_number", "")),
                   site=Concept.from_dict(d.get("site")), route=Concept.from_dict(d.get("route")),
                   dose_quantity=Quantity.from_dict(d.get("dose_quantity")))


@dataclass(frozen=True)
class Measurement(Entry):
    """A vital sign or lab result (LOINC): a number with its unit, or a coded/text value."""

    KIND: ClassVar[Kind] = "result"

    category: str = "laboratory"
    value: float | None = None
    unit: str = ""
    value_codes: tuple[Code, ...] = ()
    value_text: str = ""
    #: The unit's system and code (UCUM) of ``value``, as given.
    unit_system: str = ""
    unit_code: str = ""
    comparator: str = ""
    #: The components (blood pressure's systolic and diastolic ...), each classified on its own.
    components: tuple[Component, ...] = ()
    #: The ids of the results this one groups (a panel's ``hasMember``), each an entry of its own.
    members: tuple[str, ...] = ()
    #: A range value (``valueRange``): its low and high.
    value_low: Quantity | None = None
    value_high: Quantity | None = None
    #: Why there is no value (``dataAbsentReason``).
    absent_reason: Concept = field(default_factory=Concept)
    #: ``interpretation`` (high, low, abnormal ...).
    interpretation: tuple[Concept, ...] = ()
    #: ``referenceRange``: low, high and text of each.
    reference_ranges: tuple[ReferenceRange, ...] = ()

    @classmethod
    def part_verdicts(cls, d: Mapping[str, Any]) -> tuple[Verdict, ...]:
        # a component is a result of its own: fail-closed like the entry (an unclassified
        # component makes the whole result unclassified); interpretation and the reason for
        # no value are qualifiers
        qualifiers = (Concept.from_dict(d.get("absent_reason")),
                      *(Concept.from_dict(x) for x in d.get("interpretation", ())))
        return (*(classify("result", ((c.system, c.code) for c in x.codes),
                           qualifying=((c.system, c.code) for c in x.value_codes))
                  for x in (Component.from_dict(c) for c in d.get("components", ()))),
                qualifier_verdict(qualifiers))

    @property
    def quantity(self) -> Quantity | None:
        """``value`` with its unit, or None."""
        if self.value is None:
            return None
        return Quantity(self.value, self.unit, self.unit_system, self.unit_code,
                        self.comparator)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {**self._base(), "category": self.category, "value": self.value,
                "unit": self.unit, "value_codes": [c.to_dict() for c in self.value_codes],
                "value_text": self.value_text, "unit_system": self.unit_system,
                "unit_code": self.unit_code, "comparator": self.comparator,
                "components": [c.to_dict() for c in self.components],
                "members": list(self.members),
                "value_low": self.value_low.to_dict() if self.value_low else None,
                "value_high": self.value_high.to_dict() if self.value_high else None,
                "absent_reason": self.absent_reason.to_dict(),
                "interpretation": [c.to_dict() for c in self.interpretation],
                "reference_ranges": [r.to_dict() for r in self.reference_ranges]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        """From the JSON form."""
        value = d.get("value")
        return cls(**cls._base_args(d), category=str(d.get("category", "laboratory")),
                   value=None if value is None else float(value), unit=str(d.get("unit", "")),
                   value_codes=_codes(d.get("value_codes", ())),
                   value_text=str(d.get("value_text", "")),
                   unit_system=str(d.get("unit_system", "")),
                   unit_code=str(d.get("unit_code", "")),
                   comparator=str(d.get("comparator", "")),
                   components=tuple(Component.from_dict(c) for c in d.get("components", ())),
                   members=tuple(str(m) for m in d.get("members", ())),
                   value_low=Quantity.from_dict(d.get("value_low")),
                   value_high=Quantity.from_dict(d.get("value_high")),
                   absent_reason=Concept.from_dict(d.get("absent_reason")),
                   interpretation=tuple(Concept.from_dict(c)
                                        for c in d.get("interpretation", ())),
                   reference_ranges=tuple(ReferenceRange.from_dict(r)
                                          for r in d.get("reference_ranges", ())))


@dataclass(frozen=True)
class ReferenceRange:
    """One reference range of a result: its low, high and text."""

    low: Quantity | None = None
    high: Quantity | None = None
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"low": self.low.to_dict() if self.low else None,
                "high": self.high.to_dict() if self.high else None, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceRange:
        """From the JSON form."""
        return cls(Quantity.from_dict(d.get("low")), Quantity.from_dict(d.get("high")),
                   str(d.get("text", "")))

    def label(self) -> str:
        """The range as a person reads it (``4–10 G/L``)."""
        if self.low is not None and self.high is not None:
            return f"{self.low.label()}–{self.high.label()}"
        if self.low is not None:
            return f"≥ {self.low.label()}"
        if self.high is not None:
            return f"≤ {self.high.label()}"
        return self.text


@dataclass(frozen=True)
class Component:
    """One component of a result: its code and text, and its value (a quantity with its unit,
    codes, or a text)."""

    codes: tuple[Code, ...]
    text: str = ""
    value: Quantity | None = None
    value_codes: tuple[Code, ...] = ()
    value_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"codes": [c.to_dict() for c in self.codes], "text": self.text,
                "value": self.value.to_dict() if self.value is not None else None,
                "value_codes": [c.to_dict() for c in self.value_codes],
                "value_text": self.value_text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Component:
        """From the JSON form."""
        return cls(_codes(d.get("codes", ())), str(d.get("text", "")),
                   Quantity.from_dict(d.get("value")), _codes(d.get("value_codes", ())),
                   str(d.get("value_text", "")))


@dataclass(frozen=True)
class EmergencyContact:
    """Who to call: name, relationship (text) and phone, with provenance."""

    id: str
    name: str
    relationship: str
    phone: str
    provenance: Provenance
    #: The relationship's codings (v2-0131 ``C`` emergency contact, v3-RoleCode ``MTH`` ...).
    relationship_codes: tuple[Code, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "name": self.name, "relationship": self.relationship,
                "phone": self.phone, "provenance": self.provenance.to_dict(),
                "relationship_codes": [c.to_dict() for c in self.relationship_codes]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EmergencyContact:
        """From the JSON form."""
        return cls(str(d["id"]), str(d.get("name", "")), str(d.get("relationship", "")),
                   str(d.get("phone", "")), Provenance.from_dict(d["provenance"]),
                   _codes(d.get("relationship_codes", ())))


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

    def detail_dict(self) -> dict[str, Any]:
        """JSON form of the ``occ-exam-detail`` part (keyed by the exam's id)."""
        return {**self._base(), "exam": self.id,
                "hazards": [c.to_dict() for c in self.hazards],
                "findings": [c.to_dict() for c in self.findings],
                "measurements": [m.to_dict() for m in self.measurements]}

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


E = TypeVar("E", bound=Entry)


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
        if not sensitive:
            return self._released().to_document(wanted)

        def dicts(items: Iterable[Entry]) -> list[dict[str, Any]]:
            return [e.to_dict() for e in items]

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
            "occ-exam-summary": [e.summary_dict() for e in self.occ_exams],
            "occ-exam-detail": [e.detail_dict() for e in self.occ_exams],
        }
        return {"version": DOCUMENT_VERSION, "health_id": self.health_id,
                "patient": self.patient.to_dict(),
                "sections": {k: v for k, v in everything.items() if k in wanted}}

    def _released(self) -> HealthSummary:
        """The summary without its sensitive entries (the blood group and the exams'
        measurements too), and without any reference to them: a panel keeps only the members
        released with it."""
        released = {e.id for e in self.entries()
                    if isinstance(e, Measurement) and not e.sensitive}

        def kept(items: Iterable[E]) -> tuple[E, ...]:
            return tuple(shown(e) for e in items if not e.sensitive)

        def shown(e: E) -> E:
            if isinstance(e, Measurement) and e.members:
                return replace(e, members=tuple(m for m in e.members if m in released))
            return e

        blood = kept((self.blood_group,) if self.blood_group else ())
        return replace(
            self, blood_group=blood[0] if blood else None,
            allergies=kept(self.allergies), conditions=kept(self.conditions),
            medications=kept(self.medications), immunizations=kept(self.immunizations),
            vitals_labs=kept(self.vitals_labs),
            occ_exams=tuple(replace(e, measurements=kept(e.measurements))
                            for e in kept(self.occ_exams)))

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
