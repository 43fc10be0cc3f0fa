"""Recording access events: each appended to its member's hash chain under that chain's lock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models.access_event import ACCESS_KINDS, AccessChainHead, AccessEvent, AccessEventText
from app.services.access_events.chain import GENESIS, HASH_VERSION, event_hash

#: Encryption context of the emergency free text (owner: the event's id) and of its digest.
EMERGENCY_TEXT_CONTEXT = "access_event_texts.text"
#: Longest emergency free text accepted (characters).
EMERGENCY_TEXT_MAX = 2000
_HEADS = cast(Table, AccessChainHead.__table__)
_EVENTS = cast(Table, AccessEvent.__table__)
# The append's statements, built once (building and keying them was a fifth of a verify's
# Python time): parameters by name, none named like a column (a DML statement would take
# such a parameter as one more column to set).
_SELECT_HEAD = (select(_HEADS.c.seq, _HEADS.c.hash)
                .where(_HEADS.c.chain_key == bindparam("head_key")).with_for_update())
# The event's id is part of its (version 2) hash, so it is taken before the INSERT: on
# PostgreSQL from the id sequence in the head's locked read (no extra round trip); on SQLite,
# whose one writer holds the database, the next id after the highest (rows are never deleted).
_SELECT_HEAD_AND_ID = (select(_HEADS.c.seq, _HEADS.c.hash,
                              func.nextval(func.pg_get_serial_sequence("access_events", "id")))
                       .where(_HEADS.c.chain_key == bindparam("head_key")).with_for_update())
_NEXT_ID = select(func.coalesce(func.max(_EVENTS.c.id), 0) + 1)
_MOVE_HEAD = (update(_HEADS).where(_HEADS.c.chain_key == bindparam("head_key"))
              .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"),
                      province_code=bindparam("head_province")))
_INSERT_EVENT = (insert(_EVENTS)
                 .values({c: bindparam(f"e_{c.name}", type_=c.type) for c in _EVENTS.c}))
#: PostgreSQL: the head moves in a CTE of the event's INSERT (one round trip).
_MOVE_AND_INSERT = _INSERT_EVENT.add_cte(_MOVE_HEAD.cte("moved_head"))
#: Column widths the record's strings must fit.
_WIDTHS = {"card_serial": 32, "clinic_code": 16, "clinic_name": 200, "client_id": 64,
           "device_id": 64, "practitioner": 200, "purpose": 32, "outcome": 32, "reason": 64,
           "emergency_reason": 64}


def member_chain(member_id: int) -> str:
    """The chain key of a member's events."""
    return f"member:{member_id}"


def clinic_chain(clinic_code: str) -> str:
    """The chain key of a clinic's events that could not be tied to a member."""
    return f"clinic:{clinic_code}"


@dataclass(frozen=True)
class AccessRecord:
    """What one access event records (the clinic's name and code are snapshots: what the
    member sees even after the clinic is renamed).

    Raises:
        ValueError: an unknown kind, an empty clinic code or client, a member without province,
            a string longer than its column, or emergency fields on a non-emergency event.
    """

    kind: str                     # "verify" | "pull" | "denial" | "emergency"
    member_id: int | None         # None when the scan could not be tied to a member
    province_code: str | None
    card_serial: str | None
    clinic_code: str              # facility code, snapshot
    clinic_name: str              # snapshot (what the member sees)
    client_id: str
    device_id: str | None = None
    practitioner: str | None = None
    purpose: str | None = None
    released: tuple[str, ...] = ()
    denied: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    outcome: str = ""             # e.g. valid / revoked / released / refused
    reason: str | None = None     # specific reason code of a refusal
    emergency_reason: str | None = None   # reason code
    emergency_text: str | None = None     # free text (stored encrypted)

    def __post_init__(self) -> None:
        if self.kind not in ACCESS_KINDS:
            raise ValueError(f"unknown access event kind {self.kind!r}")
        if not self.clinic_code or not self.client_id:
            raise ValueError("an access event needs the clinic's code and client id")
        if self.member_id is not None and not self.province_code:
            raise ValueError("a member's access event needs the member's province code")
        for name, width in _WIDTHS.items():
            value = getattr(self, name)
            if value is not None and len(value) > width:
                raise ValueError(f"{name} is longer than {width} characters")
        if self.emergency_text is not None and len(self.emergency_text) > EMERGENCY_TEXT_MAX:
            raise ValueError(f"emergency_text is longer than {EMERGENCY_TEXT_MAX} characters")
        if self.kind != "emergency" and (self.emergency_reason or self.emergency_text):
            raise ValueError("emergency reason and text belong to emergency events only")


