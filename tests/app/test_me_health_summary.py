"""A member's own health summary through the API (/api/v1/me/health-summary)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import cipher_for_config
from app.services.health.fhir_in import parse_bundle
from app.services.health.store import HealthStore
from tests.app.fhir_fixtures import FIXTURES, raw
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401

URL = "/api/v1/me/health-summary"
HEALTH_ID = "7412345678"


@pytest.fixture
def headers(client: FlaskClient, yen: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    """Yến's member token (her account activated)."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    return member_headers(client, yen["member"])


@pytest.fixture
def stored(app: Flask, session: Session, yen: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Yến's summary (the shipped fixture Bundle) stored for her."""
    summary = parse_bundle(raw(HEALTH_ID), health_id=HEALTH_ID, feed="test",
                           received_at=utc_now())
    document = summary.to_document()
    HealthStore(session, cipher_for_config(app.config), actor="test").save(
        yen["member"].id, document, source="feed:test", bundle_id="b-1")
    session.commit()
    return document


def test_the_member_sees_their_whole_summary(client: FlaskClient, headers: dict[str, str],
                                             stored: dict[str, Any]) -> None:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.get_json() == stored
    assert response.get_json()["health_id"] == HEALTH_ID


def test_sections_can_be_picked(client: FlaskClient, headers: dict[str, str],
                                stored: dict[str, Any]) -> None:
    response = client.get(URL, headers=headers,
                          query_string=[("section", "allergies"), ("section", "medications")])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body["sections"]) == {"allergies", "medications"}
    assert body["sections"]["allergies"] == stored["sections"]["allergies"]
    assert client.get(URL, headers=headers,
                      query_string={"section": "secrets"}).status_code == 422


def test_the_fhir_form_is_an_ips_document_bundle(client: FlaskClient, headers: dict[str, str],
                                                 stored: dict[str, Any]) -> None:
    response = client.get(URL, headers={**headers, "Accept": "application/fhir+json"})
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert "no-store" in response.headers["Cache-Control"]
    bundle = Bundle.model_validate_json(response.data)
    assert bundle.type == "document"
    composition = bundle.entry[0].resource
    assert composition.__resource_type__ == "Composition"
    codes = {c.code for s in composition.section for c in s.code.coding}
    assert {"allergies", "medications"} <= codes
    only = client.get(URL, query_string={"section": "allergies"},
                      headers={**headers, "Accept": "application/fhir+json"})
    only_codes = {c["code"] for s in json.loads(only.data)["entry"][0]["resource"]["section"]
                  for c in s["code"]["coding"]}
    assert "allergies" in only_codes and "medications" not in only_codes


def test_no_summary_is_a_404_problem(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(URL, headers=headers)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("health-summary-missing")


def test_the_token_check_reads_the_summary_in_the_same_single_statement(
        app: Flask, client: FlaskClient, headers: dict[str, str], stored: dict[str, Any]) -> None:
    from app.extensions import db

    selects: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine_for(app), "before_cursor_execute", seen)
    try:
        response = client.get(URL, headers=headers)
    finally:
        event.remove(db.engine_for(app), "before_cursor_execute", seen)
    assert response.status_code == 200
    assert response.get_json() == stored
    assert len(selects) == 1, selects
    assert "member_accounts" in selects[0] and "health_records" in selects[0]


def test_an_ended_token_gets_no_summary(client: FlaskClient, headers: dict[str, str],
                                        stored: dict[str, Any]) -> None:
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert stored["health_id"] not in response.get_data(as_text=True)


def test_a_member_who_left_gets_no_summary(client: FlaskClient, session: Session,
                                           headers: dict[str, str], stored: dict[str, Any],
                                           yen: dict[str, Any]) -> None:  # noqa: F811
    from app.models import Member, MemberStatus

    session.get(Member, yen["member"].id).status = MemberStatus.LEFT  # type: ignore[union-attr]
    session.commit()
    assert client.get(URL, headers=headers).status_code == 401


def test_staff_and_strangers_are_refused(client: FlaskClient, factory: Any) -> None:
    staff = factory.headers(factory.user("officer", "24"))
    assert client.get(URL, headers=staff).status_code == 403
    assert client.get(URL).status_code == 401



@pytest.mark.parametrize("health_id", FIXTURES)
def test_the_stored_document_is_what_the_member_is_shown(health_id: str) -> None:
    """The whole summary is served as the stored canonical bytes, unparsed: that is the
    document re-read and re-serialised (for every shipped fixture)."""
    from app.services.health.store import canonical
    from app.services.health.summary import HealthSummary

    stored = parse_bundle(raw(health_id), health_id=health_id, feed="t",
                          received_at=utc_now()).to_document()
    again = HealthSummary.from_document(json.loads(canonical(stored))).to_document(
        sensitive=True)
    assert canonical(again) == canonical(stored)

