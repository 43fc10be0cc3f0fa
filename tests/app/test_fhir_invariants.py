"""Issue 23: every FHIR resource the service emits keeps the FHIR R4 invariants (the
``constraint`` FHIRPath expressions of the official StructureDefinitions), checked the way the
official validator checks them (tests/app/fhir_invariants.py), beside fhir.resources.

First the checker itself: hand-made resources that break an invariant are reported (so a green
run means something). Then every FHIR output of the service, from the services and through the
API: the IPS summary document (all sections, each section alone, without sensitive entries),
the member's export, the member's own summary, the clinic pull, the emergency pull, the
Consent resources and their Bundle.
"""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.services.health.consent_fhir import consent_resources
from app.services.health.fhir_in import parse_bundle
from app.services.health.fhir_out import build_document, build_export
from app.services.health.summary import SECTIONS, HealthSummary
from tests.app import fhir_invariants as fi
from tests.app.clinic_scene import EMERGENCY, consent, pull, scene, verify  # noqa: F401
from tests.app.fhir_fixtures import FIXTURES, NOW, raw
from tests.app.test_consent import Clock
from tests.app.test_consent_fhir import every_kind_of_version
from tests.app.test_member_accounts import member_headers, yen  # noqa: F401

#: (resourceType, key) of the warnings the service may emit (the validator warns, accepts):
#: dom-6, no resource-level narrative (IPS asks for narrative on the Composition's sections).
KNOWN_WARNINGS: set[tuple[str, str]] = {
    (t, "dom-6") for t in ("Composition", "Patient", "Organization", "AllergyIntolerance",
                           "Condition", "MedicationStatement", "Immunization", "Observation",
                           "Encounter", "Provenance", "Consent")}
#: The resource types the service emits (a new one needs its definitions in the data file).
EMITTED = {"Bundle", "Composition", "Patient", "Organization", "AllergyIntolerance",
           "Condition", "MedicationStatement", "Immunization", "Observation", "Encounter",
           "Provenance", "Consent"}
XHTML = "http://www.w3.org/1999/xhtml"


def div(inner: str) -> str:
    return f'<div xmlns="{XHTML}">{inner}</div>'


def allergy(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": "active"}]},
            "code": {"text": "Penicillin"},
            "text": {"status": "generated", "div": div("<p>Penicillin</p>")}, **fields}


def errors(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return fi.check(resource).keys()


def found(resource: dict[str, Any], key: str) -> list[fi.Violation]:
    report = fi.check(resource)
    return [v for v in (*report.errors, *report.warnings) if v.key == key]


# -- the checker -------------------------------------------------------------------------------
def test_the_data_is_the_r4_specification_and_covers_what_is_emitted() -> None:
    defs = fi.definitions()
    assert json.loads(fi.DATA.read_text(encoding="utf-8"))["source"].startswith(
        "hl7.fhir.r4.core 4.0.1")
    assert EMITTED <= {name for name in defs.types if defs.is_resource(name)}
    ait1 = defs.constraints["ait-1"]
    assert ait1["severity"] == "error" and "clinicalStatus.exists()" in ait1["expression"]
    assert defs.constraints["dom-6"]["severity"] == "warning"
    assert defs.constraints["con-3"]["severity"] == "warning"
    for key in ("ele-1", "ext-1", "txt-1", "txt-2", "ref-1", "qty-3", "per-1", "cpt-2",
                "bdl-7", "bdl-9", "cmp-1", "cmp-2", "dom-2", "dom-3", "dom-4", "dom-5",
                "tim-1", "sqty-1", "ppc-1"):
        assert key in defs.constraints, key
    # the constraints handled in Python or skipped are named with their reason
    assert set(fi.NATIVE) <= set(defs.constraints) and all(fi.NATIVE.values())
    assert fi._compiled() is fi._compiled()  # compiled once


def test_a_constraint_no_test_can_evaluate_needs_a_decision() -> None:
    unknown = {"x-1": {"severity": "error", "human": "x", "source": "X",
                       "expression": "subject.resolve().exists()"}}
    with pytest.raises(RuntimeError, match="x-1 needs"):
        fi.compile_all(unknown)
    assert not any(f in c["expression"] for c in fi.definitions().constraints.values()
                   for f in ("resolve()", "conformsTo(", "memberOf("))


def test_a_valid_resource_has_no_violation() -> None:
    report = fi.check(allergy())
    assert report.errors == [] and report.warnings == []
    assert report.evaluated["ait-1"] == 1 and report.evaluated["ele-1"] > 5
    assert report.evaluated["txt-1"] == 1 and report.evaluated["dom-6"] == 1


def test_ait_1_an_allergy_without_clinical_status() -> None:
    bad = allergy()
    del bad["clinicalStatus"]
    [v] = found(bad, "ait-1")
    assert (v.resource_type, v.severity, v.path) == ("AllergyIntolerance", "error",
                                                     "AllergyIntolerance")
    assert "clinicalStatus SHALL be present" in v.text
    entered_in_error = {**bad, "verificationStatus": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        "code": "entered-in-error"}]}}
    assert found(entered_in_error, "ait-1") == []
    # ait-2: and never both
    assert found({**entered_in_error, "clinicalStatus": allergy()["clinicalStatus"]},
                 "ait-2")


