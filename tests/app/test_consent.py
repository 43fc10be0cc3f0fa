"""Consent: versions and evidence, the period and grantee rules, and the release decision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import event, select

from app.models import AuditEntry, ConsentVersion
from app.services.errors import (
    ConsentNotFound,
    ConsentNoticeUnknown,
    ConsentPeriodInPast,
    ConsentPeriodInvalid,
    ConsentPeriodTooLong,
    ConsentTermsInvalid,
    ConsentWithdrawn,
    GranteeInvalid,
    GranteeUnknown,
)
from app.services.health.consent import (
    ConsentService,
    Evidence,
    Grantee,
    add_months,
    release_document,
    released_sections,
)
from app.services.health.consent_notices import CURRENT_NOTICE, notice
from app.services.health.fhir_in import parse_bundle
from app.services.health.summary import SECTIONS
from tests.app.fhir_fixtures import raw

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BY_APP = Evidence(method="app", actor="member:1")
HOSPITAL = ("27001", "district-hospital")  # a clinic: facility code, facility type


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def clinics(factory) -> None:
    """The facilities the tests' consents name: the clinic directory knows them."""
    factory.clinic(HOSPITAL[0], facility_type=HOSPITAL[1], name="Bệnh viện đa khoa Quế Võ")
    factory.clinic("11111", facility_type="private-clinic", province_code="01")
    factory.clinic("99999", facility_type="private-clinic", province_code="79")


@pytest.fixture
def service(session, clock, clinics) -> ConsentService:
    return ConsentService(session, clock=clock, on_card_changed=lambda member_id: None)


@pytest.fixture
def member(factory) -> Any:
    return factory.member(factory.union(province="24"))


def decide(session, member, clinic=HOSPITAL, purpose="treatment", now=NOW):
    return released_sections(session, member.id, clinic[0], clinic[1], purpose, now)


def grant(service, member, scope="allergies", grantee=None, purpose="treatment",
          months=6, **kwargs: Any) -> ConsentVersion:
    return service.grant(member.id, scope, grantee or Grantee.all_accredited(), purpose,
                         kwargs.pop("evidence", BY_APP),
                         ends_at=kwargs.pop("ends_at", add_months(NOW, months)), **kwargs)


def test_nothing_is_released_by_default(session, member) -> None:
    decision = decide(session, member)
    assert decision.released == () and decision.denied == SECTIONS
    assert set(decision.reasons().values()) == {"no-consent"}
    assert decision.sensitive.released is False


def test_a_consent_releases_its_section_only(session, service, member) -> None:
    version = grant(service, member, "allergies")
    decision = decide(session, member)
    assert decision.released == ("allergies",)
    allergies = next(d for d in decision.sections if d.section == "allergies")
    assert (allergies.reason, allergies.consent_id, allergies.version) == (
        "consent", version.consent_id, 1)


@pytest.mark.parametrize(("grantee", "clinic", "purpose", "at", "reason"), [
    (Grantee.facility_type("district-hospital"), HOSPITAL, "treatment", NOW, "consent"),
    (Grantee.facility_type("district-hospital"), ("27001", "private-clinic"), "treatment", NOW,
     "grantee-not-covered"),
    (Grantee.facility("27001"), HOSPITAL, "treatment", NOW, "consent"),
    (Grantee.facility("27001"), ("27002", "district-hospital"), "treatment", NOW,
     "grantee-not-covered"),
    (Grantee.all_accredited(), ("79123", "private-clinic"), "treatment", NOW, "consent"),
    (Grantee.all_accredited(), HOSPITAL, "occupational-health", NOW, "purpose-not-covered"),
    (Grantee.all_accredited(), HOSPITAL, "treatment", NOW - timedelta(seconds=1),
     "not-yet-valid"),
    (Grantee.all_accredited(), HOSPITAL, "treatment", add_months(NOW, 6) - timedelta(seconds=1),
     "consent"),
    (Grantee.all_accredited(), HOSPITAL, "treatment", add_months(NOW, 6), "expired"),
])
def test_scope_grantee_purpose_and_period_must_all_match(session, service, member, grantee,
                                                         clinic, purpose, at, reason) -> None:
    grant(service, member, "conditions", grantee)
    decision = decide(session, member, clinic, purpose, at)
    conditions = next(d for d in decision.sections if d.section == "conditions")
    assert (conditions.released, conditions.reason) == (reason == "consent", reason)
    assert decision.released == (("conditions",) if reason == "consent" else ())


