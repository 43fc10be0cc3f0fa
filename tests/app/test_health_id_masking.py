"""Issue 19: a pull gave the clinic the member's full health ID (mã số BHXH) whatever its
purpose, emergency access included. Now only a treatment pull (billed to social health
insurance under that number) carries it in full; an occupational-health pull and emergency
access show it masked as officers see it (the last 4 digits), in the JSON document and in the
FHIR Patient.identifier (labelled MASKED) alike."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.services.clinic_flow.desk import FULL_HEALTH_ID_PURPOSES
from app.services.health import systems
from app.services.registry.members import mask_insurance_number
from tests.app.clinic_scene import EMERGENCY, HEALTH_ID, consent, pull, scene, verify  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401

MASKED = mask_insurance_number(HEALTH_ID[-4:])


def _grant(client: FlaskClient, scene: dict[str, Any], purpose: str) -> str:
    answer = verify(client, scene, presence={"pin": scene["pin"]}, purpose=purpose).get_json()
    assert answer["grant"] is not None, answer
    return str(answer["grant"]["token"])


def _patient(fhir: Any) -> dict[str, Any]:
    Bundle.model_validate_json(fhir.data)  # still a valid FHIR R4 document
    return next(e["resource"] for e in fhir.get_json()["entry"]
                if e["resource"]["resourceType"] == "Patient")


def _assert_masked(json_answer: Any, fhir_answer: Any) -> None:
    for answer in (json_answer, fhir_answer):
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        assert HEALTH_ID not in answer.get_data(as_text=True)
    document = json_answer.get_json()["document"]
    assert document["health_id"] == document["patient"]["health_id"] == MASKED
    patient = _patient(fhir_answer)
    assert patient["identifier"] == [{"system": systems.HEALTH_ID, "value": MASKED}]
    assert [label["code"] for label in patient["meta"]["security"]] == ["MASKED"]


def test_only_treatment_needs_the_full_health_id() -> None:
    assert FULL_HEALTH_ID_PURPOSES == {"treatment"}
    assert MASKED == "******5678"


def test_a_treatment_pull_carries_the_full_health_id(client: FlaskClient,
                                                     scene: dict[str, Any]) -> None:
    grant = _grant(client, scene, "treatment")
    document = pull(client, scene, grant).get_json()["document"]
    assert document["health_id"] == document["patient"]["health_id"] == HEALTH_ID
    patient = _patient(pull(client, scene, grant, fhir=True))
    assert patient["identifier"] == [{"system": systems.HEALTH_ID, "value": HEALTH_ID}]
    assert "meta" not in patient


def test_an_occupational_health_pull_shows_the_health_id_masked(
        app: Flask, client: FlaskClient, session: Session, scene: dict[str, Any]) -> None:
    consent(app, session, scene["member"], "vitals-labs", purpose="occupational-health")
    grant = _grant(client, scene, "occupational-health")
    _assert_masked(pull(client, scene, grant), pull(client, scene, grant, fhir=True))


def test_emergency_access_shows_the_health_id_masked(client: FlaskClient,
                                                     scene: dict[str, Any]) -> None:
    answer = client.post(EMERGENCY, headers=scene["headers"], json={
        "uc1": scene["text"], "reason": "unconscious", "text": "Found collapsed on the line."})
    assert answer.status_code == 200, answer.get_json()
    assert HEALTH_ID not in answer.get_data(as_text=True)
    grant = answer.get_json()["grant"]["token"]
    _assert_masked(pull(client, scene, grant), pull(client, scene, grant, fhir=True))