def test_con_3_is_a_warning_not_an_error() -> None:
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
                 "code": {"text": "Asthma"},
                 "category": [{"coding": [{
                     "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                     "code": "problem-list-item"}]}],
                 "text": {"status": "generated", "div": div("Asthma")}}
    report = fi.check(condition)
    assert report.errors == []
    assert [(v.key, v.severity) for v in report.warnings] == [("con-3", "warning")]


def test_dom_6_a_resource_without_narrative_is_warned() -> None:
    bare = allergy()
    del bare["text"]
    report = fi.check(bare)
    assert report.errors == [] and report.keys("warning") == {("AllergyIntolerance", "dom-6")}


@pytest.mark.parametrize(("inner", "problem"), [
    ("<script>alert(1)</script>", "element <script> is not allowed"),
    ("<form><p>x</p></form>", "element <form> is not allowed"),
    ('<base href="http://x"/>x', "element <base> is not allowed"),
    ('<link rel="stylesheet" href="s.css"/>x', "element <link> is not allowed"),
    ("<iframe>x</iframe>", "element <iframe> is not allowed"),
    ('<p onclick="f()">x</p>', "attribute onclick is not allowed on <p>"),
    ('<a href="javascript:f()">x</a>', "<a href> holds script"),
    ('<img src="file:///etc/passwd" alt="x"/>', "is not local or http(s)"),
    ("<p><div>x</div></p>", "block <div> inside a paragraph"),
    ("<table><td>x</td></table>", "<table> cannot hold td"),
    ("<ul>text<li>x</li></ul>", "<ul> cannot hold text"),
    ('<svg xmlns="http://www.w3.org/2000/svg">x</svg>', "is not in the XHTML namespace"),
    ("<p>x</b>", "well-formed XML"),
])
def test_txt_1_narrative_xhtml_rules(inner: str, problem: str) -> None:
    violations = found(allergy(text={"status": "generated", "div": div(inner)}), "txt-1")
    assert violations and all(v.severity == "error" for v in violations)
    assert any(problem in v.detail for v in violations), violations


def test_txt_1_the_root_is_an_xhtml_div_and_allowed_markup_passes() -> None:
    assert found(allergy(text={"status": "generated", "div": "<div>x</div>"}), "txt-1")
    assert found(allergy(text={"status": "generated",
                               "div": f'<p xmlns="{XHTML}">x</p>'}), "txt-1")
    rich = div('<h3 id="a">Dị ứng</h3><table class="grid"><thead><tr><th>Chất</th></tr>'
               '</thead><tbody><tr><td><b>Penicillin</b> <a href="#a">↑</a></td></tr></tbody>'
               '</table><ul><li>Sốc phản vệ</li></ul><img src="#pic" alt="x"/>')
    assert found(allergy(text={"status": "generated", "div": rich}), "txt-1") == []


def test_txt_2_a_narrative_with_no_content() -> None:
    [v] = found(allergy(text={"status": "generated", "div": div("  <p> </p> ")}), "txt-2")
    assert v.severity == "error" and v.path == "AllergyIntolerance.text.div"
    assert found(allergy(text={"status": "generated", "div": div('<img src="#x"/>')}),
                 "txt-2") == []


def test_ele_1_an_element_with_neither_value_nor_children() -> None:
    patient = {"resourceType": "Patient", "name": [{"text": "A"}, {}],
               "_birthDate": {"id": "b"}}
    paths = {v.path for v in found(patient, "ele-1")}
    assert paths == {"Patient.name[1]", "Patient.birthDate"}
    # a primitive with only an extension has children: no ele-1
    ok = {"resourceType": "Patient", "_birthDate": {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
        "valueCode": "unknown"}]}}
    assert found(ok, "ele-1") == []


def test_ext_1_an_extension_with_both_value_and_extensions() -> None:
    patient = {"resourceType": "Patient", "extension": [{
        "url": "http://example.org/x", "valueString": "a",
        "extension": [{"url": "b", "valueString": "c"}]}]}
    [v] = found(patient, "ext-1")
    assert v.path == "Patient.extension[0]"


def test_bdl_7_and_the_document_rules() -> None:
    entry = {"fullUrl": "urn:uuid:6f1c8a43-3c5e-4f5c-9d62-1a2b3c4d5e6f",
             "resource": {"resourceType": "Patient", "name": [{"text": "A"}]}}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [entry, entry]}
    assert ("Bundle", "bdl-7") in errors(bundle)
    document = {"resourceType": "Bundle", "type": "document", "entry": [entry]}
    assert {("Bundle", "bdl-9"), ("Bundle", "bdl-10"), ("Bundle", "bdl-11")} <= errors(document)


