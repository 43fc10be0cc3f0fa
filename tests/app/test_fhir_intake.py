"""FHIR R4 intake: the shipped Bundles map to every section; invalid Bundles are rejected whole,
each problem named by its FHIR path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.services.errors import FhirInvalid
from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle
from app.services.health.summary import SECTIONS, HealthSummary
from tests.app.fhir_fixtures import FIXTURES, NOW, bundle, raw, resources_of

YEN, HUNG, HOA, ANH = FIXTURES


def parse(data: Any, health_id: str = YEN, **kwargs: Any) -> HealthSummary:
    return parse_bundle(data, health_id=health_id, feed="bhxh-hcm", received_at=NOW, **kwargs)


def problems(data: Any, health_id: str = YEN, **kwargs: Any) -> list[dict[str, str]]:
    with pytest.raises(FhirInvalid) as caught:
        parse(data, health_id, **kwargs)
    assert caught.value.errors
    for error in caught.value.errors:
        assert error["field"].startswith("Bundle") and error["pointer"].startswith("#/")
    return caught.value.errors


@pytest.mark.parametrize("health_id", list(FIXTURES))
def test_every_shipped_bundle_maps_to_every_section(health_id: str) -> None:
    summary = parse(raw(health_id), health_id)
    assert summary.health_id == health_id
    assert summary.sections_present() == SECTIONS
    assert 20 <= len(bundle(health_id)["entry"]) <= 35
    for entry in summary.entries():
        assert entry.provenance.feed == "bhxh-hcm" and entry.provenance.received_at == NOW
        assert entry.provenance.bundle.startswith("urn:uuid:")
        assert entry.source.name and entry.source.code.isdigit() and len(entry.source.code) == 5
        assert entry.date and entry.text
    assert summary.to_document() == HealthSummary.from_document(
        json.loads(json.dumps(summary.to_document()))).to_document()


def test_the_emergency_core_of_a_worker() -> None:
    s = parse(raw(YEN))
    assert s.patient.name == "Nguyễn Thị Kim Yến" and s.patient.birth_date == "1994-03-17"
    assert s.blood_group is not None and s.blood_group.value_text == "Nhóm máu O, Rh dương tính"
    assert [a.text for a in s.critical_allergies] == ["Dị ứng penicillin"]
    assert s.critical_allergies[0].reaction == "Nổi mày đay toàn thân, khó thở"
    assert [c.code(sy.ICD10) for c in s.critical_conditions] == ["J45.9"]
    assert [(c.name, c.relationship, c.phone) for c in s.emergency_contacts] == [
        ("Trần Văn Nam", "Chồng", "0912345678")]
    related = parse(raw(HUNG), HUNG).emergency_contacts
    assert [c.relationship for c in related] == ["Vợ", "Anh trai"]


def test_sections_keep_their_codes_and_vietnamese_text() -> None:
    s = parse(raw(HUNG), HUNG)
    amlodipine = s.medications[0]
    assert amlodipine.code(sy.ATC) == "C08CA01"
    assert amlodipine.code(sy.DRUG_REGISTRATION) == "VD-28413-17"
    assert amlodipine.dose == "1 viên/ngày" and amlodipine.status == "active"
    covid = s.immunizations[0]
    assert covid.code(sy.CVX) == "208" and covid.code(sy.ATC) == "J07BN01"
    assert covid.dose_number == "2" and covid.date == "2021-09-10"
    hba1c = next(m for m in s.vitals_labs if m.code(sy.LOINC) == "4548-4")
    assert (hba1c.value, hba1c.unit, hba1c.category) == (7.4, "%", "laboratory")
    assert {m.category for m in s.vitals_labs} == {"vital-signs", "laboratory"}
    assert s.conditions[0].source.name == "Bệnh viện Đa khoa khu vực Bình Chánh"


def test_an_unknown_code_system_is_kept_with_its_text() -> None:
    s = parse(raw(HUNG), HUNG)
    herbal = s.medications[2]
    assert herbal.text == "Thuốc nam gia truyền (không rõ thành phần)"
    assert [(c.system, c.code) for c in herbal.codes] == [
        ("urn:oid:2.16.840.1.113883.2.99.1", "TN-01")]


def test_the_occupational_exam_summary_and_detail() -> None:
    exam, = parse(raw(ANH), ANH).occ_exams
    assert (exam.exam_type, exam.date, exam.health_class, exam.fitness) == (
        "periodic", "2025-10-28", "IV", "temporarily-unfit")
    assert exam.source.name == "Trạm Y tế KCN Hiệp Phước" and exam.source.code == "79460"
    assert exam.fitness_text.startswith("Tạm thời chưa đủ sức khỏe")
    assert [h.code for h in exam.hazards] == ["silica-dust", "noise", "heat"]
    assert [h.text for h in exam.hazards] == ["Bụi silic", "Tiếng ồn", "Nhiệt độ cao"]
    assert [(f.code, f.text) for f in exam.findings] == [("J62.8", "Bụi phổi silic nghề nghiệp")]
    assert [m.code(sy.LOINC) for m in exam.measurements] == ["19868-9", "19926-5"]
    document = parse(raw(ANH), ANH).to_document(["occ-exam-summary"])
    assert set(document["sections"]) == {"occ-exam-summary"}
    assert "hazards" not in json.dumps(document)


@pytest.mark.parametrize("health_id, sensitive", [
    (YEN, ["Rối loạn lo âu lan tỏa", "Sertralin 50 mg viên nén"]),
    # a traditional medicine coded only in a local system cannot be classified: fail-closed
    (HUNG, ["Hội chứng nghiện rượu", "Thuốc nam gia truyền (không rõ thành phần)"]),
    (HOA, ["Theo dõi thai kỳ bình thường, con so"]),
    (ANH, ["Xét nghiệm kháng thể kháng HIV không kết luận"]),
])
def test_sensitive_entries_are_labelled_from_their_codes(health_id: str,
                                                         sensitive: list[str]) -> None:
    s = parse(raw(health_id), health_id)
    assert [e.text for e in s.entries() if e.sensitive] == sensitive
    without = json.dumps(s.to_document(sensitive=False), ensure_ascii=False)
    for text in sensitive:
        assert text in json.dumps(s.to_document(), ensure_ascii=False)
        assert text not in without


def test_a_security_label_alone_makes_an_entry_sensitive() -> None:
    b = bundle(HOA)
    myopia = next(c for c in resources_of(b, "Condition") if c["code"]["text"] == "Cận thị")
    myopia["meta"] = {"security": [{"system": sy.CONFIDENTIALITY, "code": "R"}]}
    assert next(c for c in parse(b, HOA).conditions if c.text == "Cận thị").sensitive


def test_a_sensitive_occupational_finding_makes_the_exam_sensitive() -> None:
    b = bundle(HUNG)
    finding = next(o for o in resources_of(b, "Observation")
                   if o["code"]["coding"][0]["code"] == "occ-disease-finding")
    finding["valueCodeableConcept"]["coding"][0]["code"] = "F43.1"
    exam, = parse(b, HUNG).occ_exams
    assert exam.sensitive
    assert parse(b, HUNG).to_document(sensitive=False)["sections"]["occ-exam-detail"] == []


# -- invalid Bundles -----------------------------------------------------------------------------

def test_not_json_and_not_a_bundle_are_rejected() -> None:
    assert problems(b"{not json")[0]["field"] == "Bundle"
    patient = resources_of(bundle(YEN), "Patient")[0]
    assert problems(json.dumps(patient))[0]["field"] == "Bundle.resourceType"
    assert problems([1, 2])[0]["field"] == "Bundle.resourceType"  # type: ignore[arg-type]


def test_a_structurally_invalid_resource_is_named_by_its_fhir_path() -> None:
    b = bundle(YEN)
    b["entry"][1]["resource"]["birthDate"] = "17/03/1994"
    b["entry"][5]["resource"]["bogus"] = 1
    found = problems(b)
    assert [e["field"] for e in found] == ["Bundle.entry[1].resource.birthDate",
                                           "Bundle.entry[5].resource.bogus"]
    assert found[0]["pointer"] == "#/entry/1/resource/birthDate"


def test_a_resource_type_that_fhir_r4_does_not_have_is_rejected() -> None:
    b = bundle(YEN)
    for kind in ("Spaceship", "Bundle", "fooBar"):
        b["entry"].append({"fullUrl": f"urn:uuid:0d7c1b9e-4a0a-4f0e-9a51-6f3e2b8c1d0{len(kind)}",
                           "resource": {"resourceType": kind, "id": "c1"}})
    found = problems(b)
    n = len(b["entry"])
    assert [e["field"] for e in found] == [f"Bundle.entry[{i}].resource.resourceType"
                                           for i in range(n - 3, n)]
    assert "Spaceship" in found[0]["detail"]


def test_a_resource_the_summary_does_not_map_is_still_validated() -> None:
    b = bundle(YEN)
    b["entry"].append({"fullUrl": "urn:uuid:0d7c1b9e-4a0a-4f0e-9a51-6f3e2b8c1d00",
                       "resource": {"resourceType": "Claim", "id": "c1"}})
    found = problems(b)
    # a Claim lacks its required elements: named by path, not refused for its type
    assert found and all(e["field"].startswith(f"Bundle.entry[{len(b['entry']) - 1}].resource.")
                         for e in found)
    assert all(not e["field"].endswith("resourceType") for e in found)


def test_a_resource_for_another_patient_is_rejected() -> None:
    b = bundle(YEN)
    index = next(i for i, e in enumerate(b["entry"])
                 if e["resource"]["resourceType"] == "Condition")
    b["entry"][index]["resource"]["subject"] = {"reference": "Patient/someone-else"}
    assert [e["field"] for e in problems(b)] == [f"Bundle.entry[{index}].resource.subject"]


def test_a_bundle_about_another_health_id_is_rejected() -> None:
    found = problems(raw(YEN), HUNG)
    assert found == [{"location": "fhir", "field": "Bundle.entry[1].resource.identifier",
                      "pointer": "#/entry/1/resource/identifier", "detail": found[0]["detail"]}]
    assert HUNG in found[0]["detail"]


def test_one_patient_exactly() -> None:
    b = bundle(YEN)
    b["entry"].append(bundle(HUNG)["entry"][1])
    assert any("exactly one Patient" in e["detail"] for e in problems(b))


def test_size_bounds() -> None:
    assert "bytes" in problems(raw(YEN), max_bytes=10_000)[0]["detail"]
    assert problems(raw(YEN), max_entries=10)[0]["field"] == "Bundle.entry"
    parse(raw(YEN), max_entries=26, max_bytes=len(raw(YEN)))


def test_a_document_starts_with_its_composition_and_a_collection_need_not() -> None:
    b = bundle(YEN)
    b["entry"].append(b["entry"].pop(0))
    assert [e["field"] for e in problems(b)] == ["Bundle.entry[0].resource"]
    b["type"] = "collection"
    assert parse(b).sections_present()


def test_partial_dates_are_kept_as_written() -> None:
    b = bundle(YEN)
    condition = resources_of(b, "Condition")[1]
    del condition["recordedDate"]
    condition["onsetDateTime"] = "2021-02"
    assert parse(b).conditions[1].date == "2021-02"


def test_a_transaction_bundle_is_rejected() -> None:
    b = bundle(YEN)
    b["type"] = "transaction"
    assert [e["field"] for e in problems(b)] == ["Bundle.type"]


def test_a_concept_without_known_code_or_text_is_rejected() -> None:
    b = bundle(YEN)
    allergy = resources_of(b, "AllergyIntolerance")[0]
    allergy["code"] = {"coding": [{"system": "urn:example:unknown", "code": "X1"}]}
    found = problems(b)
    assert found[0]["field"].endswith(".resource.code") and "text" in found[0]["detail"]


def test_occupational_rules() -> None:
    b = bundle(YEN)
    obs = resources_of(b, "Observation")
    health_class = next(o for o in obs if o["code"]["coding"][0]["code"] == "health-class")
    health_class["valueCodeableConcept"]["coding"][0]["code"] = "VI"
    hazard = next(o for o in obs if o["code"]["coding"][0]["code"] == "hazard-exposure")
    del hazard["encounter"]
    details = " ".join(e["detail"] for e in problems(b))
    assert "I-V" in details and "Encounter" in details


def test_a_criticality_outside_its_value_set() -> None:
    b = bundle(YEN)
    resources_of(b, "AllergyIntolerance")[0]["criticality"] = "extreme"
    assert problems(b)[0]["field"].endswith(".resource.criticality")


def test_every_problem_is_reported_at_once_and_nothing_is_returned() -> None:
    b = bundle(YEN)
    b["entry"][1]["resource"]["birthDate"] = "ngày 17"
    b["entry"][3]["resource"]["status"] = 7
    b["entry"].append({"resource": {"resourceType": "Basic"}})
    assert len(problems(b)) == 3


def test_fhir_invalid_is_a_422_problem() -> None:
    from app.edge.problems import error_problem

    answer = error_problem(FhirInvalid)
    assert (answer.problem.slug, answer.problem.status) == ("fhir-invalid", 422)