def test_any_one_matching_consent_releases_and_the_closest_miss_is_the_reason(
        session, service, member) -> None:
    grant(service, member, "medications", Grantee.facility("11111"), "occupational-health")
    grant(service, member, "medications", Grantee.all_accredited(), "occupational-health")
    decision = decide(session, member)
    assert decision.reasons()["medications"] == "purpose-not-covered"
    grant(service, member, "medications", Grantee.facility_type("district-hospital"))
    assert decide(session, member).released == ("medications",)
    occupational = decide(session, member, ("11111", "private-clinic"), "occupational-health")
    assert occupational.released == ("medications",)


def test_sensitive_entries_need_their_own_matching_consent(session, service, member) -> None:
    summary = parse_bundle(raw("7412345678"), health_id="7412345678", feed="f",
                           received_at=NOW)
    grant(service, member, "conditions")
    document = release_document(summary.to_document(), decide(session, member))
    assert list(document["sections"]) == ["conditions"]
    codes = [e["codes"][0]["code"] for e in document["sections"]["conditions"]]
    assert "F41.1" not in codes and "J45.9" in codes
    # a sensitive consent for another clinic or purpose does not do
    grant(service, member, "sensitive", Grantee.facility("99999"))
    grant(service, member, "sensitive", purpose="occupational-health")
    decision = decide(session, member)
    assert not decision.sensitive.released
    assert "F41.1" not in str(release_document(summary, decision))
    grant(service, member, "sensitive", Grantee.facility("27001"))
    decision = decide(session, member)
    assert decision.sensitive.released and decision.released == ("conditions",)
    document = release_document(summary, decision)
    assert "F41.1" in [e["codes"][0]["code"] for e in document["sections"]["conditions"]]
    # sensitive alone releases no section
    assert "allergies" not in document["sections"]


def test_withdrawal_applies_to_the_next_decision_and_a_second_is_a_conflict(
        session, service, member, clock) -> None:
    version = grant(service, member, "vitals-labs")
    assert decide(session, member).released == ("vitals-labs",)
    clock.now = NOW + timedelta(minutes=3)
    withdrawn = service.withdraw(member.id, version.consent_id,
                                 Evidence(method="web", actor="member:1"))
    assert (withdrawn.version, withdrawn.status, withdrawn.action) == (2, "withdrawn",
                                                                        "withdraw")
    decision = decide(session, member, now=clock.now)
    assert decision.released == () and decision.reasons()["vitals-labs"] == "withdrawn"
    with pytest.raises(ConsentWithdrawn) as caught:
        service.withdraw(member.id, version.consent_id, BY_APP)
    assert caught.value.extra == {"consent_id": version.consent_id}
    with pytest.raises(ConsentWithdrawn):
        service.renew(member.id, version.consent_id, BY_APP, ends_at=add_months(NOW, 9))