def test_an_empty_result_is_a_violation_as_in_the_validator() -> None:
    # no type: `type = 'document' implies timestamp.hasValue()` is empty, not true
    [v] = found({"resourceType": "Bundle"}, "bdl-10")
    assert v.detail.endswith("is empty")
    assert found({"resourceType": "Bundle", "timestamp": "2025-01-01T00:00:00Z"},
                 "bdl-10") == []


def test_resources_inside_bundles_and_contained_are_checked() -> None:
    bad = allergy()
    del bad["clinicalStatus"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"fullUrl": "urn:uuid:1", "resource": bad}]}
    [v] = found(bundle, "ait-1")
    assert (v.resource_type, v.path) == ("AllergyIntolerance", "Bundle.entry[0].resource")
    holder = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
              "code": {"text": "x"}, "contained": [{**bad, "id": "a1"}],
              "evidence": [{"detail": [{"reference": "#a1"}]}]}
    [v] = found(holder, "ait-1")
    assert v.path == "Condition.contained[0]"


def test_ref_1_and_dom_3_local_references() -> None:
    org = {"resourceType": "Organization", "id": "o1", "name": "Clinic"}
    patient = {"resourceType": "Patient", "contained": [org],
               "managingOrganization": {"reference": "#o1"}}
    assert errors(patient) == set()
    dangling = {**patient, "managingOrganization": {"reference": "#o2"}}
    assert {("Patient", "ref-1"), ("Patient", "dom-3")} <= errors(dangling)
    # a reference by identifier or display only has no local reference to check
    assert errors({"resourceType": "Patient",
                   "managingOrganization": {"display": "Clinic"}}) == set()


def test_per_1_compares_instants_across_utc_offsets() -> None:
    def encounter(start: str, end: str) -> dict[str, Any]:
        return {"resourceType": "Encounter", "status": "finished",
                "class": {"code": "AMB"}, "period": {"start": start, "end": end}}

    assert errors(encounter("2025-01-01T10:00:00+07:00", "2025-01-01T04:00:00Z")) == set()
    [v] = found(encounter("2025-01-01T10:00:00Z", "2025-01-01T10:00:00+07:00"), "per-1")
    assert v.path == "Encounter.period"
    assert found(encounter("2025-03", "2025-02-27"), "per-1")
    assert found(encounter("2025-02", "2025-02-27"), "per-1") == []


