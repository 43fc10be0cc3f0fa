"""The encrypted health store: a member's link to their health identity, their summary document
sealed under its own data key, and the coverage figures officers may see (never the content)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher, Envelope
from app.models import HealthLink, HealthRecord, Member
from app.services import audit
from app.services.access.scope import Scope
from app.services.errors import Conflict, NotFound, RegisteredElsewhere, ValidationFailed
from app.services.health.exam_dates import last_routine_exam
from app.services.registry.members import MemberRegistry

HEALTH_ID_CONTEXT = "health_link.health_id"
SUMMARY_CONTEXT = "health_record.summary"
CONTENT_CONTEXT = "health_record.content"
#: Built once: the member's own summary is the hot read (its statement is reused as it is).
_SEALED_SUMMARY = select(HealthRecord.kek_version, HealthRecord.data_key_wrapped,
                         HealthRecord.summary_encrypted).where(
    HealthRecord.member_id == bindparam("member_id"))
HEALTH_ID = re.compile(r"\d{10}")

#: The seam where linking a member triggers a pull of their record (the FHIR pull client plugs
#: in here); it gets the member id and the health ID, after the link is written.
RequestPull = Callable[[int, str], None]


@dataclass(frozen=True)
class Coverage:
    """What officers may know of a member's health record: linked or not, last updated."""

    linked: bool
    updated_at: datetime | None


@dataclass(frozen=True)
class CoverageFigures:
    """How many members in a scope are linked and have a stored record."""

    members: int
    linked: int
    with_record: int


@dataclass(frozen=True)
class LinkedMember:
    """The member a health ID is linked to, and their province."""

    member_id: int
    province_code: str


@dataclass(frozen=True)
class ToSave:
    """A member's summary document to store, with the member's province and its source
    Bundle's id."""

    member_id: int
    province_code: str
    document: Mapping[str, Any]
    bundle_id: str


@dataclass(frozen=True)
class Saved:
    """A stored summary and whether this save changed it (an identical re-push does not)."""

    record: HealthRecord
    changed: bool


def normalise_health_id(value: str) -> str:
    """The 10 digits of a social-insurance / health ID (spaces, dots and dashes dropped).

    Raises:
        ValidationFailed: not 10 digits.
    """
    digits = re.sub(r"[\s.\-]", "", value)
    if not HEALTH_ID.fullmatch(digits):
        raise ValidationFailed.field("health_id", "The health ID (mã số BHXH) is 10 digits.")
    return digits


