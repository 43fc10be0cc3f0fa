"""A member's own consents through the API (/api/v1/me/consents) and the public notices."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.services.health.consent_notices import CURRENT_NOTICE
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401

URL = "/api/v1/me/consents"
NOTICE = {"version": CURRENT_NOTICE, "language": "vi"}


@pytest.fixture
def headers(client: FlaskClient, yen: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    """Yến's member token (her account activated)."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    return member_headers(client, yen["member"])


def _grant(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    ends = (utc_now() + timedelta(days=180)).isoformat()
    payload = {"scope": "allergies", "grantee": {"kind": "all-accredited"},
               "purpose": "treatment", "ends": ends, "notice": NOTICE, **body}
    return client.post(URL, json=payload, headers=headers)


def test_none_by_default_then_grant_withdraw_and_a_second_withdrawal_conflicts(
        client: FlaskClient, headers: dict[str, str]) -> None:
    assert client.get(URL, headers=headers).get_json() == []
    granted = _grant(client, headers)
    assert granted.status_code == 201, granted.get_json()
    body = granted.get_json()
    assert (body["status"], body["version"], body["scope"]) == ("active", 1, "allergies")
    assert body["grantee"] == {"kind": "all-accredited"}
    listed = client.get(URL, headers=headers).get_json()
    assert [c["consent_id"] for c in listed] == [body["consent_id"]]

    withdrawn = client.post(f"{URL}/{body['consent_id']}/withdraw", json={"notice": NOTICE},
                            headers=headers)
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert (withdrawn.get_json()["status"], withdrawn.get_json()["version"]) == ("withdrawn", 2)
    again = client.post(f"{URL}/{body['consent_id']}/withdraw", json={"notice": NOTICE},
                        headers=headers)
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert client.get(URL, headers=headers).get_json() == []
    ended = client.get(URL, query_string={"include_ended": "true"}, headers=headers).get_json()
    assert [c["status"] for c in ended] == ["withdrawn"]


def test_a_renewal_extends_and_history_keeps_every_version_with_evidence(
        client: FlaskClient, headers: dict[str, str], yen: dict[str, Any]) -> None:  # noqa: F811
    from app.services.health.consent_notices import notice

    shown = notice(CURRENT_NOTICE, "en").sha256
    consent = _grant(client, headers, grantee={"kind": "facility-type",
                                               "facility_type": "district-hospital"},
                     notice={"version": CURRENT_NOTICE, "language": "en",
                             "shown_sha256": shown}).get_json()
    assert "consent_id" in consent, consent
    cid = consent["consent_id"]
    assert consent["grantee"] == {"kind": "facility-type", "facility_type": "district-hospital"}
    renewed = client.post(f"{URL}/{cid}/renew", headers=headers, json={
        "ends": (utc_now() + timedelta(days=300)).isoformat(), "notice": NOTICE})
    assert renewed.status_code == 200, renewed.get_json()
    assert renewed.get_json()["version"] == 2
    other = _grant(client, headers, scope="medications").get_json()

    one = client.get(f"{URL}/{cid}/history", headers=headers).get_json()
    assert [(v["version"], v["action"]) for v in one] == [(1, "grant"), (2, "renew")]
    assert one[0]["evidence"] == {
        "method": "app", "actor": f"member:{yen['member'].id}", "notice_version": CURRENT_NOTICE,
        "notice_language": "en", "notice_sha256": shown}
    assert one[1]["evidence"]["notice_language"] == "vi"
    every = client.get(f"{URL}/history", headers=headers).get_json()
    assert [(v["consent_id"], v["version"]) for v in every] == [
        (cid, 1), (cid, 2), (other["consent_id"], 1)]
    assert client.get(f"{URL}/{'0' * 32}/history", headers=headers).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"ends": "P400D"}, "ends"),
    ({"starts": "PAST", "ends": "P30D"}, "starts"),
    ({"ends": "-P1D"}, "ends"),
    ({"grantee": {"kind": "facility", "facility_code": "12"}}, "grantee.facility_code"),
    ({"grantee": {"kind": "facility-type", "facility_type": "spa"}}, "grantee.facility_type"),
    ({"grantee": {"kind": "friends"}}, "grantee.kind"),
    ({"grantee": {"kind": "all-accredited", "facility_code": "12345"}}, "grantee"),
    ({"scope": "everything"}, "scope"),
    ({"notice": {"version": "1999-1", "language": "vi"}}, "notice"),
    ({"notice": {**NOTICE, "shown_sha256": "0" * 64}}, "notice.shown_sha256"),
])
def test_each_rule_is_a_422_naming_its_field(client: FlaskClient, headers: dict[str, str],
                                             body: dict[str, Any], field: str) -> None:
    now = utc_now()
    for key, value in list(body.items()):
        if value == "PAST":
            body[key] = (now - timedelta(days=2)).isoformat()
        elif isinstance(value, str) and value.lstrip("-").startswith("P"):
            days = int(value.lstrip("-P").rstrip("D"))
            body[key] = (now + (-1 if value.startswith("-") else 1)
                         * timedelta(days=days)).isoformat()
    response = _grant(client, headers, **body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert [(e["field"], e["pointer"]) for e in response.get_json()["errors"]] == [
        (field, "#/" + field.replace(".", "/"))], response.get_json()
    assert client.get(URL, headers=headers).get_json() == []


def test_a_body_that_is_not_a_member_apps_is_refused(client: FlaskClient,
                                                     headers: dict[str, str]) -> None:
    assert _grant(client, headers, method="paper-at-office").status_code == 422
    assert _grant(client, headers, grantee={"kind": "facility-type", "facility_type": "district-hospital",
                                            "facility_code": "12345"}).status_code == 422


def test_the_fhir_bundle_holds_every_version(client: FlaskClient, headers: dict[str, str],
                                             yen: dict[str, Any]) -> None:  # noqa: F811
    cid = _grant(client, headers).get_json()["consent_id"]
    client.post(f"{URL}/{cid}/withdraw", json={"notice": NOTICE}, headers=headers)
    _grant(client, headers, scope="emergency-core")
    response = client.get(f"{URL}/fhir", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert "no-store" in response.headers["Cache-Control"]
    bundle = Bundle.model_validate_json(response.data)
    assert bundle.type == "collection"
    consents = [e.resource for e in bundle.entry]
    assert [(c.id, c.meta.versionId, c.status) for c in consents][:2] == [
        (cid, "1", "inactive"), (cid, "2", "inactive")]
    assert consents[2].status == "active"
    assert consents[0].patient.identifier.value == yen["member"].member_number


def test_staff_and_strangers_are_refused(client: FlaskClient, factory: Any) -> None:
    staff = factory.headers(factory.user("officer", "24"))
    for method, path in (("get", URL), ("post", URL), ("get", f"{URL}/history"),
                         ("get", f"{URL}/fhir"), ("post", f"{URL}/{'0' * 32}/withdraw")):
        assert getattr(client, method)(path, headers=staff, json={}).status_code == 403
        assert getattr(client, method)(path, json={}).status_code == 401


def test_one_members_consent_is_not_anothers(client: FlaskClient, headers: dict[str, str],
                                             app: Flask, session: Session,
                                             yen: dict[str, Any]) -> None:  # noqa: F811
    from app.composition import consent_service_for
    from app.services.health.consent import Evidence, Grantee

    theirs = consent_service_for(app, session, "user:0").grant(
        yen["binh"].id, "allergies", Grantee.all_accredited(), "treatment",
        Evidence("paper-at-office", "user:0"), ends_at=utc_now() + timedelta(days=30))
    session.commit()
    assert client.post(f"{URL}/{theirs.consent_id}/withdraw", json={"notice": NOTICE},
                       headers=headers).status_code == 404
    assert client.get(f"{URL}/{theirs.consent_id}/history", headers=headers).status_code == 404


def test_the_notice_is_public_with_its_exact_text(client: FlaskClient) -> None:
    for language in ("vi", "en"):
        body = client.get(f"/api/v1/consent-notices/{CURRENT_NOTICE}/{language}").get_json()
        assert body["language"] == language
        assert hashlib.sha256(body["text"].encode("utf-8")).hexdigest() == body["sha256"]
    assert client.get(f"/api/v1/consent-notices/{CURRENT_NOTICE}/fr").status_code == 422


def test_an_on_card_consent_reissues_the_card(client: FlaskClient, headers: dict[str, str],
                                              app: Flask, session: Session,
                                              yen: dict[str, Any]) -> None:  # noqa: F811
    from sqlalchemy import select

    from app.composition import cipher_for_config
    from app.models import Card
    from app.services.health.fhir_in import parse_bundle
    from app.services.health.store import HealthStore
    from tests.app.fhir_fixtures import raw

    summary = parse_bundle(raw("7412345678"), health_id="7412345678", feed="test",
                           received_at=utc_now())
    HealthStore(session, cipher_for_config(app.config), actor="test").save(
        yen["member"].id, summary.to_document(), source="feed:test", bundle_id="b-1")
    session.commit()
    old = yen["card"].serial
    assert _grant(client, headers, scope="on-card", purpose="occupational-health"
                  ).status_code == 422
    granted = _grant(client, headers, scope="on-card")
    assert granted.status_code == 201, granted.get_json()
    cards = list(session.scalars(select(Card).where(Card.member_id == yen["member"].id)
                                 .execution_options(populate_existing=True)))
    assert len(cards) == 2 and any(c.reprint_needed and c.serial != old for c in cards)