class AccessLog:
    """Appends access events to their chains; never updates or deletes one.

    Appends to one chain serialise on its head row: PostgreSQL locks it (``FOR UPDATE``);
    SQLite has one writer at a time. Appends to different members' chains never wait on each
    other (no row is shared by the whole country).
    """

    def __init__(self, session: Session, cipher: DataCipher, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.clock = clock

    def record(self, rec: AccessRecord) -> AccessEvent:
        """Append ``rec`` to its member's chain (or its clinic's, without a member); written,
        not committed: it is written with the caller's transaction or not at all.

        Core statements, not the unit of work (the hot path of every clinic request): the
        head is read locked, then moved and the event inserted — on PostgreSQL in one
        statement (the head's UPDATE as a CTE of the INSERT). The event returned is attached
        to the session as written."""
        key = member_chain(rec.member_id) if rec.member_id is not None \
            else clinic_chain(rec.clinic_code)
        self.session.flush()  # the statements below run on the connection, which does not
        connection = self.session.connection()  # autoflush (nor build ORM results)
        seq, prev_hash, event_id = self._locked_head(key, rec.member_id, rec.province_code)
        if event_id is None:
            event_id = int(connection.execute(_NEXT_ID).scalar_one())
        text = rec.emergency_text or None
        values: dict[str, Any] = dict(
            id=event_id, hash_version=HASH_VERSION, chain_key=key, seq=seq + 1, prev_hash=prev_hash, at=self.clock(), kind=rec.kind,
            member_id=rec.member_id, province_code=rec.province_code,
            card_serial=rec.card_serial, clinic_code=rec.clinic_code,
            clinic_name=rec.clinic_name, client_id=rec.client_id, device_id=rec.device_id,
            practitioner=rec.practitioner, purpose=rec.purpose,
            released=sorted(set(rec.released)), denied=dict(sorted(rec.denied.items())),
            outcome=rec.outcome, reason=rec.reason, emergency_reason=rec.emergency_reason,
            emergency_text_digest=(self.cipher.lookup_hash(text, EMERGENCY_TEXT_CONTEXT)
                                   if text is not None else None))
        values["hash"] = event_hash(values)
        head = {"head_key": key, "head_seq": values["seq"], "head_hash": values["hash"],
                "head_province": rec.province_code}
        event_params = {f"e_{name}": value for name, value in values.items()}
        if connection.dialect.name == "postgresql":
            connection.execute(_MOVE_AND_INSERT, {**event_params, **head})
        else:
            connection.execute(_MOVE_HEAD, head)
            connection.execute(_INSERT_EVENT, event_params)
        event = AccessEvent(**values)
        make_transient_to_detached(event)
        self.session.add(event)
        if text is not None:
            self.session.execute(insert(AccessEventText).values(
                event_id=event.id, province_code=rec.province_code,
                text_encrypted=self.cipher.encrypt(text, EMERGENCY_TEXT_CONTEXT, str(event.id))))
        return event

    def emergency_text(self, event: AccessEvent) -> str | None:
        """The emergency free text of an event, decrypted (None when it has none)."""
        row = self.session.get(AccessEventText, event.id)
        if row is None:
            return None
        return self.cipher.decrypt(row.text_encrypted, EMERGENCY_TEXT_CONTEXT, str(event.id))

    def _locked_head(self, key: str, member_id: int | None,
                     province_code: str | None) -> tuple[int, str, int | None]:
        """The chain head's ``seq`` and ``hash``, its row locked until the transaction ends
        (created on first use; two first appends racing both end up locking the one row), and
        on PostgreSQL the new event's id (None elsewhere)."""
        head = self._select_head(key)
        if head is not None:
            return head
        values = {"chain_key": key, "member_id": member_id, "province_code": province_code,
                  "seq": 0, "hash": GENESIS, "checkpointed_seq": 0}
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self.session.execute(pg_insert(AccessChainHead).values(values)
                                 .on_conflict_do_nothing(index_elements=["chain_key"]))
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self.session.execute(sqlite_insert(AccessChainHead).values(values)
                                 .on_conflict_do_nothing(index_elements=["chain_key"]))
        else:  # pragma: no cover - PostgreSQL and SQLite are the supported databases
            self.session.execute(insert(_HEADS).values(values))
        head = self._select_head(key)
        assert head is not None  # inserted above, or by the transaction we waited for
        return head

    def _select_head(self, key: str) -> tuple[int, str, int | None] | None:
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            locked = connection.execute(_SELECT_HEAD_AND_ID, {"head_key": key}).one_or_none()
            return None if locked is None else (int(locked[0]), str(locked[1]), int(locked[2]))
        row = connection.execute(_SELECT_HEAD, {"head_key": key}).one_or_none()
        return None if row is None else (int(row[0]), str(row[1]), None)
