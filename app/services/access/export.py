"""The right of access: everything held about a member, as a JSON document of named sections
or as a FHIR R4 ``collection`` Bundle.

Each section is one ``ExportSection`` (a name, its JSON part and its FHIR resources); the export
is ``EXPORT_SECTIONS`` in order, so a new kind of data held about members joins the export with
one more entry in that tuple.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import (
    AuditEntry,
    Card,
    HealthLink,
    HealthRecord,
    Member,
    MemberAccount,
    Province,
    Union,
)
from app.services.errors import NotFound
from app.services.health import consent_fhir, fhir_out
from app.services.health import systems as sy
from app.services.health.consent import ConsentService, status_at
from app.services.health.store import HealthStore
from app.services.health.summary import HealthSummary
from app.services.registry.members import PERSONAL_ID_CONTEXT, insurance_number_of

EXPORT_VERSION = 1
_NS = uuid.UUID("0b1f7d4e-5a51-4c8e-9f43-7a3c2e6d8b21")
#: Identifier systems of the register (the member number is the consent export's).
PERSONAL_ID = "https://unioncard.vn/fhir/sid/cccd"
_LOCK_ACTIONS = ("member.password_locked", "member.pin_locked")


@dataclass
class ExportContext:
    """What every section reads from: the session, the cipher, the member and the time."""

    session: Session
    cipher: DataCipher
    member: Member
    now: datetime
    #: Shared between sections (e.g. the decrypted health summary, read once).
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportSection:
    """One named part of the export: its JSON value and its FHIR resources (may be none)."""

    name: str
    json: Callable[[ExportContext], Any]
    fhir: Callable[[ExportContext], list[dict[str, Any]]] = lambda ctx: []


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _url(ctx: ExportContext, *parts: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(_NS, "|".join((ctx.member.member_number, *parts))))


# -- profile and registry record ---------------------------------------------------------------
def _personal_id(ctx: ExportContext) -> str:
    m = ctx.member
    return ctx.cipher.decrypt(m.personal_id_encrypted, PERSONAL_ID_CONTEXT, m.personal_id_hash)


def profile_json(ctx: ExportContext) -> dict[str, Any]:
    """The register's record of the member, the personal ID and insurance number in full."""
    m = ctx.member
    province = ctx.session.get(Province, m.province_code)
    return {
        "member_number": m.member_number, "full_name": m.full_name, "name_ascii": m.name_ascii,
        "birth_date": m.birth_date.isoformat(), "sex": m.sex,
        "personal_id": _personal_id(ctx), "insurance_number": insurance_number_of(ctx.cipher, m),
        "phone": m.phone, "join_date": m.join_date.isoformat() if m.join_date else None,
        "status": m.status.value, "status_reason": m.status_reason,
        "status_changed_at": _iso(m.status_changed_at),
        "province": {"code": m.province_code,
                     "name": province.name if province else m.province_code},
        "registered_at": _iso(m.created_at), "updated_at": _iso(m.updated_at),
    }


def profile_fhir(ctx: ExportContext) -> list[dict[str, Any]]:
    """The register's record as a FHIR Patient (member number, CCCD, social-insurance number)."""
    m = ctx.member
    identifiers = [{"system": consent_fhir.MEMBER_NUMBER, "value": m.member_number},
                   {"system": PERSONAL_ID, "value": _personal_id(ctx)}]
    insurance = insurance_number_of(ctx.cipher, m)
    if insurance:
        identifiers.append({"system": sy.HEALTH_ID, "value": insurance})
    patient: dict[str, Any] = {
        "resourceType": "Patient", "identifier": identifiers,
        "active": m.status.value == "active", "name": [{"text": m.full_name}],
        "gender": "female" if m.sex == "F" else "male", "birthDate": m.birth_date.isoformat()}
    if m.phone:
        patient["telecom"] = [{"system": "phone", "value": m.phone, "use": "mobile"}]
    url = _url(ctx, "Patient", "register")
    return [{"fullUrl": url, "resource": {**patient, "id": url.removeprefix("urn:uuid:")}}]


