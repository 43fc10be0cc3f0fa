"""Card status changes and their status-list bits, in one place (desk, keys and members use it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import Card, CardStatus, Member, MemberStatus
from app.services import audit
from app.services.issuing.status_lists import StatusLists


class CardLifecycle:
    """Revoke, suspend and reinstate cards; every change sets its bit and is audited.

    Lock order, everywhere: member row, then card rows, then status-list rows. Callers lock
    the cards they change (``live_cards`` or ``CardDesk.get(lock=True)``) before any bit.
    """

    def __init__(self, session: Session, *, actor: str,
                 clock: Callable[[], datetime] = utc_now,
                 lists: StatusLists | None = None) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.lists = lists or StatusLists(session)

    def _change(self, card: Card, status: CardStatus, reason: str, action: str) -> None:
        card.status = status
        card.status_reason = reason
        card.status_changed_at = self.clock()
        audit.record(self.session, actor=self.actor, action=action, object_type="card",
                     object_id=card.serial, province_code=card.province_code, reason=reason)

    def revoke(self, card: Card, reason: str) -> None:
        """Revoke for good (sets the revocation bit, clears a suspension bit)."""
        self.lists.set_bit(card.status_list_id, "revocation", card.status_index, True)
        self.lists.set_bit(card.status_list_id, "suspension", card.status_index, False)
        self._change(card, CardStatus.REVOKED, reason, "card.revoke")

    def suspend(self, card: Card, reason: str) -> None:
        """Suspend (sets the suspension bit)."""
        self.lists.set_bit(card.status_list_id, "suspension", card.status_index, True)
        self._change(card, CardStatus.SUSPENDED, reason, "card.suspend")

    def reinstate(self, card: Card) -> None:
        """Lift a suspension (clears the suspension bit)."""
        self.lists.set_bit(card.status_list_id, "suspension", card.status_index, False)
        self._change(card, CardStatus.ACTIVE, "", "card.reinstate")

    def live_cards(self, member_id: int) -> list[Card]:
        """A member's active and suspended cards, row-locked until commit."""
        return list(self.session.scalars(select(Card).where(
            Card.member_id == member_id, Card.status != CardStatus.REVOKED)
            .order_by(Card.id).with_for_update()))

    def follow_member(self, member: Member) -> None:
        """Cards follow the member: left -> revoked; suspended -> suspended; active again ->
        suspensions caused by the member's suspension are lifted."""
        for card in self.live_cards(member.id):
            if member.status is MemberStatus.LEFT:
                self.revoke(card, "left-union")
            elif member.status is MemberStatus.SUSPENDED and card.status is CardStatus.ACTIVE:
                self.suspend(card, "member-suspended")
            elif (member.status is MemberStatus.ACTIVE and card.status is CardStatus.SUSPENDED
                  and card.status_reason == "member-suspended"):
                self.reinstate(card)
