"""FHIR R4 Consent export: every consent version is a Consent resource fhir.resources accepts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.consent import Consent

from app.services.health import systems as sy
from app.services.health.consent import ConsentService, Evidence, Grantee, add_months
from app.services.health.consent_fhir import (
    CONSENT_PURPOSE,
    EVIDENCE_EXTENSION,
    FACILITY_TYPE,
    GRANTEE_GROUP,
    MEMBER_NUMBER,
    consent_resources,
)
from app.services.health.consent_notices import CURRENT_NOTICE, notice
from tests.app.test_consent import NOW, Clock

BY_APP = Evidence(method="app", actor="member:1")


def validated(resource: dict[str, Any]) -> Consent:
    """The Consent as fhir.resources parses it from JSON text."""
    return Consent.model_validate_json(json.dumps(resource, ensure_ascii=False))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def member(factory) -> Any:
    return factory.member(factory.union(province="24"))


def every_kind_of_version(session: Any, member_id: int, clock: Clock) -> Any:
    """Six consent versions of every kind for the member, from ``clock.now``: a grant renewed a
    day later, a paper grant of the occupational detail, a sensitive grant withdrawn and an
    on-card grant; the service (its clock moved a day on) and the first grant."""
    start = clock.now
    service = ConsentService(session, clock=clock, on_card_changed=lambda member_id: None)
    first = service.grant(member_id, "allergies", Grantee.facility("27001"), "treatment",
                          BY_APP, ends_at=add_months(start, 3))
    clock.now = start + timedelta(days=1)
    service.renew(member_id, first.consent_id, BY_APP, ends_at=add_months(clock.now, 6))
    service.grant(member_id, "occ-exam-detail", Grantee.facility_type("industrial-park-clinic"),
                  "occupational-health", Evidence(method="paper-at-office", actor="user:4",
                                                  language="en"),
                  ends_at=add_months(start, 12))
    sensitive = service.grant(member_id, "sensitive", Grantee.all_accredited(), "treatment",
                              BY_APP, ends_at=add_months(start, 1))
    service.grant(member_id, "on-card", Grantee.all_accredited(), "treatment", BY_APP,
                  ends_at=add_months(start, 1))
    service.withdraw(member_id, sensitive.consent_id, BY_APP)
    return service, first


def test_every_version_is_a_valid_consent(session, clock, member, clinic) -> None:
    service, first = every_kind_of_version(session, member.id, clock)
    history = service.history(member.id)
    resources = consent_resources(history, member_number=member.member_number, now=clock.now)
    parsed = [validated(r) for r in resources]
    assert len(parsed) == len(history) == 6

    renewed, original = parsed[1], parsed[0]
    assert (original.id, original.meta.versionId, original.status) == (
        first.consent_id, "1", "inactive")  # superseded by the renewal
    assert (renewed.id, renewed.meta.versionId, renewed.status) == (first.consent_id, "2",
                                                                     "active")
    for c in parsed:
        assert c.scope.coding[0].code == "patient-privacy"
        assert (c.category[0].coding[0].system, c.category[0].coding[0].code) == (
            "http://loinc.org", "59284-0")
        assert c.patient.identifier.system == MEMBER_NUMBER
        assert c.patient.identifier.value == member.member_number
        assert c.provision.type == "permit" and c.policy[0].uri.startswith("https://")
        assert c.provision.actor[0].role.coding[0].code == "IRCP"
    provision = renewed.provision
    assert provision.code[0].coding[0].system == sy.SUMMARY_SECTION
    assert provision.code[0].coding[0].code == "allergies"
    assert (provision.purpose[0].system, provision.purpose[0].code) == (
        "http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT")
    assert provision.actor[0].reference.identifier.system == sy.FACILITY
    assert provision.actor[0].reference.identifier.value == "27001"
    assert provision.period.end == add_months(NOW + timedelta(days=1), 6)

    occupational = parsed[2]
    assert occupational.provision.purpose[0].system == CONSENT_PURPOSE
    assert occupational.provision.actor[0].reference.identifier.system == FACILITY_TYPE
    evidence = {e.url: e for e in occupational.extension[0].extension}
    assert occupational.extension[0].url == EVIDENCE_EXTENSION
    assert evidence["method"].valueCode == "paper-at-office"
    assert evidence["actor"].valueString == "user:4"
    assert evidence["notice-version"].valueString == CURRENT_NOTICE
    assert evidence["notice-sha256"].valueString == notice(CURRENT_NOTICE, "en").sha256
    assert occupational.policy[0].uri.endswith(f"{CURRENT_NOTICE}.en.txt")

    granted_sensitive, on_card, withdrawn = parsed[3], parsed[4], parsed[5]
    assert granted_sensitive.provision.securityLabel[0].code == "R"
    assert granted_sensitive.status == "inactive" and withdrawn.status == "inactive"
    assert {e.url: e for e in withdrawn.extension[0].extension}["action"].valueCode == \
        "withdraw"
    assert on_card.status == "active"
    assert on_card.provision.actor[0].reference.identifier.system == GRANTEE_GROUP
    later = consent_resources(history, member_number=member.member_number,
                              now=add_months(NOW, 2))
    assert [r["status"] for r in later] == ["inactive", "active", "active", "inactive",
                                            "inactive", "inactive"]  # on-card expired