def test_history_keeps_every_version_with_its_evidence(session, service, member,
                                                       clock) -> None:
    first = grant(service, member, "immunizations", months=3)
    clock.now = NOW + timedelta(days=30)
    english = Evidence(method="paper-at-office", actor="user:7", language="en",
                       shown_sha256=notice(CURRENT_NOTICE, "en").sha256)
    renewed = service.renew(member.id, first.consent_id, english,
                            ends_at=add_months(clock.now, 12))
    clock.now = NOW + timedelta(days=40)
    service.withdraw(member.id, first.consent_id, BY_APP)
    grant(service, member, "allergies")
    history = service.history(member.id, first.consent_id)
    assert [(v.version, v.action, v.status) for v in history] == [
        (1, "grant", "active"), (2, "renew", "active"), (3, "withdraw", "withdrawn")]
    # version 1 was never changed: a renewal is a new version with its own period
    assert (history[0].starts_at, history[0].ends_at) == (NOW, add_months(NOW, 3))
    assert (renewed.starts_at, renewed.ends_at) == (clock.now - timedelta(days=10),
                                                    add_months(NOW + timedelta(days=30), 12))
    assert history[2].ends_at == renewed.ends_at
    assert [(v.method, v.actor, v.notice_language) for v in history] == [
        ("app", "member:1", "vi"), ("paper-at-office", "user:7", "en"), ("app", "member:1", "vi")]
    assert {v.notice_version for v in history} == {CURRENT_NOTICE}
    assert history[0].notice_sha256 == notice(CURRENT_NOTICE, "vi").sha256
    assert history[1].notice_sha256 == notice(CURRENT_NOTICE, "en").sha256
    assert [v.recorded_at for v in history] == [NOW, NOW + timedelta(days=30),
                                                NOW + timedelta(days=40)]
    assert len(service.history(member.id)) == 4
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_id == first.consent_id).order_by(AuditEntry.id)).all()
    assert actions == ["consent.grant", "consent.renew", "consent.withdraw"]
    with pytest.raises(ConsentNotFound):
        service.history(member.id, "0" * 32)


def test_current_lists_what_stands_now(service, member, clock) -> None:
    short = grant(service, member, "allergies", months=1)
    gone = grant(service, member, "conditions")
    kept = grant(service, member, "medications")
    later = grant(service, member, "immunizations", starts_at=NOW + timedelta(days=5))
    service.withdraw(member.id, gone.consent_id, BY_APP)
    clock.now = add_months(NOW, 1)
    assert [(s.current.consent_id, s.status) for s in service.current(member.id)] == [
        (kept.consent_id, "active"), (later.consent_id, "active")]
    every = {s.current.consent_id: s.status
             for s in service.current(member.id, include_ended=True)}
    assert every == {short.consent_id: "expired", gone.consent_id: "withdrawn",
                     kept.consent_id: "active", later.consent_id: "active"}
    clock.now = NOW + timedelta(days=1)
    assert {s.current.consent_id: s.status
            for s in service.current(member.id)}[later.consent_id] == "pending"


def test_a_renewal_extends_even_an_expired_consent(session, service, member, clock) -> None:
    version = grant(service, member, "occ-exam-summary", purpose="occupational-health",
                    months=1)
    clock.now = add_months(NOW, 2)
    assert decide(session, member, purpose="occupational-health",
                  now=clock.now).reasons()["occ-exam-summary"] == "expired"
    with pytest.raises(ConsentPeriodInvalid):
        service.renew(member.id, version.consent_id, BY_APP, ends_at=add_months(NOW, 1))
    renewed = service.renew(member.id, version.consent_id, BY_APP,
                            ends_at=add_months(clock.now, 12))
    assert (renewed.version, renewed.starts_at) == (2, clock.now)
    assert decide(session, member, purpose="occupational-health",
                  now=clock.now).released == ("occ-exam-summary",)
    with pytest.raises(ConsentPeriodTooLong):
        service.renew(member.id, version.consent_id, BY_APP,
                      ends_at=add_months(clock.now, 12) + timedelta(seconds=1))


