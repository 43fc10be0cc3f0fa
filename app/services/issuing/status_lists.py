"""Bitstring status lists at rest: random index allocation, revocation/suspension bits."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Card, StatusListRecord
from cards.status import MIN_ENTRIES, PURPOSES, StatusList

#: A list takes new cards until half full, so a random free index is found in ~2 tries
#: and every list keeps group privacy.
FILL_LIMIT = MIN_ENTRIES // 2


class StatusLists:
    """Allocates card positions and flips their bits; each change raises the list's version
    (and so the trust bundle's). A change locks only its own list row, never a shared one, so
    concurrent status changes cannot deadlock on a global counter."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._current: tuple[int, int] | None = None  # (list id, cards in it)

    def record(self, list_id: int, purpose: str) -> StatusListRecord | None:
        """The stored row of one list and purpose."""
        return self.session.scalar(select(StatusListRecord).where(
            StatusListRecord.list_id == list_id, StatusListRecord.purpose == purpose))

    def _create_list(self, list_id: int) -> None:
        for purpose in PURPOSES:
            self.session.add(StatusListRecord(list_id=list_id, purpose=purpose, size=MIN_ENTRIES,
                                              bits=bytes(MIN_ENTRIES // 8), version=1))
        self.session.flush()

    def _open_list(self) -> tuple[int, int]:
        newest = self.session.scalar(select(func.max(StatusListRecord.list_id)))
        if newest is None:
            self._create_list(1)
            return 1, 0
        used = self.session.scalar(select(func.count()).select_from(Card).where(
            Card.status_list_id == newest)) or 0
        if used >= FILL_LIMIT:
            self._create_list(newest + 1)
            return newest + 1, 0
        return newest, used

    def allocate(self) -> tuple[int, int]:
        """A fresh (list id, random index) for a new card."""
        if self._current is None or self._current[1] >= FILL_LIMIT:
            self._current = self._open_list()
            if self._current[1] >= FILL_LIMIT:  # opened by another writer meanwhile
                self._current = self._open_list()
        list_id, used = self._current
        while True:
            index = secrets.randbelow(MIN_ENTRIES)
            taken = self.session.scalar(select(Card.id).where(
                Card.status_list_id == list_id, Card.status_index == index))
            if taken is None:
                self._current = (list_id, used + 1)
                return list_id, index

    def forget_current(self) -> None:
        """Re-read the open list's fill on the next allocation (after a failed insert)."""
        self._current = None

    def set_bit(self, list_id: int, purpose: str, index: int, value: bool) -> None:
        """Set or clear a card's revocation or suspension bit (row-locked read-modify-write)."""
        record = self.session.scalar(select(StatusListRecord).where(
            StatusListRecord.list_id == list_id, StatusListRecord.purpose == purpose)
            .with_for_update())
        if record is None:
            raise LookupError(f"no status list {list_id}/{purpose}")
        bits = StatusList.from_bytes(list_id, purpose, record.bits)  # type: ignore[arg-type]
        if bits.get(index) == value:
            return
        bits.set(index, value)
        record.bits = bits.to_bytes()
        record.version += 1  # part of the trust-bundle version (see keys.publication_version)

    def load(self, list_id: int, purpose: str) -> StatusList | None:
        """A stored list as a ``cards`` StatusList."""
        record = self.record(list_id, purpose)
        if record is None:
            return None
        return StatusList.from_bytes(list_id, purpose, record.bits)  # type: ignore[arg-type]

    def all(self) -> list[StatusList]:
        """Every stored list."""
        rows = self.session.scalars(select(StatusListRecord).order_by(
            StatusListRecord.list_id, StatusListRecord.purpose)).all()
        return [StatusList.from_bytes(r.list_id, r.purpose, r.bits)  # type: ignore[arg-type]
                for r in rows]