def canonical(document: Mapping[str, Any]) -> bytes:
    """The document as canonical JSON (sorted keys, UTF-8), the form that is encrypted."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


class HealthStore:
    """Links, summaries and coverage for one actor, with a session, a cipher and a clock."""

    def __init__(self, session: Session, cipher: DataCipher, *, actor: str,
                 clock: Callable[[], datetime] = utc_now,
                 request_pull: RequestPull | None = None) -> None:
        self.session = session
        self.cipher = cipher
        self.actor = actor
        self.clock = clock
        self.request_pull = request_pull
        self.registry = MemberRegistry(session, cipher, actor=actor, clock=clock)
        self._sealed_read: dict[int, Envelope | None] = {}

    def use_sealed_summary(self, member_id: int, sealed: Envelope | None) -> None:
        """The member's sealed summary (None: none is stored) as read a moment ago in this
        request by another statement (the member token's check): ``load_canonical`` opens it
        instead of reading it again, once."""
        self._sealed_read[member_id] = sealed

    # -- link -----------------------------------------------------------------------------
    def health_id_hash(self, health_id: str) -> str:
        """The keyed lookup hash of a normalised health ID."""
        return self.cipher.lookup_hash(health_id, HEALTH_ID_CONTEXT)

    def link(self, scope: Scope, member_id: int, health_id: str) -> HealthLink:
        """Link a member in scope to their health identity (a new ID replaces the old one),
        then request a pull through the ``request_pull`` seam.

        Raises:
            NotFound: no such member in scope. ValidationFailed: not a health ID.
            Conflict: the ID is linked to another member in scope (``existing_member_id``).
            RegisteredElsewhere: it is linked to a member outside the scope (nothing more said).
        """
        digits = normalise_health_id(health_id)
        member = self.registry.get(scope, member_id, lock=True)
        digest = self.health_id_hash(digits)
        holder = self.session.scalar(select(HealthLink).where(HealthLink.health_id_hash == digest))
        if holder is not None and holder.member_id != member.id:
            self._refuse(scope, holder)
        link = self.session.scalar(select(HealthLink).where(HealthLink.member_id == member.id))
        if link is not None and link.health_id_hash == digest:
            return link
        action = "member.health-link" if link is None else "member.health-relink"
        if link is None:
            link = HealthLink(member_id=member.id, province_code=member.province_code,
                              health_id_hash=digest)
            self.session.add(link)
        else:  # another person's record may have come through the old link
            self.session.execute(delete(HealthRecord).where(HealthRecord.member_id == member.id))
        link.health_id_encrypted = self.cipher.encrypt(digits, HEALTH_ID_CONTEXT, str(member.id))
        link.health_id_hash = digest
        link.linked_at = self.clock()
        link.linked_by = self.actor
        self.session.flush()
        audit.record(self.session, actor=self.actor, action=action, object_type="member",
                     object_id=member.id, province_code=member.province_code)
        if self.request_pull is not None:
            self.request_pull(member.id, digits)
        return link

    def _refuse(self, scope: Scope, holder: HealthLink) -> None:
        other = self.session.get(Member, holder.member_id)
        assert other is not None  # a foreign key
        if scope.allows(other.province_code, other.union_code):
            raise Conflict("This health ID is linked to another member.",
                           existing_member_id=other.id)
        self.registry.ensure_elsewhere_budget()
        self.registry.record_elsewhere(other)
        self.session.commit()  # the audit entry outlives the refused request
        raise RegisteredElsewhere("This health ID is linked to a member outside your scope.")

    def unlink(self, scope: Scope, member_id: int) -> None:
        """Remove a member's link and the record that came through it (audited).

        Raises:
            NotFound: no such member in scope, or the member is not linked.
        """
        member = self.registry.get(scope, member_id, lock=True)
        link = self.session.scalar(select(HealthLink).where(HealthLink.member_id == member.id))
        if link is None:
            raise NotFound("The member is not linked to a health record.")
        self.session.delete(link)
        self.session.execute(delete(HealthRecord).where(HealthRecord.member_id == member.id))
        audit.record(self.session, actor=self.actor, action="member.health-unlink",
                     object_type="member", object_id=member.id,
                     province_code=member.province_code)

    def member_for_health_id(self, health_id: str) -> int | None:
        """The id of the member linked to a health ID, if any (for feeds keyed by health ID)."""
        digest = self.health_id_hash(normalise_health_id(health_id))
        return self.session.scalar(select(HealthLink.member_id)
                                   .where(HealthLink.health_id_hash == digest))

    def linked_member(self, health_id: str) -> LinkedMember | None:
        """The member linked to a health ID, with their province, in one statement (None when
        nobody is)."""
        digest = self.health_id_hash(normalise_health_id(health_id))
        row = self.session.execute(
            select(HealthLink.member_id, Member.province_code)
            .join(Member, Member.id == HealthLink.member_id)
            .where(HealthLink.health_id_hash == digest)).first()
        return None if row is None else LinkedMember(row[0], row[1])

    def linked_members(self, health_ids: Iterable[str]) -> dict[str, LinkedMember]:
        """``linked_member`` for many health IDs (10 digits each) in one statement: the
        linked ones, by health ID."""
        by_hash = {self.health_id_hash(h): h for h in health_ids}
        if not by_hash:
            return {}
        rows = self.session.execute(
            select(HealthLink.health_id_hash, HealthLink.member_id, Member.province_code)
            .join(Member, Member.id == HealthLink.member_id)
            .where(HealthLink.health_id_hash.in_(by_hash)))
        return {by_hash[digest]: LinkedMember(member_id, province)
                for digest, member_id, province in rows}

    def health_id(self, member_id: int) -> str | None:
        """The member's linked health ID, decrypted (for the pull client; never for staff)."""
        link = self.session.scalar(select(HealthLink).where(HealthLink.member_id == member_id))
        if link is None:
            return None
        return self.cipher.decrypt(link.health_id_encrypted, HEALTH_ID_CONTEXT, str(member_id))

    # -- summary --------------------------------------------------------------------------
    def save(self, member_id: int, document: Mapping[str, Any], *, source: str,
             bundle_id: str) -> Saved:
        """Store a member's summary document, encrypted under a fresh data key; an identical
        document changes nothing (but the time it was last received).

        Raises:
            NotFound: no such member.
        """
        member = self.session.get(Member, member_id)
        if member is None:
            raise NotFound("No such member.")
        [saved] = self.save_many([ToSave(member_id, member.province_code, document, bundle_id)],
                                 source=source)
        self.session.flush()
        return saved

    def save_many(self, items: Sequence[ToSave], *, source: str) -> list[Saved]:
        """``save`` for several members at once (members known to exist): their records are
        read, and locked, in one statement, and written at the next flush (batched)."""
        ids = sorted({item.member_id for item in items})
        records = {r.member_id: r for r in self.session.scalars(
            select(HealthRecord).where(HealthRecord.member_id.in_(ids))
            .order_by(HealthRecord.member_id).with_for_update())} if ids else {}
        now = self.clock()
        out = []
        for item in items:
            plain = canonical(item.document)
            # the receipt times in the entries' provenance change with every push of the same
            # content: they are left out of the hash, so a re-push is recognised as unchanged
            digest = self.cipher.lookup_hash(
                canonical(_content(item.document)).decode("utf-8"), CONTENT_CONTEXT)
            record = records.get(item.member_id)
            if record is not None and record.content_hash == digest:
                record.received_at = now
                out.append(Saved(record, changed=False))
                continue
            sealed = self.cipher.seal(plain, SUMMARY_CONTEXT, str(item.member_id))
            if record is None:
                record = records[item.member_id] = HealthRecord(
                    member_id=item.member_id, province_code=item.province_code)
                self.session.add(record)
            record.summary_encrypted = sealed.ciphertext
            record.data_key_wrapped = sealed.wrapped_key
            record.kek_version = sealed.kek_version
            record.source, record.bundle_id, record.content_hash = source, item.bundle_id, digest
            record.received_at = record.updated_at = now
            record.last_routine_exam_on = last_routine_exam(item.document)
            out.append(Saved(record, changed=True))
        return out

    def load(self, member_id: int) -> dict[str, Any] | None:
        """The member's summary document, decrypted (None when nothing is stored)."""
        plain = self.load_canonical(member_id)
        return None if plain is None else dict(json.loads(plain))

    def load_canonical(self, member_id: int) -> bytes | None:
        """The member's summary document as stored: its canonical JSON, decrypted (None when
        nothing is stored). The member's own full summary is these bytes as they are."""
        if member_id in self._sealed_read:
            sealed = self._sealed_read.pop(member_id)
        else:
            self.session.flush()  # the connection does not autoflush: see what it wrote
            # on the connection: plain columns need none of the ORM's result processing
            row = self.session.connection().execute(_SEALED_SUMMARY,
                                                    {"member_id": member_id}).first()
            sealed = None if row is None else Envelope(row[0], row[1], row[2])
        if sealed is None:
            return None
        return self.cipher.open(sealed, SUMMARY_CONTEXT, str(member_id))

    # -- coverage (all that officers see) -------------------------------------------------
    def coverage(self, member_id: int) -> Coverage:
        """Whether the member is linked, and when their record was last updated."""
        linked = self.session.scalar(select(HealthLink.id).where(
            HealthLink.member_id == member_id)) is not None
        updated = self.session.scalar(select(HealthRecord.updated_at).where(
            HealthRecord.member_id == member_id))
        return Coverage(linked=linked, updated_at=updated)

    def coverage_figures(self, scope: Scope) -> CoverageFigures:
        """How many members in scope there are, are linked, and have a stored record."""
        in_scope = scope.condition(Member.province_code, Member.union_code)
        members = self.session.scalar(select(func.count()).select_from(Member).where(in_scope))
        linked = self.session.scalar(select(func.count()).select_from(HealthLink).join(
            Member, Member.id == HealthLink.member_id).where(in_scope))
        stored = self.session.scalar(select(func.count()).select_from(HealthRecord).join(
            Member, Member.id == HealthRecord.member_id).where(in_scope))
        return CoverageFigures(members=members or 0, linked=linked or 0, with_record=stored or 0)


def _content(value: Any) -> Any:
    """The document without its receipt times (``received_at`` members), for the hash."""
    if isinstance(value, Mapping):
        return {k: _content(v) for k, v in value.items() if k != "received_at"}
    if isinstance(value, list):
        return [_content(v) for v in value]
    return value


def follow_member(session: Session, member_id: int, province_code: str) -> None:
    """Move a member's health rows to their new province (a transfer)."""
    for table in (HealthRecord, HealthLink):
        session.execute(update(table).where(table.member_id == member_id)
                        .values(province_code=province_code))