def test_the_period_is_at_most_twelve_months_and_not_in_the_past(service, member) -> None:
    grant(service, member, ends_at=add_months(NOW, 12))  # exactly twelve months is fine
    with pytest.raises(ConsentPeriodTooLong) as caught:
        grant(service, member, ends_at=add_months(NOW, 12) + timedelta(seconds=1))
    assert caught.value.errors[0]["field"] == "ends_at"
    with pytest.raises(ConsentPeriodTooLong):
        grant(service, member, starts_at=NOW + timedelta(days=10),
              ends_at=add_months(NOW + timedelta(days=10), 13))
    with pytest.raises(ConsentPeriodInPast) as past:
        grant(service, member, starts_at=NOW - timedelta(days=1))
    assert past.value.errors[0]["field"] == "starts_at"
    grant(service, member, starts_at=NOW - timedelta(minutes=4))  # clock skew only
    with pytest.raises(ConsentPeriodInPast):
        grant(service, member, ends_at=NOW - timedelta(seconds=1))
    with pytest.raises(ConsentPeriodInvalid):
        grant(service, member, starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=1))
    with pytest.raises(ConsentPeriodInvalid):
        grant(service, member, ends_at=datetime(2027, 1, 1))  # no UTC offset


def test_add_months_clamps_to_the_months_last_day() -> None:
    assert add_months(datetime(2027, 2, 28, 9, tzinfo=UTC), 12) == datetime(2028, 2, 28, 9,
                                                                             tzinfo=UTC)
    assert add_months(datetime(2028, 2, 29, tzinfo=UTC), 12) == datetime(2029, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)


class OnlyKnown:
    def __init__(self, *codes: str) -> None:
        self.codes = codes

    def knows(self, facility_code: str) -> bool:
        return facility_code in self.codes


@pytest.mark.parametrize("grantee", [
    Grantee.facility("1234"), Grantee.facility("123456"), Grantee.facility("12a45"),
    Grantee.facility("１２３４５"), Grantee.facility(""), Grantee.facility_type("hospital"),
    Grantee("everyone"), Grantee("all-accredited", "27001"),
])
def test_a_malformed_grantee_is_refused(service, member, grantee) -> None:
    with pytest.raises(GranteeInvalid):
        grant(service, member, grantee=grantee)


def test_the_grantee_directory_is_asked_about_facility_codes(session, clock, member) -> None:
    service = ConsentService(session, clock=clock, directory=OnlyKnown("27001"))
    grant(service, member, grantee=Grantee.facility("27001"))
    with pytest.raises(GranteeUnknown) as caught:
        grant(service, member, grantee=Grantee.facility("27002"))
    assert caught.value.errors[0]["field"] == "grantee.value"


def test_by_default_the_directory_is_the_clinic_register(service, session, member) -> None:
    grant(service, member, grantee=Grantee.facility("11111"))
    with pytest.raises(GranteeUnknown):
        grant(service, member, grantee=Grantee.facility("27002"))


def test_unknown_terms_are_refused(service, member) -> None:
    with pytest.raises(ConsentTermsInvalid):
        grant(service, member, "everything")
    with pytest.raises(ConsentTermsInvalid):
        grant(service, member, purpose="research")
    with pytest.raises(ConsentTermsInvalid):
        grant(service, member, evidence=Evidence(method="phone", actor="member:1"))
    for grantee, purpose in ((Grantee.facility("27001"), "treatment"),
                             (Grantee.facility_type("private-clinic"), "treatment"),
                             (Grantee.all_accredited(), "occupational-health")):
        with pytest.raises(ConsentTermsInvalid) as caught:
            grant(service, member, "on-card", grantee, purpose)
        assert caught.value.errors[0]["field"] == "scope"


def test_an_on_card_consent_needs_the_card_desk(session, clock, member) -> None:
    with pytest.raises(RuntimeError):
        grant(ConsentService(session, clock=clock), member, "on-card")


