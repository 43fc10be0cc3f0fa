"""IPS-shaped Bundles (tests/app/fixtures/ips, built to the shape of the HL7 IPS examples: a
Composition with every IPS section, PractitionerRole, Device, DocumentReference ... entries, a
results panel, structured dosage, coded severities) go in, through the summary, and out as our
FHIR document: what docs/fhir-mapping.md §4 says is kept is kept, field by field, and every
emitted resource passes the R4 invariants (tests/app/fhir_invariants.py)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.services.errors import FhirInvalid
from app.services.health import narrative as nv
from app.services.health import summary as s
from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle, read_bundle
from app.services.health.fhir_out import build_document, build_export
from tests.app.fhir_invariants import check

NOW = datetime(2025, 11, 5, 3, 0, tzinfo=UTC)
IPS = Path(__file__).with_name("fixtures") / "ips"
MAI, KHOA = "7412000001", "7412000002"
FILES = {MAI: "all-sections-7412000001.json", KHOA: "minimal-7412000002.json"}
UCUM = "http://unitsofmeasure.org"


def source(health_id: str) -> dict[str, Any]:
    return json.loads((IPS / FILES[health_id]).read_text(encoding="utf-8"))


def summary(health_id: str = MAI, data: Any = None) -> s.HealthSummary:
    return parse_bundle(data if data is not None else source(health_id), health_id=health_id,
                        feed="syt-bn", received_at=NOW)


def document(health_id: str = MAI, **kwargs: Any) -> dict[str, Any]:
    return build_document(summary(health_id), now=NOW, document_id="d1", **kwargs)


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_text(bundle: dict[str, Any], kind: str, text: str, element: str = "code"
            ) -> dict[str, Any]:
    [found] = [r for r in of_type(bundle, kind) if r[element].get("text") == text]
    return found


def resolve(bundle: dict[str, Any], reference: dict[str, str]) -> dict[str, Any]:
    [found] = [e["resource"] for e in bundle["entry"] if e["fullUrl"] == reference["reference"]]
    return found


def codings(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.get("system", ""), c["code"]) for c in concept.get("coding", ())]


def source_of(kind: str, rid: str, health_id: str = MAI) -> dict[str, Any]:
    [found] = [e["resource"] for e in source(health_id)["entry"]
               if e["resource"]["resourceType"] == kind and e["resource"]["id"] == rid]
    return found


@pytest.mark.parametrize("health_id", list(FILES))
@pytest.mark.parametrize("sensitive", [True, False])
def test_the_ips_examples_shapes_are_accepted_and_our_output_keeps_every_invariant(
        health_id: str, sensitive: bool) -> None:
    for bundle in (document(health_id, sensitive=sensitive),
                   build_export(summary(health_id), now=NOW)):
        Bundle.model_validate_json(json.dumps(bundle, ensure_ascii=False))
        assert errors(bundle) == []


def errors(bundle: dict[str, Any]) -> list[str]:
    """The invariant errors of ``bundle`` (and, by hand, that every dose range is ordered in
    one unit: rng-2)."""
    found = [str(v) for v in check(bundle).errors]
    for r in of_type(bundle, "MedicationStatement"):
        for d in r.get("dosage", ()):
            for dr in d.get("doseAndRate", ()):
                rng = dr.get("doseRange", {})
                if "low" in rng and "high" in rng:
                    assert rng["low"]["code"] == rng["high"]["code"]
                    assert rng["low"]["value"] <= rng["high"]["value"]
    return found


def test_what_the_summary_has_no_place_for_is_left_out_with_a_note() -> None:
    intake = read_bundle(source(MAI), health_id=MAI, feed="f", received_at=NOW)
    left_out = {note.split()[1] for note in intake.notes}
    assert left_out == {"CarePlan", "Consent", "Device", "DeviceUseStatement",
                        "DiagnosticReport", "DocumentReference", "Flag", "Media",
                        "MedicationRequest", "Procedure", "Specimen"}
    # resources used to resolve a source are not "left out"
    assert not any(k in note for note in intake.notes
                   for k in ("PractitionerRole", "Practitioner ", "Location", "Organization"))
    assert read_bundle(source(KHOA), health_id=KHOA, feed="f", received_at=NOW).notes == ()


def test_a_source_named_through_a_practitioner_role_is_its_organization() -> None:
    allergy = next(a for a in summary().allergies if a.id == "al-1")
    assert allergy.source == s.Facility("27001", "Bệnh viện Đa khoa tỉnh Bắc Ninh")
    hb = next(m for m in summary().vitals_labs if m.id == "ob-hb")
    assert hb.source == s.Facility("27015", "Khoa Xét nghiệm, Trung tâm Y tế Quế Võ")


def test_allergies_keep_statuses_type_category_onset_and_coded_reactions() -> None:
    out = document()
    amox = by_text(out, "AllergyIntolerance", "Dị ứng amoxicillin")
    src = source_of("AllergyIntolerance", "al-1")
    assert codings(amox["clinicalStatus"]) == codings(src["clinicalStatus"])
    assert codings(amox["verificationStatus"]) == codings(src["verificationStatus"])
    for element in ("type", "category", "criticality", "onsetDateTime", "recordedDate"):
        assert amox[element] == src[element], element
    assert codings(amox["code"]) == codings(src["code"])
    [reaction] = amox["reaction"]  # transformed: the reactions are one, at the worst severity
    assert [codings(m) for m in reaction["manifestation"]] == [
        codings(m) for r in src["reaction"] for m in r["manifestation"]]
    assert [m["text"] for m in reaction["manifestation"]] == ["Sốc phản vệ", "Mày đay"]
    assert reaction["severity"] == "severe"
    cashew = by_text(out, "AllergyIntolerance", "Hạt điều")
    assert cashew["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert cashew["onsetString"] == "thời thơ ấu" and cashew["type"] == "intolerance"


def test_every_allergy_emitted_has_a_clinical_status_even_when_the_feed_gave_none() -> None:
    # R4 ait-1; the minimal fixture's allergy has one, an old document's allergies have none
    old = s.HealthSummary.from_document({**summary().to_document(), "version": 2})
    bare = s.HealthSummary(patient=old.patient, allergies=tuple(
        s.Allergy(a.id, a.codes, a.text, a.source, a.date, a.provenance,
                  criticality=a.criticality) for a in old.allergies))
    for bundle in (build_document(bare, now=NOW), build_export(bare, now=NOW)):
        allergies = of_type(bundle, "AllergyIntolerance")
        assert len(allergies) == 2
        assert all(codings(a["clinicalStatus"]) == [(sy.ALLERGY_CLINICAL, "active")]
                   for a in allergies)
        assert all("verificationStatus" not in a for a in allergies)


@pytest.mark.parametrize("rid, critical", [("cd-1", True), ("cd-2", True), ("cd-3", False),
                                           ("cd-4", False)])
def test_conditions_keep_severity_onset_abatement_and_statuses(rid: str, critical: bool) -> None:
    src = source_of("Condition", rid)
    mapped = next(c for c in summary().conditions if c.id == rid)
    # SNOMED 24484000 or LOINC LA6751-7 severe: critical, in the emergency core
    assert mapped.critical is critical
    assert (mapped in summary().critical_conditions) is critical
    out = by_text(document(), "Condition", src["code"]["text"])
    assert codings(out["severity"]) == codings(src["severity"])
    assert codings(out["clinicalStatus"]) == codings(src["clinicalStatus"])
    assert codings(out.get("verificationStatus", {})) == codings(
        src.get("verificationStatus", {}))
    assert codings(out["code"]) == codings(src["code"])
    for element in ("onsetString", "abatementDateTime", "abatementString", "recordedDate"):
        assert out.get(element) == src.get(element), element
    assert [n["text"] for n in out.get("note", ())] == [n["text"] for n in src.get("note", ())]
    assert [codings(c) for c in out.get("bodySite", ())] == [
        codings(c) for c in src.get("bodySite", ())]
    # transformed: an onset period is its start
    assert out["onsetDateTime" if "onsetString" not in src else "onsetString"] == src.get(
        "onsetDateTime", src.get("onsetString", src.get("onsetPeriod", {}).get("start")))


def test_medications_keep_their_structured_dosage() -> None:
    out = document()
    lisinopril = by_text(out, "MedicationStatement", "Lisinopril 5 mg viên nén",
                         "medicationCodeableConcept")
    src = source_of("MedicationStatement", "ms-1")
    [dosage] = lisinopril["dosage"]
    assert dosage["sequence"] == 1
    assert dosage["timing"] == src["dosage"][0]["timing"]
    assert codings(dosage["route"]) == codings(src["dosage"][0]["route"])
    assert dosage["doseAndRate"][0]["doseQuantity"] == \
        src["dosage"][0]["doseAndRate"][0]["doseQuantity"]
    assert lisinopril["effectivePeriod"] == src["effectivePeriod"]
    # transformed: medicationReference -> its Medication's code, ATC and registration number
    assert codings(lisinopril["medicationCodeableConcept"]) == [
        (sy.ATC, "C09AA03"), (sy.DRUG_REGISTRATION, "VD-20123-13")]
    metformin = by_text(out, "MedicationStatement", "Metformin 500 mg",
                        "medicationCodeableConcept")
    assert metformin["dosage"][0]["text"] == "500 mg sau ăn sáng và tối"
    assert metformin["dosage"][0]["doseAndRate"][0]["doseQuantity"] == {
        "value": 500, "unit": "mg", "system": UCUM, "code": "mg"}
    paracetamol = by_text(out, "MedicationStatement", "Paracetamol",
                          "medicationCodeableConcept")
    [d] = paracetamol["dosage"]
    assert d["asNeededBoolean"] is True
    assert codings(d["timing"]["code"]) == [(
        "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "QID")]
    assert d["doseAndRate"][0]["doseRange"] == source_of(
        "MedicationStatement", "ms-3")["dosage"][0]["doseAndRate"][0]["doseRange"]
    # a medicine shows its dose on the member's and the clinic's pages
    doses = {m.id: m.dose for m in summary().medications}
    assert doses["ms-1"] == "1 viên, 1 lần/1 d, tổng 90 lần, Uống"
    assert doses["ms-2"] == "500 mg sau ăn sáng và tối"
    assert doses["ms-3"] == "500 mg–1000 mg, 4 lần mỗi ngày, khi cần"


def test_immunizations_keep_lot_site_route_dose_and_status() -> None:
    out = document()
    covid = by_text(out, "Immunization", "Vắc xin COVID-19 Comirnaty", "vaccineCode")
    src = source_of("Immunization", "im-1")
    assert covid["lotNumber"] == "FF8871-001"
    assert codings(covid["site"]) == codings(src["site"])
    assert covid["site"]["text"] == "Cánh tay trái"
    assert codings(covid["route"]) == codings(src["route"])
    assert covid["doseQuantity"] == src["doseQuantity"]
    assert covid["protocolApplied"] == src["protocolApplied"]
    assert covid["occurrenceDateTime"] == src["occurrenceDateTime"]
    assert by_text(out, "Immunization", "Vắc xin cúm", "vaccineCode")["status"] == "not-done"


def test_results_keep_panels_components_and_ucum_units() -> None:
    out = document()
    panel = by_text(out, "Observation", "Tổng phân tích tế bào máu")
    members = [resolve(out, r) for r in panel["hasMember"]]
    assert [m["code"]["text"] for m in members] == ["Huyết sắc tố", "Bạch cầu", "Hồng cầu"]
    for member in members:
        [src] = [r for r in of_type(source(MAI), "Observation")
                 if r["code"]["text"] == member["code"]["text"]]
        assert member["valueQuantity"] == src["valueQuantity"]  # UCUM system and code kept
    # a panel whose member is the blood group (emergency core) still refers to it
    typing = by_text(out, "Observation", "Định nhóm máu")
    assert [resolve(out, r)["code"]["coding"][0]["code"] for r in typing["hasMember"]] == [
        "882-1"]
    bp = by_text(out, "Observation", "Huyết áp")
    src = source_of("Observation", "ob-bp")
    assert [(codings(c["code"]), c["valueQuantity"]) for c in bp["component"]] == [
        (codings(c["code"]), c["valueQuantity"]) for c in src["component"]]
    glucose = by_text(out, "Observation", "Glucose máu")
    for element in ("valueQuantity", "referenceRange"):
        assert glucose[element] == source_of("Observation", "ob-glu")[element], element
    assert [codings(c) for c in glucose["interpretation"]] == [
        codings(c) for c in source_of("Observation", "ob-glu")["interpretation"]]
    assert by_text(out, "Observation", "Bạch cầu niệu")["valueRange"] == source_of(
        "Observation", "ob-uwbc")["valueRange"]
    creatinine = by_text(out, "Observation", "Creatinin")
    assert codings(creatinine["dataAbsentReason"]) == codings(
        source_of("Observation", "ob-crea")["dataAbsentReason"])
    assert not any(k.startswith("value") for k in creatinine)
    hb = by_text(out, "Observation", "Huyết sắc tố")
    assert hb["note"] == [{"text": "Mẫu lấy lúc đói\n\nĐã kiểm tra lại"}]  # transformed: one
    weight = next(m for m in summary().vitals_labs if m.id == "ob-wt")
    assert (weight.unit, weight.unit_system, weight.unit_code) == ("kg", UCUM, "kg")


def test_the_emergency_contacts_keep_their_coded_relationship() -> None:
    out = document()
    [patient] = of_type(out, "Patient")
    src = source_of("Patient", "pt-1")
    assert [[codings(r) for r in c["relationship"]] for c in patient["contact"]] == [
        [[x for r in c["relationship"] for x in codings(r)]] for c in src["contact"]]
    assert [c["relationship"][0].get("text") for c in patient["contact"]] == ["Chồng", "MTH"]
    assert [c["name"]["text"] for c in patient["contact"]] == ["Phạm Văn Long",
                                                               "Nguyễn Thị Hạnh"]


def test_reading_our_output_back_gives_the_same_summary() -> None:
    ours = summary()
    again = parse_bundle(json.dumps(document()), health_id=MAI, feed="syt-bn",
                         received_at=NOW)

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items()
                    if k not in ("id", "provenance", "exam", "members")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    mine, theirs = ours.to_document()["sections"], again.to_document()["sections"]
    for section in s.SECTIONS:
        assert strip(theirs[section]) == strip(mine[section]), section
    panel = next(m for m in again.vitals_labs if m.text == "Tổng phân tích tế bào máu")
    assert [next(m.text for m in again.vitals_labs if m.id == x) for x in panel.members] == [
        "Huyết sắc tố", "Bạch cầu", "Hồng cầu"]


def _divs(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    composition = bundle["entry"][0]["resource"]
    return [(sec["title"], sec["text"]["div"]) for sec in composition["section"]
            if sec["text"]["status"] == "generated"]


def test_section_narratives_are_generated_tables_of_their_entries() -> None:
    out = document()
    divs = dict(_divs(out))
    assert len(divs) == len(out["entry"][0]["resource"]["section"]) == 8
    for title, div in _divs(out):
        root = ET.fromstring(div)
        assert root.tag == f"{{{nv.XHTML_NS}}}div"
        for el in root.iter():
            assert el.tag.removeprefix(f"{{{nv.XHTML_NS}}}") in nv.ELEMENTS
            assert el.attrib == {} or el is root
        assert "".join(root.itertext()).strip(), title
    allergies = ET.fromstring(divs["Dị ứng"])
    rows = [["".join(td.itertext()) for td in tr] for tr in
            allergies.iter(f"{{{nv.XHTML_NS}}}tr")]
    assert rows[1][:6] == ["Dị ứng amoxicillin", "cao", "đang có", "đã xác nhận",
                           "Sốc phản vệ; Mày đay; severe", "2015-04-10"]
    assert "FF8871-001" in divs["Tiêm chủng"] and "Cánh tay trái" in divs["Tiêm chủng"]
    assert "1 viên, 1 lần/1 d, tổng 90 lần, Uống" in divs["Thuốc"]
    assert "Mẫu lấy lúc đói\n\nĐã kiểm tra lại" in divs["Chỉ số và xét nghiệm"]
    assert "Huyết áp tâm thu: 150 mmHg" in divs["Dấu hiệu sinh tồn"]
    assert "3 kết quả thành phần" in divs["Chỉ số và xét nghiệm"]
    assert "70 mg/dL–100 mg/dL" in divs["Chỉ số và xét nghiệm"]
    assert "5 /[HPF]–10 /[HPF]" in divs["Chỉ số và xét nghiệm"]
    assert "2019-03-15 – 2025-12-15" in divs["Thuốc"]
    assert "Phạm Văn Long" in divs["Thông tin cấp cứu"]


def test_narratives_escape_every_text_and_hold_only_released_entries() -> None:
    data = source(MAI)
    hb = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "al-2")
    hb["code"]["text"] = '<script>alert("x")</script> & <b>'
    out = build_document(summary(MAI, data), now=NOW)
    allergies = dict(_divs(out))["Dị ứng"]
    assert "<script>" not in allergies and "&lt;script&gt;" in allergies
    assert "&amp; &lt;b&gt;" in allergies
    ET.fromstring(allergies)
    # the pregnancy status (a sensitive LOINC code) is in no narrative without consent
    assert "Tình trạng thai nghén" in json.dumps(document(), ensure_ascii=False)
    restricted = json.dumps(document(sensitive=False), ensure_ascii=False)
    assert "Tình trạng thai nghén" not in restricted and "Không mang thai" not in restricted


def test_a_panel_refers_only_to_the_members_the_document_holds() -> None:
    data = source(MAI)
    wbc = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "ob-wbc")
    wbc["meta"] = {"security": [{"system": sy.CONFIDENTIALITY, "code": "R"}]}
    full = build_document(summary(MAI, data), now=NOW)
    assert len(by_text(full, "Observation", "Tổng phân tích tế bào máu")["hasMember"]) == 3
    out = build_document(summary(MAI, data), now=NOW, sensitive=False)
    panel = by_text(out, "Observation", "Tổng phân tích tế bào máu")
    assert [resolve(out, r)["code"]["text"] for r in panel["hasMember"]] == [
        "Huyết sắc tố", "Hồng cầu"]
    assert '"Bạch cầu"' not in json.dumps(out, ensure_ascii=False)
    assert errors(out) == []


def test_a_qualifier_never_makes_an_entry_releasable() -> None:
    # SNOMED 24484000 Severe is on the not-sensitive list: as a severity it must not count as
    # the positive evidence a condition coded only in a local system lacks
    data = source(MAI)
    c = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "cd-1")
    c["code"] = {"coding": [{"system": "urn:oid:2.16.840.1.113883.2.99.7", "code": "X1"}],
                 "text": "Bệnh theo mã địa phương"}
    mapped = next(x for x in summary(MAI, data).conditions if x.id == "cd-1")
    assert mapped.sensitive and mapped.sensitivity == "unclassified"
    assert mapped not in summary(MAI, data).to_document(sensitive=False)["sections"][
        "emergency-core"]["critical_conditions"]
    assert s.HealthSummary.from_document(summary(MAI, data).to_document()).conditions[0] \
        .sensitive


def test_a_sensitive_component_or_qualifier_makes_its_entry_sensitive() -> None:
    data = source(MAI)
    bp = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "ob-bp")
    # an HIV test (LOINC 75622-1, sensitive) carried as a component of an ordinary result
    bp["component"].append({"code": {"coding": [{"system": sy.LOINC, "code": "75622-1"}],
                                     "text": "HIV 1+2 Ab"}, "valueString": "âm tính"})
    im = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "im-1")
    # a route coded with an ICD-10 code of a protected category (nonsense, but a carrier)
    im["route"] = {"coding": [{"system": sy.ICD10, "code": "B20"}]}
    mapped = summary(MAI, data)
    bp_entry = next(m for m in mapped.vitals_labs if m.id == "ob-bp")
    im_entry = next(m for m in mapped.immunizations if m.id == "im-1")
    assert (bp_entry.sensitive, bp_entry.sensitivity) == (True, "hiv-sti")
    assert (im_entry.sensitive, im_entry.sensitivity) == (True, "hiv-sti")
    # and read back from the stored document (stored flag dropped): still sensitive
    stored = mapped.to_document()
    for entry in (*stored["sections"]["vitals-labs"], *stored["sections"]["immunizations"]):
        entry["sensitive"], entry["sensitivity"] = False, None
    again = s.HealthSummary.from_document(stored)
    assert next(m for m in again.vitals_labs if m.id == "ob-bp").sensitivity == "hiv-sti"
    assert next(m for m in again.immunizations if m.id == "im-1").sensitivity == "hiv-sti"
    released = json.dumps(build_document(mapped, now=NOW, sensitive=False), ensure_ascii=False)
    assert "HIV 1+2 Ab" not in released and "FF8871-001" not in released


def test_an_entered_in_error_record_is_not_kept_and_is_noted() -> None:
    data = source(MAI)
    c = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "cd-3")
    c.pop("clinicalStatus")
    c.pop("abatementDateTime")
    c["verificationStatus"] = {"coding": [{"system": sy.CONDITION_VERIFICATION,
                                           "code": "entered-in-error"}]}
    index = next(i for i, e in enumerate(data["entry"]) if e["resource"]["id"] == "cd-3")
    intake = read_bundle(data, health_id=MAI, feed="f", received_at=NOW)
    assert "cd-3" not in {x.id for x in intake.summary.conditions}
    assert f"Bundle.entry[{index}] not kept: entered in error." in intake.notes


def test_an_abated_condition_that_says_it_is_active_is_invalid() -> None:
    data = source(MAI)
    c = next(e["resource"] for e in data["entry"] if e["resource"]["id"] == "cd-1")
    c["abatementDateTime"] = "2024-01-01"
    index = next(i for i, e in enumerate(data["entry"]) if e["resource"]["id"] == "cd-1")
    with pytest.raises(FhirInvalid) as caught:
        summary(MAI, data)
    assert [e["field"] for e in caught.value.errors] == [
        f"Bundle.entry[{index}].resource.clinicalStatus"]


def test_an_old_document_is_read_and_emitted_valid() -> None:
    document_v2 = summary().to_document()
    document_v2["version"] = 2
    for section in ("allergies", "conditions", "medications", "immunizations", "vitals-labs"):
        for entry in document_v2["sections"][section]:
            for key in ("clinical_status", "verification_status", "severity", "onset",
                        "abatement", "dosages", "lot_number", "site", "route", "components",
                        "members", "unit_system", "unit_code", "manifestations", "status"):
                entry.pop(key, None)
    old = s.HealthSummary.from_document(document_v2)
    assert next(c for c in old.conditions if c.id == "cd-1").critical
    bundle = build_document(old, now=NOW)
    assert errors(bundle) == []
    assert [d["text"] for m in of_type(bundle, "MedicationStatement") for d in m["dosage"]] == [
        "1 viên, 1 lần/1 d, tổng 90 lần, Uống", "500 mg sau ăn sáng và tối",
        "500 mg–1000 mg, 4 lần mỗi ngày, khi cần"]
