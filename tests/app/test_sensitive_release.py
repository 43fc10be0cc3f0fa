"""The outside review's attack, replayed: a health feed pushes a Bundle with content of every
protected category in every code system (and text only, and codes nobody knows); a clinic's
ordinary pull without the member's ``sensitive`` consent, emergency access by another clinic and
the card's emergency core release none of it; with the ``sensitive`` consent the pull carries
it all. A control entry (hypertension, severe) proves each check can see what is released."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import json
from typing import Any

import pytest

from app.composition import cipher_for_config
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.health import systems as sy
from app.services.health.on_card import card_core
from app.services.health.store import HealthStore
from app.services.health.summary import HealthSummary
from tests.app.clinic_scene import EMERGENCY, consent, pull, scene, verify  # noqa: F401
from tests.app.fhir_fixtures import bundle
from tests.app.test_health_feeds import create_feed, feed_token
from tests.app.test_member_accounts import yen  # noqa: F401

HEALTH_ID = "7412345678"
SEVERE = {"coding": [{"system": sy.SNOMED, "code": sy.SEVERE, "display": "Severe"}]}
ACTIVE = {"coding": [{"system": sy.CONDITION_CLINICAL, "code": "active"}]}
POSITIVE = {"coding": [{"system": sy.SNOMED, "code": "10828004", "display": "Positive"}]}
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
WHO_2019 = "http://id.who.int/icd/release/10/2019"
ICD10_CM_OID = "urn:oid:2.16.840.1.113883.6.90"
ICD11 = "http://id.who.int/icd/release/11/mms"
LOCAL = "http://benhvien-tinh.example.vn/fhir/ma-benh"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

#: (marker, system or None for text only, code) of the conditions pushed, each severe
CONDITIONS = [
    ("ATK-C01", sy.ICD10, "F32.3"), ("ATK-C02", ICD10_CM, "F32.2"),
    ("ATK-C03", sy.ICD10_VN, "B20.0"), ("ATK-C04", WHO_2019, "O26.9"),
    ("ATK-C05", ICD10_CM_OID, "F11.20"), ("ATK-C06", sy.ICD10, "Q90.9"),
    ("ATK-C07", sy.ICD10, "A53.9"), ("ATK-C08", sy.ICD10, "B18.1"),
    ("ATK-C09", sy.SNOMED, "86406008"), ("ATK-C10", sy.SNOMED, "35489007"),
    ("ATK-C11", sy.SNOMED, "72892002"), ("ATK-C12", sy.SNOMED, "7200002"),
    ("ATK-C13", sy.SNOMED, "40108008"), ("ATK-C14", None, ""),
    ("ATK-C15", LOCAL, "TC-01"), ("ATK-C16", ICD11, "6A70"), ("ATK-C17", sy.ICD10, "Z20"),
]
#: medicines: an antiretroviral by ATC, by registration number only, by RxNorm; an antidepressant
MEDICATIONS = [
    ("ATK-M01", sy.ATC, "J05AR27"), ("ATK-M02", sy.DRUG_REGISTRATION, "VN3-123-19"),
    ("ATK-M03", RXNORM, "1999663"), ("ATK-M04", sy.ATC, "N06AB06"), ("ATK-M05", sy.ATC, "J05A"),
]
#: laboratory results: HIV viral load and antibody, CD4, hCG, HBsAg, HCV antibody, an opiate
#: screen, text only
RESULTS = [
    ("ATK-L01", sy.LOINC, "20447-9"), ("ATK-L02", sy.LOINC, "75622-1"),
    ("ATK-L03", sy.LOINC, "24467-3"), ("ATK-L04", sy.LOINC, "2106-3"),
    ("ATK-L05", sy.LOINC, "5196-1"), ("ATK-L06", sy.LOINC, "16128-1"),
    ("ATK-L07", sy.LOINC, "19295-5"), ("ATK-L08", None, ""),
]
#: results with an ordinary code (blood pressure) carrying a component of a protected category
#: (an HIV test) or one nobody knows: the component decides, fail-closed
COMPONENTS = [("ATK-P01", sy.LOINC, "75622-1"), ("ATK-P02", LOCAL, "XN-77")]
MARKERS = [m for m, _, _ in (*CONDITIONS, *MEDICATIONS, *RESULTS, *COMPONENTS)]


def _concept(marker: str, system: str | None, code: str) -> dict[str, Any]:
    text = f"{marker} nội dung nhạy cảm"
    return {"coding": [{"system": system, "code": code}], "text": text} if system else {
        "text": text}


def attack_bundle() -> dict[str, Any]:
    """Yến's record with every attack entry and the control added."""
    b = bundle(HEALTH_ID)
    patient = next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Patient")
    b["type"] = "collection"
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Composition"]
    subject = {"reference": patient}
    added: list[dict[str, Any]] = []
    for marker, system, code in [*CONDITIONS, ("CTRL-C", sy.ICD10, "I10")]:
        added.append({"resourceType": "Condition", "clinicalStatus": ACTIVE, "severity": SEVERE,
                      "code": _concept(marker, system, code), "subject": subject,
                      "recordedDate": "2025-10-01"})
    for marker, system, code in MEDICATIONS:
        added.append({"resourceType": "MedicationStatement", "status": "active",
                      "medicationCodeableConcept": _concept(marker, system, code),
                      "subject": subject, "effectiveDateTime": "2025-10-01"})
    for marker, system, code in RESULTS:
        added.append({"resourceType": "Observation", "status": "final",
                      "category": [{"coding": [{"system": sy.OBSERVATION_CATEGORY,
                                                "code": "laboratory"}]}],
                      "code": _concept(marker, system, code), "subject": subject,
                      "effectiveDateTime": "2025-10-01", "valueCodeableConcept": POSITIVE})
    for marker, system, code in COMPONENTS:
        added.append({"resourceType": "Observation", "status": "final",
                      "category": [{"coding": [{"system": sy.OBSERVATION_CATEGORY,
                                                "code": "vital-signs"}]}],
                      "code": {"coding": [{"system": sy.LOINC, "code": "85354-9"}],
                               "text": f"{marker} huyết áp"},
                      "subject": subject, "effectiveDateTime": "2025-10-01",
                      "component": [{"code": _concept(marker, system, code),
                                     "valueCodeableConcept": POSITIVE}]})
    for n, resource in enumerate(added):
        resource["id"] = f"attack-{n}"
        b["entry"].append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
                           "resource": resource})
    return b