def test_rng_2_and_mdd_1_compare_values() -> None:
    def statement(low: float, high: float) -> dict[str, Any]:
        return {"resourceType": "MedicationStatement", "status": "active",
                "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "x"},
                "dosage": [{"doseAndRate": [{"doseRange": {
                    "low": {"value": low, "system": "http://unitsofmeasure.org", "code": "mg"},
                    "high": {"value": high, "system": "http://unitsofmeasure.org",
                             "code": "mg"}}}]}]}

    assert errors(statement(250, 500)) == set()
    [v] = found(statement(500, 250), "rng-2")
    assert v.path == "MedicationStatement.dosage[0].doseAndRate[0].doseRange"
    dispense = {"resourceType": "MedicationDispense", "status": "completed",
                "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "x"},
                "whenPrepared": "2025-01-01T10:00:00+07:00",
                "whenHandedOver": "2025-01-01T04:00:00Z"}
    assert errors(dispense) == set()
    assert found({**dispense, "whenHandedOver": "2025-01-01T02:00:00Z"}, "mdd-1")


def test_quantity_contact_point_composition_and_consent_rules() -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "ALT"},
                   "valueQuantity": {"value": 58, "code": "U/L"},
                   "referenceRange": [{"low": {"value": 1, "comparator": "<"}}]}
    assert {("Observation", "qty-3"), ("Observation", "sqty-1")} <= errors(observation)
    patient = {"resourceType": "Patient", "telecom": [{"value": "0912 777 345"}]}
    assert ("Patient", "cpt-2") in errors(patient)
    composition = {"resourceType": "Composition", "status": "final", "type": {"text": "x"},
                   "date": "2025-01-01", "author": [{"display": "a"}], "title": "t",
                   "section": [{"title": "empty"},
                               {"title": "both", "entry": [{"reference": "Patient/p"}],
                                "emptyReason": {"text": "none"}},
                               {"title": "nested", "section": [{"title": "inner"}]}]}
    violations = found(composition, "cmp-1")
    assert {v.path for v in violations} == {"Composition.section[0]",
                                            "Composition.section[2].section[0]"}
    assert [v.path for v in found(composition, "cmp-2")] == ["Composition.section[1]"]
    consent_ = {"resourceType": "Consent", "status": "active",
                "scope": {"text": "privacy"}, "category": [{"text": "c"}]}
    assert ("Consent", "ppc-1") in errors(consent_)


def test_json_shape_and_unknown_elements_are_errors() -> None:
    report = fi.check({"resourceType": "Patient", "name": [], "telecom": [None],
                       "gender": "", "nickname": "Yến"})
    assert {(v.key, v.path) for v in report.errors} == {
        ("json", "Patient.name"), ("json", "Patient.telecom[0]"),
        ("json", "Patient.gender"), ("element", "Patient.nickname")}
    assert fi.check({"resourceType": "Spaceship"}).keys() == {("Spaceship", "element")}


# -- what the service emits --------------------------------------------------------------------
#: IPS-shaped Bundles (every IPS section, panels, structured dosages, coded severities).
IPS = {path.name.split("-")[-1].removesuffix(".json"): path
       for path in sorted((Path(__file__).with_name("fixtures") / "ips").glob("*.json"))}


def summary(health_id: str) -> HealthSummary:
    data = IPS[health_id].read_bytes() if health_id in IPS else raw(health_id)
    return parse_bundle(data, health_id=health_id, feed="f", received_at=NOW)


@cache
def service_outputs() -> dict[str, dict[str, Any]]:
    """Every document fhir_out builds from the shipped fixtures and the IPS-shaped ones: the
    whole summary, each section alone without sensitive entries (the clinic pull; the
    emergency core is the emergency pull), and the export."""
    out: dict[str, dict[str, Any]] = {}
    assert len(IPS) >= 2
    for health_id in (*FIXTURES, *IPS):
        s = summary(health_id)
        out[f"document-{health_id}"] = build_document(s, now=NOW, document_id="d")
        out[f"document-{health_id}-not-sensitive"] = build_document(
            s, now=NOW, sensitive=False, document_id="d")
        for section in SECTIONS:
            out[f"document-{health_id}-{section}"] = build_document(
                s, now=NOW, sections=[section], sensitive=False, document_id="d")
        out[f"export-{health_id}"] = build_export(s, now=NOW)
    return out


