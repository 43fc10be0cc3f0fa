"""FHIR R4 output: IPS-shaped document and export Bundles, validated by fhir.resources parsing
their JSON (independent of the builder, which only makes plain dicts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.services.health import systems as sy
from app.services.health.fhir_in import parse_bundle
from app.services.health.fhir_out import build_document, build_export
from app.services.health.summary import SECTIONS, HealthSummary
from tests.app.fhir_fixtures import FIXTURES, NOW, raw

YEN, HUNG, HOA, ANH = FIXTURES


def summary(health_id: str) -> HealthSummary:
    return parse_bundle(raw(health_id), health_id=health_id, feed="f", received_at=NOW)


def validated(bundle: dict[str, Any]) -> Bundle:
    """The Bundle as fhir.resources parses it from JSON text."""
    return Bundle.model_validate_json(json.dumps(bundle, ensure_ascii=False))


def section_codes(bundle: dict[str, Any]) -> list[list[str]]:
    composition = bundle["entry"][0]["resource"]
    return [[c["code"] for c in sec["code"]["coding"]] for sec in composition["section"]]


@pytest.mark.parametrize("health_id", list(FIXTURES))
def test_the_document_is_valid_fhir_and_reads_back_the_same(health_id: str) -> None:
    original = summary(health_id)
    document = build_document(original, now=NOW, document_id="d1")
    parsed = validated(document)
    assert parsed.type == "document" and parsed.entry[0].resource.get_resource_type() == \
        "Composition"
    again = parse_bundle(json.dumps(document), health_id=health_id, feed="f", received_at=NOW)

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("id", "provenance", "exam")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    ours, theirs = original.to_document()["sections"], again.to_document()["sections"]
    for section in SECTIONS:
        assert strip(theirs[section]) == strip(ours[section]), section


def test_sections_carry_ips_loinc_codes_and_ours() -> None:
    codes = section_codes(build_document(summary(YEN), now=NOW))
    assert codes == [["emergency-core"], ["48765-2", "allergies"], ["11450-4", "conditions"],
                     ["10160-0", "medications"], ["11369-6", "immunizations"],
                     ["30954-2", "vitals-labs"], ["8716-3", "vitals-labs"],
                     ["occ-exam-summary"]]
    composition = build_document(summary(YEN), now=NOW)["entry"][0]["resource"]
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    assert composition["confidentiality"] == "R"


def test_a_restricted_document_holds_only_its_sections_and_no_sensitive_entry() -> None:
    document = build_document(summary(YEN), now=NOW, sections=["emergency-core", "conditions"],
                              sensitive=False)
    validated(document)
    assert section_codes(document) == [["emergency-core"], ["11450-4", "conditions"]]
    text = json.dumps(document, ensure_ascii=False)
    assert "Rối loạn lo âu" not in text and "Sertralin" not in text
    assert "Hen phế quản" in text and "Dị ứng penicillin" in text
    assert "Salbutamol" not in text and "Tiếng ồn" not in text
    kinds = {e["resource"]["resourceType"] for e in document["entry"]}
    assert kinds == {"Composition", "Patient", "Observation", "AllergyIntolerance", "Condition",
                     "Organization"}
    assert document["entry"][0]["resource"]["confidentiality"] == "N"


def test_sensitive_entries_carry_a_security_label() -> None:
    document = build_document(summary(ANH), now=NOW)
    labelled = [e["resource"]["code"]["text"] for e in document["entry"]
                if e["resource"].get("meta", {}).get("security")]
    assert labelled == ["Xét nghiệm kháng thể kháng HIV không kết luận"]


def test_the_occupational_detail_only_with_its_section() -> None:
    summary_only = build_document(summary(HUNG), now=NOW, sections=["occ-exam-summary"])
    text = json.dumps(summary_only, ensure_ascii=False)
    assert "Loại III" in text and "Khói hàn" not in text and "Điếc nghề nghiệp" not in text
    detail = build_document(summary(HUNG), now=NOW, sections=["occ-exam-detail"])
    validated(detail)
    text = json.dumps(detail, ensure_ascii=False)
    assert "Khói hàn" in text and "Loại III" not in text


def test_empty_sections_say_why() -> None:
    bare = HealthSummary.from_document({"version": 1, "patient": {"health_id": "7412345678"},
                                        "sections": {}})
    document = build_document(bare, now=NOW, sections=["allergies"])
    validated(document)
    section = document["entry"][0]["resource"]["section"][0]
    assert "entry" not in section and section["emptyReason"]["coding"][0]["code"] == "unavailable"


def test_the_member_export_holds_everything_with_provenance() -> None:
    export = build_export(summary(HOA), now=NOW)
    parsed = validated(export)
    assert parsed.type == "collection"
    resources = [e["resource"] for e in export["entry"]]
    provenance = [r for r in resources if r["resourceType"] == "Provenance"]
    assert len(provenance) == 1
    targets = {t["reference"] for t in provenance[0]["target"]}
    clinical = {e["fullUrl"] for e in export["entry"] if e["resource"]["resourceType"] in (
        "AllergyIntolerance", "Condition", "MedicationStatement", "Immunization",
        "Observation", "Encounter")}
    assert clinical and clinical <= targets
    patient = resources[0]
    assert patient["identifier"] == [{"system": sy.HEALTH_ID, "value": HOA}]
    assert patient["contact"][0]["name"]["text"] == "Lê Văn Tâm"
    assert "Theo dõi thai kỳ" in json.dumps(export, ensure_ascii=False)


def test_unknown_sections_are_refused() -> None:
    with pytest.raises(ValueError):
        build_document(summary(YEN), now=NOW, sections=["sensitive"])


@pytest.mark.parametrize("health_id", list(FIXTURES))
def test_every_allergy_has_a_clinical_status_and_every_section_a_real_narrative(
        health_id: str) -> None:
    s = summary(health_id)
    for bundle in (build_document(s, now=NOW), build_export(s, now=NOW)):
        allergies = [e["resource"] for e in bundle["entry"]
                     if e["resource"]["resourceType"] == "AllergyIntolerance"]
        assert allergies
        for allergy in allergies:  # R4 ait-1
            assert allergy["clinicalStatus"]["coding"][0]["system"] == sy.ALLERGY_CLINICAL
            assert allergy["clinicalStatus"]["coding"][0]["code"] == "active"
    composition = build_document(s, now=NOW)["entry"][0]["resource"]
    for section in composition["section"]:
        div = section["text"]["div"]
        assert section["text"]["status"] == "generated"
        # more than the title: a table of the entries (or a line saying there are none)
        assert ("<table>" in div) == ("entry" in section), section["title"]
        assert "<tr><td>" in div or "Không có thông tin" in div