def union_json(ctx: ExportContext) -> dict[str, Any]:
    """The member's grassroots union."""
    union = ctx.session.scalar(select(Union).where(Union.code == ctx.member.union_code))
    if union is None:
        return {"code": ctx.member.union_code}
    return {"code": union.code, "name": union.name, "province_code": union.province_code,
            "employer": union.employer, "industrial_park": union.industrial_park}


def union_fhir(ctx: ExportContext) -> list[dict[str, Any]]:
    """The union as a FHIR Organization."""
    u = union_json(ctx)
    org = {"resourceType": "Organization", "name": u.get("name", u["code"]),
           "identifier": [{"system": "https://unioncard.vn/fhir/sid/union", "value": u["code"]}]}
    url = _url(ctx, "Organization", u["code"])
    return [{"fullUrl": url, "resource": {**org, "id": url.removeprefix("urn:uuid:")}}]


# -- cards and account -------------------------------------------------------------------------
def cards_json(ctx: ExportContext) -> list[dict[str, Any]]:
    """Every card ever issued to the member, newest first (status, dates, reasons)."""
    rows = ctx.session.scalars(select(Card).where(Card.member_id == ctx.member.id)
                               .order_by(Card.issued_at.desc(), Card.id.desc()))
    return [{"serial": c.serial, "status": c.status.value, "status_reason": c.status_reason,
             "status_changed_at": _iso(c.status_changed_at), "issued_at": _iso(c.issued_at),
             "expires_at": _iso(c.expires_at), "issuer": c.issuer, "key_id": c.kid,
             "format_version": c.format_version, "emergency_core_on_card": c.has_emergency_core,
             "reprint_needed": c.reprint_needed,
             "activation_code_used_at": _iso(c.activation_used_at)} for c in rows]


def account_json(ctx: ExportContext) -> dict[str, Any] | None:
    """The member's account facts (never a hash): activation, last login, failures, locks."""
    account = ctx.session.scalar(select(MemberAccount).where(
        MemberAccount.member_id == ctx.member.id))
    if account is None:
        return None
    locks = ctx.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "member", AuditEntry.object_id == str(ctx.member.id),
        AuditEntry.action.in_(_LOCK_ACTIONS)).order_by(AuditEntry.at, AuditEntry.id))
    return {
        "activated_at": _iso(account.activated_at), "last_login_at": _iso(account.last_login_at),
        "phone_login": account.phone,
        "password": {"failures_in_a_row": account.password_failures,
                     "locked_until": _iso(account.password_locked_until)},
        "pin": {"failures_in_a_row": account.pin_failures,
                "locked_until": _iso(account.pin_locked_until)},
        "lockouts": [{"at": _iso(e.at), "what": e.action.split(".")[1].removesuffix("_locked"),
                      "reason": e.reason, "locked_until": e.details.get("locked_until")}
                     for e in locks],
    }


# -- health summary ----------------------------------------------------------------------------
def _summary(ctx: ExportContext) -> HealthSummary | None:
    if "summary" not in ctx.cache:
        document = HealthStore(ctx.session, ctx.cipher, actor="system:export",
                               clock=lambda: ctx.now).load(ctx.member.id)
        ctx.cache["summary"] = (None if document is None
                                else HealthSummary.from_document(document))
    summary: HealthSummary | None = ctx.cache["summary"]
    return summary


def health_json(ctx: ExportContext) -> dict[str, Any]:
    """The health link, the stored record's provenance and the whole summary (sensitive
    entries included; each entry with its source facility, date and provenance)."""
    store = HealthStore(ctx.session, ctx.cipher, actor="system:export", clock=lambda: ctx.now)
    link = ctx.session.scalar(select(HealthLink).where(HealthLink.member_id == ctx.member.id))
    record = ctx.session.scalar(select(HealthRecord).where(
        HealthRecord.member_id == ctx.member.id))
    summary = _summary(ctx)
    return {
        "link": None if link is None else {"health_id": store.health_id(ctx.member.id),
                                           "linked_at": _iso(link.linked_at)},
        "record": None if record is None else {
            "source": record.source, "bundle_id": record.bundle_id,
            "received_at": _iso(record.received_at), "updated_at": _iso(record.updated_at)},
        "summary": None if summary is None else summary.to_document(sensitive=True),
    }


