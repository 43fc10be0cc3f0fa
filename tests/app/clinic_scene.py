"""The clinic-flow scene: Yến with an activated account (PIN), her card, her stored health
summary and consents, and a clinic with an API client; helpers to verify and pull."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import card_desk_for, cipher_for_config
from app.models.access_event import AccessEvent
from app.services.health.consent import ConsentService, Evidence, Grantee
from app.services.health.fhir_in import parse_bundle
from app.services.health.store import HealthStore
from tests.app.fhir_fixtures import raw
from tests.app.test_member_accounts import PIN, activate

HEALTH_ID = "7412345678"
VERIFY = "/api/v1/verify"
PULL = "/api/v1/pull"
EMERGENCY = "/api/v1/emergency-access"


def consent(app: Flask, session: Session, member: Any, scope: str, *,
            grantee: Grantee | None = None, purpose: str = "treatment",
            days: int = 90) -> Any:
    """Grant the member's consent to ``scope`` (committed)."""
    service = ConsentService(session, on_card_changed=lambda _member_id: None)
    version = service.grant(member.id, scope, grantee or Grantee.all_accredited(), purpose,
                            Evidence(method="app", actor=f"member:{member.id}"),
                            ends_at=utc_now() + timedelta(days=days))
    session.commit()
    return version


def withdraw(session: Session, member: Any, version: Any) -> None:
    ConsentService(session, on_card_changed=lambda _member_id: None).withdraw(
        member.id, version.consent_id, Evidence(method="app", actor=f"member:{member.id}"))
    session.commit()


@pytest.fixture
def scene(app: Flask, session: Session, client: FlaskClient, yen: dict[str, Any],
          clinic: Any, clinic_client: Any, clinic_headers: dict[str, str]) -> dict[str, Any]:
    """Yến activated (PIN known), her summary stored, consent to allergies for all accredited
    clinics (treatment); the clinic 27001 with its client headers."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    summary = parse_bundle(raw(HEALTH_ID), health_id=HEALTH_ID, feed="test",
                           received_at=utc_now())
    HealthStore(session, cipher_for_config(app.config), actor="test").save(
        yen["member"].id, summary.to_document(), source="feed:test", bundle_id="b-1")
    session.commit()
    allergies = consent(app, session, yen["member"], "allergies")
    text = card_desk_for(app, session, "test").text(yen["card"])
    return {**yen, "text": text, "clinic": clinic, "login": clinic_client,
            "headers": clinic_headers, "allergies": allergies, "pin": PIN}


def verify(client: FlaskClient, scene: dict[str, Any], text: str | None = None, *,
           headers: dict[str, str] | None = None, **body: Any) -> Any:
    body.setdefault("purpose", "treatment")
    if "ndef_base64" not in body:
        body.setdefault("uc1", scene["text"] if text is None else text)
    return client.post(VERIFY, json=body, headers=headers or scene["headers"])


def pull(client: FlaskClient, scene: dict[str, Any], grant: str, *,
         headers: dict[str, str] | None = None, fhir: bool = False) -> Any:
    extra = {"Accept": "application/fhir+json"} if fhir else {}
    return client.get(PULL, headers={**(headers or scene["headers"]), "X-Pull-Grant": grant,
                                     **extra})


def events(session: Session, **where: Any) -> list[AccessEvent]:
    """The access events (newest last) matching ``where``."""
    stmt = select(AccessEvent).order_by(AccessEvent.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(AccessEvent, name) == value)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))
