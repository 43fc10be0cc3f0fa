"""The on-card consent: the card is reissued with or without the emergency core, the old one
superseded, and the office sees the reprint to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import cards
from app.composition import card_desk_for, consent_service_for, publisher_for
from app.models import AuditEntry, Card, CardStatus, MemberStatus
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.health.consent import ConsentService, Evidence, Grantee, add_months
from app.services.health.fhir_in import parse_bundle
from app.services.health.on_card import OnCardCore, card_core, lapsed_on_card
from app.services.health.store import HealthStore
from tests.app.cards_helpers import office
from tests.app.fhir_fixtures import raw
from tests.app.test_health_store import cipher_for_tests

YEN = "7412345678"
CORE = cards.EmergencyCore("O+", ("Dị ứng penicillin",), ("J45.9",))
BY_APP = Evidence(method="app", actor="member:1")


def scope() -> Scope:
    return Scope(Principal("user", 1, "officer", province_code="24"))


@pytest.fixture
def world(factory) -> dict[str, Any]:
    return office(factory)


def store_summary(session: Any, member_id: int) -> None:
    summary = parse_bundle(raw(YEN), health_id=YEN, feed="f", received_at=datetime.now(UTC))
    HealthStore(session, cipher_for_tests(), actor="test").save(
        member_id, summary.to_document(), source="f", bundle_id="b1")


def service(app: Any, session: Any) -> ConsentService:
    return consent_service_for(app, session, "member:1")


def grant_on_card(app: Any, session: Any, member_id: int, months: int = 12) -> str:
    version = service(app, session).grant(
        member_id, "on-card", Grantee.all_accredited(), "treatment", BY_APP,
        ends_at=add_months(datetime.now(UTC), months))
    return version.consent_id


def claims_of(app: Any, session: Any, card: Card) -> cards.CardClaims:
    text = card_desk_for(app, session, "test").text(card)
    result = cards.verify(text, publisher_for(app, session).live_trust(),
                          now=datetime.now(UTC))
    assert result.status == "valid", result
    assert result.claims is not None
    return result.claims


def live(session: Any, member_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(
        Card.member_id == member_id, Card.status != CardStatus.REVOKED)))


def test_the_card_core_holds_blood_group_critical_allergies_and_conditions() -> None:
    summary = parse_bundle(raw(YEN), health_id=YEN, feed="f", received_at=datetime.now(UTC))
    assert card_core(summary) == CORE  # the sensitive F41.1 and non-critical entries stay off


def test_granting_on_card_reissues_the_card_with_the_core_for_reprint(app, session,
                                                                      world) -> None:
    yen = world["yen"]
    store_summary(session, yen.id)
    old = card_desk_for(app, session, "user:1").issue(scope(), yen.id).card
    assert old.has_emergency_core is False and claims_of(app, session, old).emergency is None
    grant_on_card(app, session, yen.id)
    assert (old.status, old.status_reason) == (CardStatus.REVOKED, "superseded")
    [new] = live(session, yen.id)
    assert new.has_emergency_core and new.reprint_needed
    assert claims_of(app, session, new).emergency == CORE
    desk = card_desk_for(app, session, "user:1")
    assert desk.reprints_due(scope()) == [new]
    assert desk.reprints_due(Scope(Principal("user", 2, "officer", province_code="79"))) == []
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "card.reissue"))
    assert (entry.actor, entry.reason, entry.object_id) == ("member:1", "on-card-consent",
                                                            new.serial)
    assert entry.details["superseded"] == [old.serial] and entry.details["emergency_core"]
    desk.mark_reprinted(scope(), new.serial)
    assert desk.reprints_due(scope()) == [] and not new.reprint_needed


def test_withdrawing_on_card_reissues_the_card_without_the_core(app, session, world) -> None:
    yen = world["yen"]
    store_summary(session, yen.id)
    card_desk_for(app, session, "user:1").issue(scope(), yen.id)
    consent_id = grant_on_card(app, session, yen.id)
    [with_core] = live(session, yen.id)
    service(app, session).withdraw(yen.id, consent_id, BY_APP)
    assert with_core.status is CardStatus.REVOKED and with_core.status_reason == "superseded"
    [without] = live(session, yen.id)
    assert not without.has_emergency_core and without.reprint_needed
    assert claims_of(app, session, without).emergency is None


def test_a_member_without_a_card_gets_the_core_on_the_next_issue(app, session, world) -> None:
    yen = world["yen"]
    store_summary(session, yen.id)
    grant_on_card(app, session, yen.id)
    assert live(session, yen.id) == []
    card = card_desk_for(app, session, "user:1").issue(scope(), yen.id).card
    assert card.has_emergency_core and not card.reprint_needed
    assert claims_of(app, session, card).emergency == CORE


def test_a_suspended_card_or_member_is_not_reissued(app, session, world) -> None:
    yen, binh = world["yen"], world["binh"]
    store_summary(session, yen.id)
    desk = card_desk_for(app, session, "user:1")
    card = desk.issue(scope(), yen.id).card
    desk.suspend(scope(), card.serial, "lost")
    grant_on_card(app, session, yen.id)
    assert live(session, yen.id) == [card] and card.status is CardStatus.SUSPENDED
    store_summary(session, binh.id)
    binh_card = desk.issue(scope(), binh.id).card
    binh.status = MemberStatus.SUSPENDED
    grant_on_card(app, session, binh.id)
    assert live(session, binh.id) == [binh_card] and not binh_card.has_emergency_core


def test_nothing_to_carry_means_no_reissue(app, session, world) -> None:
    yen = world["yen"]  # no health summary stored
    card = card_desk_for(app, session, "user:1").issue(scope(), yen.id).card
    grant_on_card(app, session, yen.id)
    assert live(session, yen.id) == [card] and not card.reprint_needed


def test_an_expired_on_card_consent_leaves_the_core_off_and_is_listed(app, session,
                                                                      world) -> None:
    yen = world["yen"]
    store_summary(session, yen.id)
    card_desk_for(app, session, "user:1").issue(scope(), yen.id)
    consent_id = grant_on_card(app, session, yen.id, months=6)
    now = datetime.now(UTC)
    later = add_months(now, 6) + timedelta(minutes=1)
    assert lapsed_on_card(session, now) == []
    assert lapsed_on_card(session, later) == [yen.id]
    member = session.get(type(yen), yen.id)
    assert OnCardCore(session, cipher_for_tests(), clock=lambda: later)(member) is None
    assert OnCardCore(session, cipher_for_tests())(member) == CORE
    [card] = live(session, yen.id)
    service(app, session).renew(yen.id, consent_id, BY_APP,
                                ends_at=add_months(datetime.now(UTC), 12))
    assert live(session, yen.id) == [card]  # it carries the same core: no reissue, no reprint
    assert card_desk_for(app, session, "user:1").claims(card).emergency == CORE


@pytest.mark.parametrize(("snomed", "group"), [
    ("278147001", "O+"), ("278148006", "O-"), ("278149003", "A+"), ("278152006", "A-"),
    ("278150003", "B+"), ("278153001", "B-"), ("278151004", "AB+"), ("278154007", "AB-")])
def test_every_ips_blood_group_reaches_the_card(snomed: str, group: str) -> None:
    from app.services.health import summary as s
    from app.services.health import systems as sy

    blood = s.Measurement(id="abo", codes=(s.Code(sy.LOINC, "882-1", "ABO and Rh"),), text="",
                          source=s.Facility("", ""), date=None,
                          provenance=s.Provenance("f", "b", datetime(2025, 1, 1, tzinfo=UTC)),
                          value_codes=(s.Code(sy.SNOMED, snomed, group),))
    core = card_core(s.HealthSummary(patient=s.Patient("7412345678"), blood_group=blood))
    assert core is not None and core.blood_group == group