def health_fhir(ctx: ExportContext) -> list[dict[str, Any]]:
    """The summary's IPS resources with one Provenance per source Bundle."""
    summary = _summary(ctx)
    if summary is None:
        return []
    entries: list[dict[str, Any]] = fhir_out.build_export(summary, now=ctx.now)["entry"]
    return entries


# -- consents ----------------------------------------------------------------------------------
def _versions(ctx: ExportContext) -> list[Any]:
    return ConsentService(ctx.session, clock=lambda: ctx.now).history(ctx.member.id)


def consents_json(ctx: ExportContext) -> list[dict[str, Any]]:
    """Every consent with all its versions and their evidence, oldest version first."""
    chains: dict[str, list[Any]] = {}
    for v in _versions(ctx):
        chains.setdefault(v.consent_id, []).append(v)
    out = []
    for consent_id, versions in chains.items():
        versions.sort(key=lambda v: v.version)
        newest = versions[-1]
        out.append({
            "consent_id": consent_id, "scope": newest.scope,
            "grantee": {"kind": newest.grantee_kind, "value": newest.grantee_value},
            "purpose": newest.purpose, "status": status_at(newest, ctx.now),
            "versions": [{
                "version": v.version, "action": v.action, "status": v.status,
                "starts": _iso(v.starts_at), "ends": _iso(v.ends_at),
                "recorded_at": _iso(v.recorded_at),
                "evidence": {"method": v.method, "actor": v.actor,
                             "notice_version": v.notice_version,
                             "notice_language": v.notice_language,
                             "notice_sha256": v.notice_sha256}} for v in versions]})
    return out


def consents_fhir(ctx: ExportContext) -> list[dict[str, Any]]:
    """Every consent version as a FHIR Consent resource."""
    resources = consent_fhir.consent_resources(_versions(ctx),
                                               member_number=ctx.member.member_number,
                                               now=ctx.now)
    return [{"fullUrl": _url(ctx, "Consent", r["id"], r["meta"]["versionId"]), "resource": r}
            for r in resources]


#: The export's sections, in order.
EXPORT_SECTIONS: tuple[ExportSection, ...] = (
    ExportSection("profile", profile_json, profile_fhir),
    ExportSection("union", union_json, union_fhir),
    ExportSection("cards", cards_json),
    ExportSection("account", account_json),
    ExportSection("health", health_json, health_fhir),
    ExportSection("consents", consents_json, consents_fhir),
)


class MemberExport:
    """The right-of-access export of one member."""

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now,
                 sections: Sequence[ExportSection] = EXPORT_SECTIONS) -> None:
        self.session = session
        self.cipher = cipher
        self.clock = clock
        self.sections = tuple(sections)

    def _context(self, member_id: int) -> ExportContext:
        member = self.session.get(Member, member_id)
        if member is None:
            raise NotFound("No such member.")
        return ExportContext(self.session, self.cipher, member, self.clock())

    def document(self, member_id: int) -> dict[str, Any]:
        """Everything held about the member as one JSON document, one key per section.

        Raises:
            NotFound: no such member.
        """
        ctx = self._context(member_id)
        out: dict[str, Any] = {"export_version": EXPORT_VERSION,
                               "exported_at": ctx.now.isoformat(timespec="seconds")}
        for section in self.sections:
            out[section.name] = section.json(ctx)
        return out

    def fhir_bundle(self, member_id: int) -> dict[str, Any]:
        """Everything held about the member that FHIR can carry, as a ``collection`` Bundle
        (the register's Patient, the union, the IPS resources with Provenance, Consents).

        Raises:
            NotFound: no such member.
        """
        ctx = self._context(member_id)
        entries = [entry for section in self.sections for entry in section.fhir(ctx)]
        url = _url(ctx, "Bundle", ctx.now.isoformat())
        return {"resourceType": "Bundle",
                "identifier": {"system": "urn:ietf:rfc:3986", "value": url},
                "type": "collection", "timestamp": ctx.now.isoformat(timespec="seconds"),
                "entry": entries}
