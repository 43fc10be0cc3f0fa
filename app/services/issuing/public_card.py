"""What anyone holding a card may learn from its serial (the NFC link): its status only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Card, CardStatus

#: The longest serial looked up (longer input is cut, as serials are never longer).
SERIAL_MAX = 32


@dataclass(frozen=True)
class PublicCardStatus:
    """A card's public face: serial, validity and status, nothing about its member."""

    serial: str
    expires_at: datetime
    status: str  # active, suspended, revoked or expired


def public_status(session: Session, serial: str, *, now: datetime) -> PublicCardStatus | None:
    """The public status of the card with ``serial`` (any case) at ``now``; an active card
    past its validity is ``expired``. ``None`` when there is no such card."""
    card = session.scalar(select(Card).where(Card.serial == serial.upper()[:SERIAL_MAX]))
    if card is None:
        return None
    status = card.status.value
    if card.status is CardStatus.ACTIVE and card.expires_at <= now:
        status = "expired"
    return PublicCardStatus(serial=card.serial, expires_at=card.expires_at, status=status)
