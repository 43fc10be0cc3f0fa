"""The health-summary document and the sensitive code list."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.services.health import fhir_out
from app.services.health import sensitive as sv
from app.services.health import summary as s
from app.services.health import systems as sy

PROV = s.Provenance("feed-1", "bundle-1", datetime(2025, 1, 2, tzinfo=UTC))
NOW = datetime(2025, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize("code, category", [
    ("F32.1", "mental-health"), ("F00", "mental-health"), ("F99", "mental-health"),
    ("F10.2", "substance-use"), ("F19", "substance-use"), ("f11.20", "substance-use"),
    ("B20", "hiv-sti"), ("B24", "hiv-sti"), ("Z21", "hiv-sti"), ("R75", "hiv-sti"), ("Z20.6", "hiv-sti"),
    ("O80", "reproductive-sexual-health"), ("O00.1", "reproductive-sexual-health"),
    ("N97.0", "reproductive-sexual-health"), ("Z34.0", "reproductive-sexual-health"),
    ("Z30.0", "reproductive-sexual-health"), ("A54.9", "hiv-sti"),
    ("Z15.0", "genetic"), ("Q90.9", "genetic"), ("Q99", "genetic"),
    ("X70", "mental-health"), ("Z91.5", "mental-health"), ("Z14.1", "genetic"),
    ("B18.1", "hiv-sti"), ("B17.1", "hiv-sti"), ("Z11.4", "hiv-sti"), ("R45.8", "mental-health"),
    ("D56.1", "genetic"), ("T40.1", "substance-use"), ("R78.1", "substance-use"),
    ("F32.A", "mental-health"), ("O9A.11", "reproductive-sexual-health"),
    ("Z3A.20", "reproductive-sexual-health"), ("N52.9", "reproductive-sexual-health"),
])
def test_sensitive_icd10_codes(code: str, category: str) -> None:
    assert sv.category(sy.ICD10, code) == category
    assert sv.category(sy.ICD10_VN, code) == category


@pytest.mark.parametrize("code", ["J45.9", "E11.9", "I10", "H83.3", "J62.8", "B25",
                                  "R74", "Z20.5", "N95", "Z40", "Q89", "G40.9", "A49",
                                  "B18.8", "T39.1", "Z11.1"])
def test_ordinary_icd10_codes(code: str) -> None:
    assert sv.category(sy.ICD10, code) is None


@pytest.mark.parametrize("code, category", [
    ("J05AR10", "hiv-sti"), ("J05AE08", "hiv-sti"), ("J05AF07", "hiv-sti"), ("J05AG03", "hiv-sti"),
    ("J05AJ01", "hiv-sti"), ("N06AB06", "mental-health"), ("N05AH03", "mental-health"),
    ("N05BA01", "mental-health"), ("N07BC02", "substance-use"),
    ("G03AA07", "reproductive-sexual-health"),
])
def test_sensitive_atc_codes(code: str, category: str) -> None:
    assert sv.category(sy.ATC, code) == category


@pytest.mark.parametrize("code", ["J05AB01", "J05AH02", "N02BE01", "N03AG01", "C08CA01",
                                  "G03CA03"])
def test_ordinary_atc_codes(code: str) -> None:
    assert sv.category(sy.ATC, code) is None


def test_codes_of_other_systems_and_security_labels() -> None:
    # fail-closed: a code the classifier does not know is not "not sensitive"
    assert sv.category(sy.LOINC, "F32.1") == sv.UNCLASSIFIED
    assert sv.category("http://example.org/codes", "123") == sv.UNCLASSIFIED
    assert sv.is_sensitive([(sy.SNOMED, "35489007")])  # depressive disorder
    assert sv.is_sensitive([(sy.SNOMED, "x")], [(sy.CONFIDENTIALITY, "R")])
    assert sv.is_sensitive([], [(sy.ACT_CODE, "PSY")])
    assert sv.is_sensitive([], [(sy.ACT_CODE, "ETH")])
    assert not sv.is_sensitive([(sy.ICD10, "I10")],
                               [(sy.CONFIDENTIALITY, "N"), (sy.ACT_CODE, "TREAT")])
    assert sv.is_sensitive([], [(sy.CONFIDENTIALITY, "N"), (sy.ACT_CODE, "TREAT")])


def test_the_sensitive_list_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "fhir-mapping.md").read_text(encoding="utf-8")
    for rule in (*sv.ICD10_RULES, *sv.ATC_RULES):
        span = rule.low if rule.low == rule.high else f"{rule.low}–{rule.high}"
        assert f"`{span}`" in doc, span
    for codes in sv.SECURITY_LABELS.values():
        for code in codes:
            assert f"`{code}`" in doc, code


def _entry(cls: type[s.Entry], id: str, **kwargs: object) -> s.Entry:
    return cls(id=id, codes=(s.Code(sy.ICD10, "J45.9"),), text=id, source=s.Facility("79024", "BV"),
               date="2025-01-01", provenance=PROV, **kwargs)  # type: ignore[arg-type]


def _summary() -> s.HealthSummary:
    measurement = _entry(s.Measurement, "fev1", value=3.0, unit="L")
    return s.HealthSummary(
        patient=s.Patient("7412345678", "Nguyễn Thị Kim Yến", "1994-03-17", "female"),
        blood_group=_entry(s.Measurement, "abo", value_text="O+"),  # type: ignore[arg-type]
        emergency_contacts=(s.EmergencyContact("c", "Trần Văn Nam", "Chồng", "0912345678",
                                               PROV),),
        allergies=(_entry(s.Allergy, "a1", criticality="high"),  # type: ignore[arg-type]
                   _entry(s.Allergy, "a2", criticality="low")),
        conditions=(_entry(s.Condition, "c1", critical=True),  # type: ignore[arg-type]
                    _entry(s.Condition, "c2", sensitive=True)),
        medications=(_entry(s.Medication, "m1", dose="1 viên"),),  # type: ignore[arg-type]
        immunizations=(_entry(s.Immunization, "i1", dose_number="2"),),  # type: ignore[arg-type]
        vitals_labs=(_entry(s.Measurement, "v1", value=120.0, unit="mmHg"),),  # type: ignore[arg-type]
        occ_exams=(_entry(s.OccExam, "e1", health_class="II", fitness="fit",  # type: ignore[arg-type]
                          hazards=(s.Code(sy.OCC_HAZARD, "noise", "Tiếng ồn"),),
                          measurements=(measurement,)),),
    )


def test_the_document_round_trips_and_lists_every_section() -> None:
    summary = _summary()
    document = summary.to_document()
    assert document["version"] == 3 and tuple(document["sections"]) == s.SECTIONS
    assert s.HealthSummary.from_document(document) == summary
    assert summary.sections_present() == s.SECTIONS


def test_the_emergency_core_alone_is_self_contained() -> None:
    core = _summary().to_document(["emergency-core"])
    assert set(core["sections"]) == {"emergency-core"}
    again = s.HealthSummary.from_document(core)
    assert [a.id for a in again.allergies] == ["a1"] and [c.id for c in again.conditions] == ["c1"]
    assert again.emergency_contacts[0].phone == "0912345678" and again.occ_exams == ()


def test_the_occupational_exam_splits_into_summary_and_detail() -> None:
    summary = _summary()
    only = s.HealthSummary.from_document(summary.to_document(["occ-exam-summary"]))
    assert only.occ_exams[0].health_class == "II" and only.occ_exams[0].hazards == ()
    detail = s.HealthSummary.from_document(summary.to_document(["occ-exam-detail"]))
    assert detail.occ_exams[0].health_class is None
    assert detail.occ_exams[0].hazards[0].text == "Tiếng ồn"


def test_sensitive_entries_can_be_left_out() -> None:
    document = _summary().to_document(sensitive=False)
    assert [c["id"] for c in document["sections"]["conditions"]] == ["c1"]


def test_a_sensitive_blood_group_is_left_out_too() -> None:
    # a blood group classified sensitive (a component of a protected category, an unclassified
    # code) is withheld like any other entry
    summary = replace(_summary(), blood_group=_entry(  # type: ignore[arg-type]
        s.Measurement, "abo", value_text="O+", sensitive=True, sensitivity="hiv-sti"))
    core = summary.to_document(sensitive=False)["sections"]["emergency-core"]
    assert core["blood_group"] is None
    assert summary.to_document()["sections"]["emergency-core"]["blood_group"]["id"] == "abo"
    bundle = json.dumps(fhir_out.build_document(summary, now=NOW, sensitive=False))
    assert "O+" not in bundle


def test_a_panel_names_no_withheld_member() -> None:
    # a released panel refers to its released members only: a withheld one's id (chosen by
    # the source, e.g. "hiv-viral-load") and its count stay out of the document and narrative
    panel = _entry(s.Measurement, "panel", members=("v1", "hiv-viral-load"))
    secret = _entry(s.Measurement, "hiv-viral-load", value=4000.0, sensitive=True)
    exam = _summary().occ_exams[0]
    summary = replace(_summary(), vitals_labs=(*_summary().vitals_labs, panel, secret),
                      occ_exams=(replace(exam, measurements=(panel,)),))
    withheld = summary.to_document(sensitive=False)
    assert "hiv-viral-load" not in json.dumps(withheld)
    again = s.HealthSummary.from_document(withheld)
    assert [m.members for m in again.vitals_labs if m.id == "panel"] == [("v1",)]
    assert summary.to_document()["sections"]["vitals-labs"][1]["members"] == [
        "v1", "hiv-viral-load"]
    bundle = json.dumps(fhir_out.build_document(summary, now=NOW, sensitive=False),
                        ensure_ascii=False)
    assert "hiv-viral-load" not in bundle and "2 kết quả thành phần" not in bundle
    assert "1 kết quả thành phần" in bundle


def test_invariants() -> None:
    with pytest.raises(ValueError):
        _summary().to_document(["sensitive"])
    with pytest.raises(ValueError):
        _entry(s.OccExam, "e", health_class="VI")
    with pytest.raises(ValueError):
        _entry(s.Allergy, "a", criticality="extreme")
    with pytest.raises(ValueError):
        s.Provenance("f", "b", datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        s.HealthSummary.from_document({"version": 2})
    with pytest.raises(ValueError):
        s.HealthSummary.from_document({"version": 1})
