"""On-card freshness: a new health summary (push or pull) of a member whose active on-card
consent puts the core on the card reissues the card when the core changed; expired on-card
consents are run by ``unioncard cards refresh-on-card``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.composition import card_desk_for, consent_service_for
from app.models import AuditEntry, Card, CardStatus
from app.services.health.consent import Evidence, Grantee
from app.services.health.on_card import OnCardCore
from tests.app.fhir_fixtures import bundle, raw
from tests.app.test_consent_on_card import CORE, claims_of, grant_on_card, scope, store_summary
from tests.app.test_fhir_client import Behaviour, behaviour, server  # noqa: F401 (fixtures)
from tests.app.test_health_pull import pulling  # noqa: F401 (fixture)
from tests.app.test_health_push import FHIR, URL, YEN, feed, office  # noqa: F401 (fixtures)
from tests.app.test_health_store import cipher_for_tests
from tests.conftest import invoke


def cards_of(session: Any, member_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.member_id == member_id)
                                .order_by(Card.id).execution_options(populate_existing=True)))


def _on_card_member(app: Flask, session: Any, member: Any) -> Card:
    """A member with a card and an active on-card consent (no summary yet: no core)."""
    card = card_desk_for(app, session, "user:1").issue(scope(), member.id).card
    grant_on_card(app, session, member.id)
    session.commit()
    assert cards_of(session, member.id) == [card]  # nothing to carry yet: no reissue
    return card


def test_a_push_that_changes_the_core_reissues_the_card(
        app: Flask, client: FlaskClient, session: Any, office: dict[str, Any],  # noqa: F811
        feed: dict[str, Any]) -> None:  # noqa: F811
    yen = office["members"][YEN]
    old = _on_card_member(app, session, yen)
    assert client.post(URL, data=raw(YEN), headers=feed["headers"]).status_code == 200
    first, second = cards_of(session, yen.id)
    assert (first.serial, first.status, first.status_reason) == (old.serial, CardStatus.REVOKED,
                                                                 "superseded")
    assert second.reprint_needed and second.has_emergency_core
    assert claims_of(app, session, second).emergency == CORE
    reason = session.scalar(select(AuditEntry.reason).where(AuditEntry.action == "card.reissue"))
    assert reason == "health-summary-changed"

    assert client.post(URL, data=raw(YEN), headers=feed["headers"]).get_json()["status"] \
        == "unchanged"
    no_shots = bundle(YEN)
    no_shots["entry"] = [e for e in no_shots["entry"]
                         if e["resource"]["resourceType"] != "Immunization"]
    assert client.post(URL, data=json.dumps(no_shots), headers=feed["headers"]
                       ).get_json()["status"] == "stored"
    assert len(cards_of(session, yen.id)) == 2  # stored, but the core is the same: no reissue

    no_allergies = bundle(YEN)
    no_allergies["entry"] = [e for e in no_allergies["entry"]
                             if e["resource"]["resourceType"] != "AllergyIntolerance"]
    assert client.post(URL, data=json.dumps(no_allergies), headers=feed["headers"]
                       ).get_json()["status"] == "stored"
    *_, newest = cards_of(session, yen.id)
    assert newest.serial != second.serial and newest.reprint_needed
    assert claims_of(app, session, newest).emergency.allergies == ()


def test_a_push_for_a_member_without_on_card_consent_leaves_the_card(
        app: Flask, client: FlaskClient, session: Any, office: dict[str, Any],  # noqa: F811
        feed: dict[str, Any]) -> None:  # noqa: F811
    yen = office["members"][YEN]
    card = card_desk_for(app, session, "user:1").issue(scope(), yen.id).card
    session.commit()
    assert client.post(URL, data=raw(YEN), headers=feed["headers"]).status_code == 200
    assert cards_of(session, yen.id) == [card] and card.status is CardStatus.ACTIVE


def test_a_pull_that_brings_the_core_reissues_the_card(
        app: Flask, client: FlaskClient, session: Any, factory: Any,
        pulling: str) -> None:  # noqa: F811
    union = factory.union(province="24")
    member = factory.member(union)
    headers = factory.headers(factory.user("officer", "24"))
    _on_card_member(app, session, member)
    linked = client.put(f"/api/v1/members/{member.id}/health-link",
                        json={"health_id": YEN}, headers=headers)
    assert linked.status_code == 200, linked.get_json()
    old, new = cards_of(session, member.id)
    assert old.status is CardStatus.REVOKED and new.reprint_needed
    assert claims_of(app, session, new).emergency == CORE


def lapsed_on_card_member(app: Flask, session: Any, factory: Any) -> Any:
    """Yến, whose card (issued 60 days ago) carries the emergency core under an on-card
    consent that ran out 30 days ago."""
    from tests.app.cards_helpers import office as make_office

    yen = make_office(factory)["yen"]
    store_summary(session, yen.id)
    past = datetime.now(UTC) - timedelta(days=60)
    consents = consent_service_for(app, session, "member:1")
    consents.clock = lambda: past
    consents.grant(yen.id, "on-card", Grantee.all_accredited(), "treatment",
                   Evidence(method="app", actor="member:1"), ends_at=past + timedelta(days=30))
    desk = card_desk_for(app, session, "user:1")
    desk.emergency_core = OnCardCore(session, cipher_for_tests(), clock=lambda: past)
    card = desk.issue(scope(), yen.id).card  # issued while the consent was running
    session.commit()
    assert card.has_emergency_core
    return yen


def test_the_command_reissues_cards_of_lapsed_consents_once(
        app: Flask, session: Any, factory: Any) -> None:
    yen = lapsed_on_card_member(app, session, factory)

    result = invoke(app, "cards", "refresh-on-card")
    assert result.exit_code == 0, result.output
    assert "1 card(s) carried an emergency core" in result.output
    old, new = cards_of(session, yen.id)
    assert old.status is CardStatus.REVOKED and new.reprint_needed
    assert not new.has_emergency_core and f"reissued {new.serial}" in result.output
    again = invoke(app, "cards", "refresh-on-card")
    assert again.exit_code == 0 and again.output.startswith("0 card(s)")
    assert len(cards_of(session, yen.id)) == 2


@pytest.mark.slow
def test_the_command_runs_as_a_process(committed_office: Any) -> None:
    import subprocess
    import sys

    from tests.conftest import unioncard_env

    app = committed_office("refresh")
    env = unioncard_env(app.config["DATABASE_URL"])
    done = subprocess.run([sys.executable, "-m", "app", "cards", "refresh-on-card"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 card(s)")