def test_the_notice_shown_must_be_a_shipped_one(service, member) -> None:
    with pytest.raises(ConsentNoticeUnknown):
        grant(service, member, evidence=Evidence(method="app", actor="member:1",
                                                 notice_version="2025-9"))
    with pytest.raises(ConsentNoticeUnknown):
        grant(service, member, evidence=Evidence(method="app", actor="member:1",
                                                 language="fr"))
    with pytest.raises(ConsentNoticeUnknown) as caught:
        grant(service, member, evidence=Evidence(method="app", actor="member:1",
                                                 shown_sha256="0" * 64))
    assert caught.value.errors[0]["field"] == "notice_sha256"
    shown = notice(CURRENT_NOTICE, "vi").sha256.upper()
    assert grant(service, member, evidence=Evidence(method="app", actor="member:1",
                                                    shown_sha256=shown)).notice_sha256 == \
        shown.lower()


def test_the_notices_are_shipped_in_both_languages_with_their_hash() -> None:
    for language in ("vi", "en"):
        shown = notice(CURRENT_NOTICE, language)
        data = (resources.files("app") / "data" / "consent-notices" /
                f"{CURRENT_NOTICE}.{language}.txt").read_bytes()
        assert shown.sha256 == hashlib.sha256(data).hexdigest() and shown.text == data.decode()
        assert CURRENT_NOTICE in shown.text
    assert "356/2025" in notice(CURRENT_NOTICE, "vi").text
    assert notice(CURRENT_NOTICE, "vi").sha256 != notice(CURRENT_NOTICE, "en").sha256


def test_consents_are_per_member(session, service, member, factory) -> None:
    other = factory.member(factory.union(province="79"))
    version = grant(service, member, "allergies")
    assert decide(session, other).released == ()
    with pytest.raises(ConsentNotFound):
        service.withdraw(other.id, version.consent_id, BY_APP)
    assert version.province_code == "24"


def test_consent_errors_have_their_own_problem_types() -> None:
    from app.edge.problems import error_problem

    answers = {cls: error_problem(cls).problem for cls in (
        ConsentWithdrawn, ConsentPeriodTooLong, ConsentPeriodInPast, ConsentPeriodInvalid,
        GranteeInvalid, ConsentTermsInvalid, ConsentNoticeUnknown, ConsentNotFound)}
    assert answers[ConsentWithdrawn].status == 409
    assert answers[ConsentWithdrawn].slug == "consent-withdrawn"
    assert answers[ConsentNotFound].status == 404
    assert {a.status for c, a in answers.items()
            if c not in (ConsentWithdrawn, ConsentNotFound)} == {422}
    assert len({a.slug for a in answers.values()}) == len(answers)


def test_two_withdrawals_at_once_make_one_version_and_one_conflict(committed_office) -> None:
    import threading

    from app.db import WRITE_INTENT
    from app.extensions import db
    from app.models import Union
    from tests.conftest import Factory

    app = committed_office("consent-race")
    setup = db.new_session(app)
    member = Factory(app, setup).member(setup.scalar(select(Union).limit(1)))
    now = datetime.now(UTC)
    version = ConsentService(setup).grant(member.id, "allergies", Grantee.all_accredited(),
                                          "treatment", BY_APP, ends_at=add_months(now, 1))
    setup.commit()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)
    # both wait here before writing, if both get there: only without the lock do they
    flushing = threading.Barrier(2, timeout=3)

    def in_step(*_: Any) -> None:
        try:
            flushing.wait()
        except threading.BrokenBarrierError:
            pass

    def withdraw() -> None:
        session = db.new_session(app)
        event.listen(session, "before_flush", in_step)
        try:
            barrier.wait()
            # as a writing request does at the edge: SQLite takes the write lock up front
            session.connection(execution_options={WRITE_INTENT: True})
            ConsentService(session).withdraw(member.id, version.consent_id, BY_APP)
            session.commit()
            outcomes.append("withdrawn")
        except ConsentWithdrawn:
            session.rollback()
            outcomes.append("conflict")
        finally:
            session.close()

    threads = [threading.Thread(target=withdraw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["conflict", "withdrawn"]
    setup.expire_all()
    assert [v.version for v in ConsentService(setup).history(member.id)] == [1, 2]
    setup.close()
