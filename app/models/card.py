"""Cards, their signing keys, status lists and the publication counter."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e],
                validate_strings=True)


class KeyStatus(str, enum.Enum):
    """A signing key's life: signs (active), only verifies (retired), or is distrusted."""

    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class SigningKeyRecord(Base):
    """An ES256 key: an issuer's card-signing key or the trust-bundle root key."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        # at most one active key per issuer and purpose
        Index("uq_signing_keys_active_issuer_purpose", "issuer", "purpose", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    issuer: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))  # "card" or "root"
    status: Mapped[KeyStatus] = mapped_column(_enum(KeyStatus, "key_status"))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted PKCS#8
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    retired_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(String(200), default="")


class StatusListRecord(Base):
    """One bitstring (revocation or suspension) of a status list id; bits stored raw."""

    __tablename__ = "status_lists"
    __table_args__ = (UniqueConstraint("list_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int]
    purpose: Mapped[str] = mapped_column(String(16))
    size: Mapped[int]
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class CardStatus(str, enum.Enum):
    """A card's state."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Card(Base):
    """An issued card: the signed UC1 text (encrypted at rest) and its lifecycle."""

    __tablename__ = "cards"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index"),
        Index("ix_cards_member_id_status", "member_id", "status"),
        Index("ix_cards_province_code_issued_at", "province_code", "issued_at"),
        Index("ix_cards_kid", "kid"),
        Index("ix_cards_batch_job_id", "batch_job_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    union_code: Mapped[str] = mapped_column(String(20))
    issuer: Mapped[str] = mapped_column(String(32))
    kid: Mapped[str] = mapped_column(String(64))
    format_version: Mapped[int] = mapped_column(default=1)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[CardStatus] = mapped_column(_enum(CardStatus, "card_status"))
    status_reason: Mapped[str] = mapped_column(String(32), default="")
    status_changed_at: Mapped[datetime | None]
    status_list_id: Mapped[int]
    status_index: Mapped[int]
    uc1_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    qr_version: Mapped[int]
    ndef_size: Mapped[int]
    nfc_tag: Mapped[str] = mapped_column(String(16))
    has_emergency_core: Mapped[bool] = mapped_column(default=False)
    #: Reissued by the service (an on-card consent changed): the office has a reprint to do.
    reprint_needed: Mapped[bool] = mapped_column(default=False, server_default=false())
    activation_hash: Mapped[str | None] = mapped_column(String(64))
    activation_used_at: Mapped[datetime | None]
    #: The activation code stops working then (a new code from the office starts again).
    activation_expires_at: Mapped[datetime | None]
    batch_job_id: Mapped[str | None] = mapped_column(String(32))


class Publication(Base):
    """The trust-bundle version counter: raised by every key or status-list change."""

    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    changed_at: Mapped[datetime] = mapped_column(default=utc_now)