@pytest.fixture
def attacked(app, client, factory, session, scene) -> dict[str, Any]:
    """The attack Bundle pushed by a feed of Yến's province; her consents to every ordinary
    section (not ``sensitive``)."""
    member = scene["member"]
    store = HealthStore(session, cipher_for_config(app.config), actor="test")
    if store.health_id(member.id) is None:
        store.link(Scope(Principal("user", 0, "admin")), member.id, HEALTH_ID)
        session.commit()
    feed = create_feed(client, factory, [member.province_code])
    headers = {"Authorization": f"Bearer {feed_token(client, feed)}",
               "Content-Type": "application/fhir+json"}
    pushed = client.post("/api/v1/health-records", data=json.dumps(attack_bundle()),
                         headers=headers)
    assert pushed.status_code == 200, pushed.get_json()
    for scope in ("conditions", "medications", "vitals-labs", "emergency-core"):
        consent(app, session, member, scope)
    return {**scene, "store": store}


def granted(client, scene: dict[str, Any]) -> str:
    answer = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    assert answer["grant"] is not None, answer
    return str(answer["grant"]["token"])


def leaked(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def test_nothing_sensitive_or_unclassified_leaves_without_its_consent(
        app, client, factory, session, attacked) -> None:
    grant = granted(client, attacked)
    for fhir in (False, True):
        released = pull(client, attacked, grant, fhir=fhir)
        assert released.status_code == 200
        text = released.get_data(as_text=True)
        assert "CTRL-C" in text and leaked(text) == []

    other = factory.clinic("27002", name="Trạm y tế KCN Yên Phong")
    headers = factory.clinic_headers(factory.clinic_client(other))
    emergency = client.post(EMERGENCY, headers=headers, json={
        "uc1": attacked["text"], "reason": "unconscious",
        "text": "Công nhân bất tỉnh tại xưởng, cần biết bệnh nền."})
    assert emergency.status_code == 200, emergency.get_json()
    core = json.dumps(emergency.get_json(), ensure_ascii=False)
    assert "CTRL-C" in core and leaked(core) == []
    pulled = pull(client, attacked, emergency.get_json()["grant"]["token"], headers=headers)
    assert "CTRL-C" in pulled.get_data(as_text=True)
    assert leaked(pulled.get_data(as_text=True)) == []

    document = attacked["store"].load(attacked["member"].id)
    assert document is not None
    on_card = card_core(HealthSummary.from_document(document))
    assert on_card is not None and on_card.conditions
    pushed = {code for _, _, code in CONDITIONS}
    assert not pushed & set(on_card.conditions)
    assert not any(m in label for m in MARKERS for label in on_card.allergies)


def test_with_the_sensitive_consent_the_pull_carries_all_of_it(
        app, client, session, attacked) -> None:
    consent(app, session, attacked["member"], "sensitive")
    grant = granted(client, attacked)
    for fhir in (False, True):
        text = pull(client, attacked, grant, fhir=fhir).get_data(as_text=True)
        assert leaked(text) == MARKERS


def test_the_member_sees_what_is_not_classified(app, client, attacked) -> None:
    from tests.app.test_member_accounts import member_headers

    headers = member_headers(client, attacked["member"])
    document = client.get("/api/v1/me/health-summary", headers=headers).get_json()
    entries = {e["text"].split()[0]: e for section in ("conditions", "medications",
                                                       "vitals-labs")
               for e in document["sections"][section]}
    assert entries["ATK-C14"]["sensitivity"] == "unclassified"  # text only
    assert entries["ATK-C15"]["sensitivity"] == "unclassified"  # a local code
    assert entries["ATK-C17"]["sensitivity"] == "unclassified"  # Z20 spans Z20.6 (HIV)
    assert entries["ATK-M02"]["sensitivity"] == "unclassified"  # registration number only
    assert entries["ATK-C09"]["sensitivity"] == "hiv-sti"
    assert entries["ATK-L04"]["sensitivity"] == "reproductive-sexual-health"
    assert entries["ATK-P01"]["sensitivity"] == "hiv-sti"  # its component
    assert entries["ATK-P02"]["sensitivity"] == "unclassified"
    assert entries["CTRL-C"]["sensitive"] is False and entries["CTRL-C"]["sensitivity"] is None
    assert all(entries[m]["sensitive"] for m in MARKERS)
