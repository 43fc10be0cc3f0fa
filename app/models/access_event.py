"""Access events (every verify, pull, denial and emergency use), hash-chained per member, with
their chain heads, sealed free texts and the periodic checkpoints over every chain head."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, synonym

from app.clock import now as utc_now
from app.db import Base

#: What happened: a card checked, a record pulled, a request refused, an emergency access, an
#: exam result written into the record by the clinic of an exam round (migration 0023).
ACCESS_KINDS = ("verify", "pull", "denial", "emergency", "write")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AccessEvent(Base):
    """One access to a member's card or record, link ``seq`` of the chain ``chain_key``.

    A member's events form the chain ``member:<id>``; an event that could not be tied to a
    member (an unreadable or unknown card) joins its clinic's chain ``clinic:<facility code>``.
    ``hash`` is SHA-256 over the canonical encoding of every other column, ``id``, ``prev_hash``
    and ``hash_version`` included (``app.services.access_events.chain``; events written before
    ``hash_version`` existed keep version 1, which covers every column but ``id``), so a
    changed, removed or reordered row breaks the chain. Rows are never updated or deleted
    (PostgreSQL and SQLite triggers refuse it). The emergency free text is sealed in ``access_event_texts``; the chain covers its keyed
    digest, so a data-key rotation can re-wrap the text without touching the chain.
    """

    __tablename__ = "access_events"
    __table_args__ = (
        UniqueConstraint("chain_key", "seq"),
        Index("ix_access_events_member_id_at", "member_id", "at"),
        Index("ix_access_events_clinic_code_at", "clinic_code", "at"),
        Index("ix_access_events_at_kind", "at", "kind"),
        CheckConstraint(_one_of("kind", ACCESS_KINDS), name="kind"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_key: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: Which encoding ``hash`` was made with (1: before migration 0018, without ``id``).
    hash_version: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    at: Mapped[datetime] = mapped_column(default=utc_now)
    kind: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"), index=True)
    card_serial: Mapped[str | None] = mapped_column(String(32))
    clinic_code: Mapped[str] = mapped_column(String(16))
    clinic_name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    practitioner: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(32))
    released: Mapped[list[str]] = mapped_column(JSON, default=list)
    denied: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str | None] = mapped_column(String(64))
    emergency_reason: Mapped[str | None] = mapped_column(String(64))
    emergency_text_digest: Mapped[str | None] = mapped_column(String(64))


class AccessEventText(Base):
    """The emergency free text of one event, encrypted (bound to the event's id)."""

    __tablename__ = "access_event_texts"

    event_id: Mapped[int] = mapped_column(ForeignKey("access_events.id"), primary_key=True)
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"), index=True)
    text_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: The key under the name every encrypted table's rotation pages by.
    id: Mapped[int] = synonym("event_id")


class AccessChainHead(Base):
    """The newest link of one chain: appends lock this row (one per member, never one for the
    country), and checkpoints read it."""

    __tablename__ = "access_chain_heads"
    __table_args__ = (CheckConstraint("seq >= 0", name="seq"),)

    chain_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"), index=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64))
    #: The newest ``seq`` a checkpoint holds for this chain (0: none yet).
    checkpointed_seq: Mapped[int] = mapped_column(default=0)


class AccessCheckpoint(Base):
    """A checkpoint: the heads of the chains that moved since the previous checkpoint, and a
    digest over them and the previous digest, so checkpoint N commits to every chain head."""

    __tablename__ = "access_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    #: Unique: two checkpoints made at once cannot both follow the same one (a fork).
    prev_digest: Mapped[str] = mapped_column(String(64), unique=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    heads: Mapped[int] = mapped_column(default=0)
    made_by: Mapped[str] = mapped_column(String(64))
    #: HMAC-SHA256 under the service's checkpoint key of what the row stores (None: made
    #: before checkpoints were signed, covered by the digest chain of the next signed one).
    signature: Mapped[str | None] = mapped_column(String(64))


class AccessCheckpointHead(Base):
    """One chain head recorded by a checkpoint."""

    __tablename__ = "access_checkpoint_heads"

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("access_checkpoints.id"),
                                               primary_key=True)
    chain_key: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
