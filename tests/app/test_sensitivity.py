"""The sensitivity classifier: each protected category in each code system, and fail-closed for
everything it cannot decide (docs/fhir-mapping.md §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.services.health import sensitive as sv
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle
from tests.app.fhir_fixtures import bundle

ICD10_SYSTEMS = [
    sy.ICD10, sy.ICD10_VN, "http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10-vn",
    "https://hl7.org/fhir/sid/icd-10/", "http://hl7.org/fhir/sid/icd-10-de",
    "http://id.who.int/icd/release/10", "http://id.who.int/icd/release/10/2019",
    "urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90",
    "http://terminology.hl7.org/CodeSystem/icd10CM", "http://hl7.org/fhir/sid/icd-10|2019",
]

#: one code of each category in each code system that has one
BY_CATEGORY = [
    ("icd10", "F33.2", "mental-health"), ("icd10", "B20.1", "hiv-sti"),
    ("icd10", "O80", "reproductive-sexual-health"), ("icd10", "F10.2", "substance-use"),
    ("icd10", "Q90.0", "genetic"),
    ("atc", "N06AB06", "mental-health"), ("atc", "J05AR27", "hiv-sti"),
    ("atc", "G03AA07", "reproductive-sexual-health"), ("atc", "N07BC02", "substance-use"),
    ("snomed", "35489007", "mental-health"), ("snomed", "86406008", "hiv-sti"),
    ("snomed", "72892002", "reproductive-sexual-health"), ("snomed", "7200002", "substance-use"),
    ("snomed", "40108008", "genetic"),
    ("loinc", "20447-9", "hiv-sti"), ("loinc", "24467-3", "hiv-sti"),
    ("loinc", "5196-1", "hiv-sti"), ("loinc", "2106-3", "reproductive-sexual-health"),
    ("loinc", "19295-5", "substance-use"),
]
SYSTEM = {"icd10": sy.ICD10, "atc": sy.ATC, "snomed": sy.SNOMED, "loinc": sy.LOINC}


@pytest.mark.parametrize("system", ICD10_SYSTEMS)
@pytest.mark.parametrize(("code", "category"), [
    ("F32.2", "mental-health"), ("B20", "hiv-sti"), ("Z34.0", "reproductive-sexual-health"),
    ("F11.20", "substance-use"), ("Q99", "genetic"), ("I10", None), ("J45.9", None)])
def test_icd10_in_every_variant(system: str, code: str, category: str | None) -> None:
    assert sv.system_kind(system) == "icd10"
    assert sv.category(system, code) == category


@pytest.mark.parametrize(("kind", "code", "category"), BY_CATEGORY)
def test_each_category_in_each_code_system(kind: str, code: str, category: str) -> None:
    assert sv.category(SYSTEM[kind], code) == category
    assert sv.classify("result", [(SYSTEM[kind], code)]).category == category


def test_every_category_has_codes_in_the_shipped_tables() -> None:
    for system in ("snomed", "loinc"):
        sensitive, ordinary = sv._concepts(system)
        assert set(sensitive.values()) >= (set(sv.CATEGORIES) if system == "snomed"
                                           else set(sv.CATEGORIES) - {"mental-health"})
        assert not set(sensitive) & ordinary
    for rules in (sv.ICD10_RULES, sv.ATC_RULES):
        assert {r.category for r in rules} <= set(sv.CATEGORIES)
    assert {r.category for r in sv.ICD10_RULES} == set(sv.CATEGORIES)


@pytest.mark.parametrize(("codings", "expected"), [
    ([], sv.UNCLASSIFIED),  # text only
    ([("http://benhvien.example.vn/ma-benh", "TC-01")], sv.UNCLASSIFIED),  # a local code
    ([("http://id.who.int/icd/release/11/mms", "6A70")], sv.UNCLASSIFIED),  # ICD-11
    ([(sy.SNOMED, "999999999999")], sv.UNCLASSIFIED),  # on neither SNOMED list
    ([(sy.LOINC, "99999-9")], sv.UNCLASSIFIED),  # on neither LOINC list
    ([(sy.ICD10, "Z20")], sv.UNCLASSIFIED),  # spans Z20.6 (HIV) and Z20.2 (STI)
    ([(sy.ICD10, "B19")], sv.UNCLASSIFIED),  # spans B19.1/B19.2 (hepatitis B, C)
    ([(sy.ICD10, "not a code")], sv.UNCLASSIFIED),
    ([(sy.ATC, "J05A")], sv.UNCLASSIFIED),  # spans the antiretroviral classes
    ([(sy.ATC, "N05")], sv.UNCLASSIFIED),
    ([(sy.ATC, "X99ZZ99")], sv.UNCLASSIFIED),  # no such anatomical group
    ([(sy.DRUG_REGISTRATION, "VN3-123-19")], sv.UNCLASSIFIED),  # not mapped
    ([(sy.ICD10, "I10")], None),
    ([(sy.ATC, "C08CA01")], None),
    ([(sy.ATC, "C08")], None),  # a coarse code with nothing sensitive under it
    ([(sy.LOINC, "718-7")], None),  # haemoglobin
    ([(sy.SNOMED, "38341003")], None),  # hypertension
    ([(sy.OCC_HAZARD, "noise")], None),  # the project's own codes
    # one positive coding decides; a sensitive one wins over it
    ([("http://benhvien.example.vn/ma-benh", "TC-01"), (sy.ICD10, "I10")], None),
    ([(sy.ICD10, "I10"), (sy.SNOMED, "86406008")], "hiv-sti"),
])
def test_fail_closed_for_every_kind_that_can_disclose_a_condition(
        codings: list[tuple[str, str]], expected: str | None) -> None:
    for kind in ("condition", "medication", "result", "finding"):
        assert sv.classify(kind, codings).category == expected, kind  # type: ignore[arg-type]


def test_allergies_and_immunizations_need_a_label_or_a_sensitive_code() -> None:
    for kind in ("allergy", "immunization"):
        assert sv.classify(kind, []).category is None  # type: ignore[arg-type]
        assert sv.classify(kind, [("http://x", "1")]).category is None  # type: ignore[arg-type]
        assert sv.classify(kind, [(sy.ATC, "J05AR27")]).category == "hiv-sti"  # type: ignore[arg-type]
        assert sv.classify(kind, [], [(sy.ACT_CODE, "HIV")]).sensitive  # type: ignore[arg-type]


def test_labels_by_their_oids_too() -> None:
    assert sv.classify("allergy", [], [("urn:oid:2.16.840.1.113883.5.25", "R")]).category == \
        sv.RESTRICTED
    assert sv.classify("allergy", [], [("urn:oid:2.16.840.1.113883.5.4", "SUD")]).category == \
        "substance-use"


def test_a_mapped_registration_number_is_classified_by_its_atc_code(
        tmp_path: Path, make_app: Any) -> None:
    mapping = tmp_path / "drugs.csv"
    mapping.write_text("registration,atc,name\nvn3-123-19,J05AR27,TLD\nVD-1-20,C08CA01,"
                       "amlodipine\n", encoding="utf-8")
    try:
        make_app({"DRUG_REGISTRATIONS_FILE": str(mapping)})
        assert sv.category(sy.DRUG_REGISTRATION, "VN3-123-19") == "hiv-sti"
        assert sv.classify("medication", [(sy.DRUG_REGISTRATION, "VD-1-20")]).category is None
    finally:
        sv._drug_registrations.clear()
        sv.add_drug_registrations(sv._rows("drug-registrations.csv"))
    assert sv.category(sy.DRUG_REGISTRATION, "VN3-123-19") == sv.UNCLASSIFIED


def test_a_bad_registration_file_stops_the_start(tmp_path: Path, make_app: Any) -> None:
    from app.config import ConfigError

    bad = tmp_path / "drugs.csv"
    bad.write_text("registration,atc\nVD-1-20,not-atc\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="DRUG_REGISTRATIONS_FILE"):
        make_app({"DRUG_REGISTRATIONS_FILE": str(bad)})
    with pytest.raises(ConfigError, match="DRUG_REGISTRATIONS_FILE"):
        make_app({"DRUG_REGISTRATIONS_FILE": str(tmp_path / "missing.csv")})


PROV = s.Provenance("feed-1", "bundle-1", datetime(2025, 1, 2, tzinfo=UTC))


def test_a_document_stored_under_the_old_rules_is_classified_again_when_read() -> None:
    legacy = {"id": "c1", "codes": [{"system": sy.SNOMED, "code": "86406008", "text": ""}],
              "text": "HIV", "source": {}, "date": None, "provenance": PROV.to_dict(),
              "sensitive": False, "critical": True}
    text_only = {**legacy, "id": "c2", "codes": [], "text": "Trầm cảm nặng"}
    ordinary = {**legacy, "id": "c3", "codes": [{"system": sy.ICD10, "code": "I10", "text": ""}]}
    labelled = {**ordinary, "id": "c4", "sensitive": True}  # a label the document cannot show
    conditions = [s.Condition.from_dict(d) for d in (legacy, text_only, ordinary, labelled)]
    assert [(c.sensitive, c.sensitivity) for c in conditions] == [
        (True, "hiv-sti"), (True, sv.UNCLASSIFIED), (False, None), (True, None)]
    summary = s.HealthSummary(patient=s.Patient("7412345678"), conditions=tuple(conditions))
    core = summary.to_document(["emergency-core"], sensitive=False)
    assert [c["id"] for c in core["sections"]["emergency-core"]["critical_conditions"]] == ["c3"]


def test_an_exam_is_sensitive_when_any_finding_is() -> None:
    noise = s.Code(sy.OCC_HAZARD, "noise", "Tiếng ồn")
    hearing = s.Code(sy.ICD10, "H83.3", "Điếc do tiếng ồn")
    assert s.finding_verdict([noise, hearing]).category is None
    assert s.finding_verdict([noise, hearing, s.Code("", "", "nghi trầm cảm")]).category == \
        sv.UNCLASSIFIED
    assert s.finding_verdict([s.Code("", "", "?"), s.Code(sy.ICD10, "F32.1", "")]).category == \
        "mental-health"
    assert s.finding_verdict([]).category is None


def test_intake_marks_an_exam_with_a_text_only_finding() -> None:
    b = bundle("7923456789")  # Hùng: a periodic exam with a finding
    finding = next(e["resource"] for e in b["entry"]
                   if e["resource"]["resourceType"] == "Observation"
                   and any(c.get("code") == sy.OCC_FINDING
                           for c in e["resource"]["code"].get("coding", [])))
    finding["valueCodeableConcept"] = {"text": "Rối loạn lo âu, cần theo dõi"}
    summary = parse_bundle(json.dumps(b).encode(), health_id="7923456789", feed="test",
                           received_at=datetime(2025, 11, 5, tzinfo=UTC))
    exam = summary.occ_exams[0]
    assert exam.sensitive and exam.sensitivity == sv.UNCLASSIFIED
    assert summary.to_document(sensitive=False)["sections"]["occ-exam-summary"] == []


def test_a_results_value_never_clears_a_result_whose_own_code_is_unknown() -> None:
    """A value ("negative", an ordinary diagnosis) may name a protected category, but it is no
    evidence of what was tested: a result coded only in a laboratory's own system stays
    unclassified and is withheld without the sensitive consent (it was released when its value
    was positively not sensitive)."""
    local = ("http://lab.example.vn/codes", "HIV-VL")
    ordinary_value = (sy.ICD10, "I10")
    assert sv.classify("result", [local], qualifying=[ordinary_value]).category == \
        sv.UNCLASSIFIED
    assert sv.classify("result", [local], qualifying=[(sy.ICD10, "B20")]).category == "hiv-sti"
    assert sv.classify("result", [(sy.LOINC, "2093-3")], qualifying=[ordinary_value]) \
        .sensitive is False
    b = bundle("7923456789")
    result = next(r for r in (e["resource"] for e in b["entry"])
                  if r["resourceType"] == "Observation" and "valueQuantity" in r)
    result["code"] = {"coding": [{"system": local[0], "code": local[1]}], "text": "HIV VL"}
    result.pop("valueQuantity")
    result["valueCodeableConcept"] = {"coding": [{"system": sy.ICD10, "code": "I10"}]}
    result.pop("component", None)
    summary = parse_bundle(json.dumps(b).encode(), health_id="7923456789", feed="test",
                           received_at=datetime(2025, 11, 5, tzinfo=UTC))
    stored = next(r for r in summary.vitals_labs if r.id == result["id"])
    assert stored.sensitive and stored.sensitivity == sv.UNCLASSIFIED
    released = summary.to_document(sensitive=False)["sections"]
    assert result["id"] not in json.dumps(released)
