"""Consents: each a chain of append-only versions, every version with its evidence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base

#: What a consent covers: the summary sections, ``sensitive`` entries and ``on-card``.
CONSENT_SCOPES = ("emergency-core", "allergies", "conditions", "medications", "immunizations",
                  "vitals-labs", "occ-exam-summary", "occ-exam-detail", "sensitive", "on-card")
GRANTEE_KINDS = ("all-accredited", "facility-type", "facility")
PURPOSES = ("treatment", "occupational-health")
#: How the member was shown the notice and gave (or withdrew) consent.
METHODS = ("app", "web", "paper-at-office")
#: What a version does to its chain.
ACTIONS = ("grant", "renew", "withdraw")
#: A version's own status; "expired" is computed from ``ends_at``, never stored.
STATUSES = ("active", "withdrawn")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ConsentVersion(Base):
    """One version of a consent (``consent_id`` names the chain, ``version`` counts from 1).

    Rows are never updated: a renewal or a withdrawal appends the next version, which repeats
    the scope, grantee and purpose and carries its own period, status and evidence (the notice
    version and language shown, the SHA-256 of that exact text, the method, time and actor).
    """

    __tablename__ = "consent_versions"
    __table_args__ = (
        UniqueConstraint("consent_id", "version"),
        Index("ix_consent_versions_member_id_scope", "member_id", "scope"),
        CheckConstraint(_one_of("scope", CONSENT_SCOPES), name="scope"),
        CheckConstraint(_one_of("grantee_kind", GRANTEE_KINDS), name="grantee_kind"),
        CheckConstraint(_one_of("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_one_of("method", METHODS), name="method"),
        CheckConstraint(_one_of("action", ACTIONS), name="action"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint("ends_at > starts_at", name="period"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    scope: Mapped[str] = mapped_column(String(32))
    grantee_kind: Mapped[str] = mapped_column(String(16))
    #: The facility type code or the 5-digit facility code ("" for all accredited clinics).
    grantee_value: Mapped[str] = mapped_column(String(40), default="")
    purpose: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)
    notice_version: Mapped[str] = mapped_column(String(16))
    notice_language: Mapped[str] = mapped_column(String(2))
    notice_sha256: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
