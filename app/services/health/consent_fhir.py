"""FHIR R4 Consent export: each consent version as one Consent resource (plain dicts; the tests
parse them with fhir.resources). docs/fhir-mapping.md lists the mapping."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app.facility_types import FACILITY_TYPES
from app.models import ConsentVersion
from app.services.health import systems as sy
from app.services.health.consent import status_at
from app.services.health.summary import SECTIONS

_BASE = "https://unioncard.vn/fhir"
#: Identifier systems of this project.
MEMBER_NUMBER = f"{_BASE}/sid/member-number"
CONSENT_ID = f"{_BASE}/sid/consent"
FACILITY_TYPE = f"{_BASE}/sid/facility-type"
GRANTEE_GROUP = f"{_BASE}/sid/grantee-group"  # value "all-accredited"
#: Code systems: the consent scopes that are not summary sections, and the purposes without
#: a v3 ActReason code (occupational-health examinations have none; PUBHLTH would mislead).
CONSENT_SCOPE = f"{_BASE}/CodeSystem/consent-scope"  # sensitive, on-card
CONSENT_PURPOSE = f"{_BASE}/CodeSystem/consent-purpose"  # occupational-health
#: The complex extension carrying a version's evidence.
EVIDENCE_EXTENSION = f"{_BASE}/StructureDefinition/consent-evidence"
NOTICE_URL = "https://unioncard.vn/consent-notices/{version}.{language}.txt"

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

PURPOSE_CODINGS: dict[str, dict[str, str]] = {
    "treatment": {"system": V3_ACT_REASON, "code": "TREAT", "display": "treatment"},
    "occupational-health": {"system": CONSENT_PURPOSE, "code": "occupational-health",
                            "display": "occupational health"},
}


def _grantee(version: ConsentVersion) -> dict[str, Any]:
    if version.grantee_kind == "facility":
        return {"type": "Organization",
                "identifier": {"system": sy.FACILITY, "value": version.grantee_value}}
    if version.grantee_kind == "facility-type":
        return {"type": "Organization",
                "identifier": {"system": FACILITY_TYPE, "value": version.grantee_value},
                "display": FACILITY_TYPES[version.grantee_value][1]}
    return {"type": "Organization",
            "identifier": {"system": GRANTEE_GROUP, "value": "all-accredited"},
            "display": "All accredited clinics"}


def _scope_code(scope: str) -> dict[str, Any]:
    system = sy.SUMMARY_SECTION if scope in SECTIONS else CONSENT_SCOPE
    return {"coding": [{"system": system, "code": scope}]}


def _evidence(version: ConsentVersion) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "action", "valueCode": version.action},
        {"url": "method", "valueCode": version.method},
        {"url": "actor", "valueString": version.actor},
        {"url": "notice-version", "valueString": version.notice_version},
        {"url": "notice-language", "valueCode": version.notice_language},
        {"url": "notice-sha256", "valueString": version.notice_sha256},
    ]
    return {"url": EVIDENCE_EXTENSION, "extension": parts}


def consent_resource(version: ConsentVersion, *, member_number: str, newest: bool,
                     now: datetime) -> dict[str, Any]:
    """One version as a FHIR R4 Consent: ``id`` the chain, ``meta.versionId`` the version;
    ``active`` only for a chain's ``newest`` version that is neither withdrawn nor expired at
    ``now``."""
    active = newest and status_at(version, now) in ("active", "pending")
    provision: dict[str, Any] = {
        "type": "permit",
        "period": {"start": version.starts_at.isoformat(), "end": version.ends_at.isoformat()},
        "actor": [{"role": {"coding": [{"system": V3_PARTICIPATION, "code": "IRCP",
                                        "display": "information recipient"}]},
                   "reference": _grantee(version)}],
        "purpose": [PURPOSE_CODINGS[version.purpose]],
        "code": [_scope_code(version.scope)],
    }
    if version.scope == "sensitive":
        provision["securityLabel"] = [{"system": sy.CONFIDENTIALITY, "code": "R",
                                       "display": "restricted"}]
    notice_url = NOTICE_URL.format(version=version.notice_version,
                                   language=version.notice_language)
    return {
        "resourceType": "Consent",
        "id": version.consent_id,
        "meta": {"versionId": str(version.version),
                 "lastUpdated": version.recorded_at.isoformat()},
        "extension": [_evidence(version)],
        "identifier": [{"system": CONSENT_ID, "value": version.consent_id}],
        "status": "active" if active else "inactive",
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": sy.LOINC, "code": "59284-0",
                                  "display": "Patient Consent"}]}],
        "patient": {"identifier": {"system": MEMBER_NUMBER, "value": member_number}},
        "dateTime": version.recorded_at.isoformat(),
        "policy": [{"authority": "https://unioncard.vn", "uri": notice_url}],
        "provision": provision,
    }


def consent_resources(versions: Iterable[ConsentVersion], *, member_number: str,
                      now: datetime) -> list[dict[str, Any]]:
    """Every given version (a member's history) as Consent resources, in the given order."""
    versions = list(versions)
    newest: dict[str, int] = {}
    for v in versions:
        newest[v.consent_id] = max(newest.get(v.consent_id, 0), v.version)
    return [consent_resource(v, member_number=member_number,
                             newest=v.version == newest[v.consent_id], now=now)
            for v in versions]
