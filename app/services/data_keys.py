"""Data-key rotation: every wrapped data key re-wrapped by the newest key-encryption key (and
every value of the older one-key format re-encrypted), in committed batches, while the service
keeps serving.

Resuming needs no checkpoint: each committed row carries its KEK version, and a run selects only
the rows not yet under the newest KEK, so a rerun after a kill continues where the last commit
left off. Each row is written by compare-and-set (``WHERE id = ? AND <old value>``): a writer that
changed the row meanwhile wrote it under the newest KEK already, and its write wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import LargeBinary, func, select, update
from sqlalchemy.orm import Session

from app.crypto import DataCipher, DecryptionError, Envelope
from app.db import WRITE_INTENT
from app.models import (
    AccessEventText,
    AccessReport,
    Card,
    ExamResult,
    HealthLink,
    HealthRecord,
    Member,
    NotificationAddress,
)
from app.services.access_events.addresses import EMAIL_CONTEXT
from app.services.access_events.log import EMERGENCY_TEXT_CONTEXT
from app.services.access_events.reports import ADMIN_NOTE_CONTEXT, NOTE_CONTEXT
from app.services.exams.results import RESULT_CONTEXT
from app.services.health.store import HEALTH_ID_CONTEXT, SUMMARY_CONTEXT
from app.services.issuing.issuance import UC1_CONTEXT
from app.services.registry.members import INSURANCE_CONTEXT, PERSONAL_ID_CONTEXT


@dataclass(frozen=True)
class Packed:
    """A column of packed values (``DataCipher.encrypt``): its context and its owner column."""

    name: str
    model: Any
    column: Any
    owner: Any
    context: str


#: Every column encrypted at rest in the database, packed form.
PACKED = (
    Packed("members.personal_id", Member, Member.personal_id_encrypted, Member.personal_id_hash,
           PERSONAL_ID_CONTEXT),
    Packed("members.insurance_number", Member, Member.insurance_number_encrypted,
           Member.insurance_number_hash, INSURANCE_CONTEXT),
    Packed("cards.uc1", Card, Card.uc1_encrypted, Card.serial, UC1_CONTEXT),
    Packed("health_links.health_id", HealthLink, HealthLink.health_id_encrypted,
           HealthLink.member_id, HEALTH_ID_CONTEXT),
    Packed("access_event_texts.text", AccessEventText, AccessEventText.text_encrypted,
           AccessEventText.event_id, EMERGENCY_TEXT_CONTEXT),
    Packed("notification_addresses.email", NotificationAddress,
           NotificationAddress.email_encrypted, NotificationAddress.member_id, EMAIL_CONTEXT),
    Packed("access_reports.note", AccessReport, AccessReport.note_encrypted,
           AccessReport.first_event_id, NOTE_CONTEXT),
    Packed("access_reports.admin_note", AccessReport, AccessReport.admin_note_encrypted,
           AccessReport.first_event_id, ADMIN_NOTE_CONTEXT),
    Packed("exam_results.result", ExamResult, ExamResult.result_encrypted,
           ExamResult.participant_id, RESULT_CONTEXT),
)
RECORDS = "health_records.summary"
TARGETS = tuple(p.name for p in PACKED) + (RECORDS,)


@dataclass
class Progress:
    """How far a rotation is: per target, rows rewritten, skipped (changed meanwhile), left."""

    target: str
    rewrapped: int = 0
    skipped: int = 0
    unreadable: list[int] = field(default_factory=list)
    left: int = 0


def _kept(model: Any) -> dict[str, Any]:
    """Columns whose ``onupdate`` must not fire: a rotation is not a change of the record."""
    return {c.name: c for c in model.__table__.columns if c.onupdate is not None}


def _header(column: Any) -> Any:
    return func.substr(column, 1, 5, type_=LargeBinary)


class DataKeyRotation:
    """Rotation and its census over one session, with the cipher of the current configuration."""

    def __init__(self, session: Session, cipher: DataCipher, *, batch_size: int = 500) -> None:
        self.session = session
        self.cipher = cipher
        self.batch_size = batch_size

    def census(self) -> dict[str, dict[str, int]]:
        """Per target, the number of rows under each KEK version (``legacy``: the older
        one-key format)."""
        return {name: self.counts(name) for name in TARGETS}

    def counts(self, name: str) -> dict[str, int]:
        """The rows of one target under each KEK version."""
        if name == RECORDS:
            return {v: c for v, c in self.session.execute(
                select(HealthRecord.kek_version, func.count())
                .group_by(HealthRecord.kek_version))}
        target = next(p for p in PACKED if p.name == name)
        head = _header(target.column)
        counts: dict[str, int] = {}
        for prefix, count in self.session.execute(
                select(head, func.count()).where(target.column.is_not(None)).group_by(head)):
            version = self.cipher.packed_version(bytes(prefix))
            counts[version] = counts.get(version, 0) + count
        return counts

    def left(self, name: str) -> int:
        """How many rows of a target are not yet under the newest KEK."""
        return sum(c for v, c in self.counts(name).items() if v != self.cipher.current)

    def run(self, on_batch: Callable[[Progress], None] | None = None) -> list[Progress]:
        """Rewrite every target to the newest KEK, committing each batch; ``on_batch`` sees the
        progress after each commit."""
        results = []
        for target in PACKED:
            results.append(self._run(target.name, self._packed_batches(target), on_batch))
        results.append(self._run(RECORDS, self._record_batches(), on_batch))
        return results

    def _run(self, name: str, batches: Iterator[tuple[int, int, list[int]]],
             on_batch: Callable[[Progress], None] | None) -> Progress:
        progress = Progress(name)
        for done, skipped, unreadable in batches:
            self.session.commit()
            progress.rewrapped += done
            progress.skipped += skipped
            progress.unreadable += unreadable
            progress.left = self.left(name)
            if on_batch is not None:
                on_batch(progress)
        progress.left = self.left(name)
        self.session.commit()
        return progress

    def _begin_writing(self) -> None:
        # SQLite: take the write lock when the batch begins, not when it first writes (a
        # transaction that read first cannot upgrade under concurrent writers)
        if self.session.in_transaction():
            self.session.commit()
        self.session.connection(execution_options={WRITE_INTENT: True})

    def _pending_packed(self, target: Packed, after: int) -> list[Any]:
        """The next batch of a packed column's rows not under the newest KEK: id, value, owner."""
        pk = target.model.id
        return list(self.session.execute(
            select(pk, target.column, target.owner)
            .where(pk > after, _header(target.column) != self.cipher.packed_header())
            .order_by(pk).limit(self.batch_size)).all())

    def _pending_records(self, after: int) -> list[Any]:
        """The next batch of health records not under the newest KEK."""
        return list(self.session.execute(
            select(HealthRecord.id, HealthRecord.member_id, HealthRecord.kek_version,
                   HealthRecord.data_key_wrapped, HealthRecord.summary_encrypted)
            .where(HealthRecord.id > after, HealthRecord.kek_version != self.cipher.current)
            .order_by(HealthRecord.id).limit(self.batch_size)).all())

    def _packed_batches(self, target: Packed) -> Iterator[tuple[int, int, list[int]]]:
        model, column, pk = target.model, target.column, target.model.id
        after = 0
        while True:
            self._begin_writing()
            rows = self._pending_packed(target, after)
            if not rows:
                return
            done = skipped = 0
            unreadable = []
            for row_id, blob, owner in rows:
                try:
                    new = self.cipher.rewrap_packed(blob, target.context, str(owner))
                except DecryptionError:
                    unreadable.append(row_id)
                    continue
                if new is None:
                    continue
                changed = self.session.execute(
                    update(model).where(pk == row_id, column == blob)
                    .values({column.key: new, **_kept(model)})
                    .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
                done += changed
                skipped += 1 - changed
            after = rows[-1][0]
            yield done, skipped, unreadable

    def _record_batches(self) -> Iterator[tuple[int, int, list[int]]]:
        after = 0
        while True:
            self._begin_writing()
            rows = self._pending_records(after)
            if not rows:
                return
            done = skipped = 0
            unreadable = []
            for row_id, member_id, version, wrapped, ciphertext in rows:
                try:
                    new = self.cipher.rewrap(Envelope(version, wrapped, ciphertext),
                                             SUMMARY_CONTEXT, str(member_id))
                except DecryptionError:
                    unreadable.append(row_id)
                    continue
                changed = self.session.execute(
                    update(HealthRecord)
                    .where(HealthRecord.id == row_id, HealthRecord.data_key_wrapped == wrapped)
                    .values(data_key_wrapped=new.wrapped_key, kek_version=new.kek_version)
                    .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
                done += changed
                skipped += 1 - changed
            after = rows[-1][0]
            yield done, skipped, unreadable