def assert_valid(resource: dict[str, Any]) -> fi.Report:
    """No error-severity violation; the report for more checks."""
    report = fi.check(resource)
    assert report.errors == [], "\n".join(map(str, report.errors))
    new_warnings = [v for v in report.warnings
                    if (v.resource_type, v.key) not in KNOWN_WARNINGS]
    assert new_warnings == [], "\n".join(map(str, new_warnings))
    kinds = _resource_types(resource)
    assert set(kinds) <= EMITTED, set(kinds) - EMITTED
    # every resource was reached: its type's own constraints were evaluated once per resource
    defs = fi.definitions()
    for kind in set(kinds):
        for key in defs.types[kind]["elements"][kind].get("constraints", ()):
            assert report.evaluated[key] >= kinds.count(kind), (kind, key)
    return report


def _resource_types(resource: Any) -> list[str]:
    if isinstance(resource, dict):
        own = [resource["resourceType"]] if "resourceType" in resource else []
        return own + [t for v in resource.values() for t in _resource_types(v)]
    if isinstance(resource, list):
        return [t for v in resource for t in _resource_types(v)]
    return []


@pytest.mark.parametrize("name", sorted(service_outputs()))
def test_every_document_the_service_builds_keeps_the_invariants(name: str) -> None:
    report = assert_valid(service_outputs()[name])
    assert report.evaluated["ele-1"] > 0 and report.evaluated["bdl-7"] == 1


def test_the_whole_document_reaches_every_emitted_type() -> None:
    kinds = {t for name, r in service_outputs().items() for t in _resource_types(r)}
    assert kinds == EMITTED - {"Consent"}


def test_consent_resources_keep_the_invariants(session: Session, member: Any,
                                               clinic: Any) -> None:
    clock = Clock(NOW)
    service, _ = every_kind_of_version(session, member.id, clock)
    resources = consent_resources(service.history(member.id),
                                  member_number=member.member_number, now=clock.now)
    assert len(resources) == 6
    for resource in resources:
        report = assert_valid(resource)
        assert report.evaluated["ppc-1"] == 1 and report.evaluated["per-1"] == 1
        assert report.evaluated["ext-1"] == 7  # the evidence extension and its six parts


@pytest.fixture
def member(factory: Any) -> Any:
    return factory.member(factory.union(province="24"))


# -- through the API ---------------------------------------------------------------------------
FHIR = {"Accept": "application/fhir+json"}


def fhir_body(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body: dict[str, Any] = json.loads(response.data)
    return body


def test_the_api_fhir_outputs_keep_the_invariants(app: Flask, session: Session,
                                                 client: FlaskClient,
                                                 scene: dict[str, Any]) -> None:
    """Yến (summary stored, consent to every section and to sensitive entries): the clinic
    pull, the emergency pull, her own summary, her export and her consents, each as FHIR."""
    member = scene["member"]
    for scope in (*[s for s in SECTIONS if s != "allergies"], "sensitive"):
        consent(app, session, member, scope)
    outputs: dict[str, dict[str, Any]] = {}
    answer = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    outputs["pull"] = fhir_body(pull(client, scene, answer["grant"]["token"], fhir=True))
    emergency = client.post(EMERGENCY, headers=scene["headers"], json={
        "uc1": scene["text"], "reason": "unconscious",
        "text": "Công nhân bất tỉnh tại xưởng, cần biết dị ứng."}).get_json()
    outputs["emergency"] = fhir_body(pull(client, scene, emergency["grant"]["token"],
                                          fhir=True))
    headers = member_headers(client, member)
    outputs["own"] = fhir_body(client.get("/api/v1/me/health-summary",
                                          headers={**headers, **FHIR}))
    outputs["export"] = fhir_body(client.get("/api/v1/me/export", headers={**headers, **FHIR}))
    outputs["consents"] = fhir_body(client.get("/api/v1/me/consents/fhir", headers=headers))
    composition = outputs["pull"]["entry"][0]["resource"]
    assert len(composition["section"]) >= len(SECTIONS)  # every section was released
    assert {e["resource"]["resourceType"] for e in outputs["export"]["entry"]} >= {
        "Patient", "Organization", "AllergyIntolerance", "Provenance", "Consent"}
    failures = {}
    for name, bundle in outputs.items():
        try:
            assert_valid(bundle)
        except AssertionError as exc:
            failures[name] = str(exc)
    assert failures == {}
