"""Transfers between offices: the new office asks by personal ID, the member's office decides."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Member, TransferRequest, TransferStatus, Union
from app.services import audit
from app.services.access.scope import Scope
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.health import store as health_store
from app.services.registry.members import ELSEWHERE_ACTION, MemberRegistry


class TransferDesk:
    """Transfer requests for one actor: ask for a member, list, accept, reject."""

    def __init__(self, session: Session, cipher: DataCipher, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.actor = actor
        self.clock = clock
        self.registry = MemberRegistry(session, cipher, actor=actor)

    def request(self, scope: Scope, personal_id: str, union_code: str,
                reason: str) -> TransferRequest:
        """Ask the office that holds the person with this personal ID to hand them over to
        ``union_code`` (a union in the caller's scope). Counts against the caller's hourly
        limit of run-ins with other offices' members, like a refused registration.

        Raises:
            ValidationFailed: unknown union, malformed or unregistered personal ID.
            TooManyConflicts: over the hourly limit.
            Conflict: the member is already in scope, or a request for them is pending.
        """
        union = self.registry.union_in_scope(scope, union_code.strip().upper())
        digits = re.sub(r"[\s.\-]", "", personal_id)
        if not re.fullmatch(r"\d{12}", digits):
            raise ValidationFailed.field("personal_id", "The personal ID (CCCD) must be exactly "
                                                        "12 digits.")
        self.registry.ensure_elsewhere_budget()
        member = self.registry.find_by_personal_id(digits)
        if member is None:
            audit.record(self.session, actor=self.actor, action=ELSEWHERE_ACTION,
                         object_type="personal_id", object_id="unregistered")
            self.session.commit()  # counted like any other look-up
            raise ValidationFailed.field("personal_id", "Nobody is registered with this personal "
                                                        "ID; register the member instead.")
        if scope.allows(member.province_code, member.union_code):
            raise Conflict("The member is already registered by your office.")
        self.registry.record_elsewhere(member)
        pending = self.session.scalar(select(TransferRequest.id).where(
            TransferRequest.member_id == member.id,
            TransferRequest.to_union_code == union.code,
            TransferRequest.status == TransferStatus.PENDING))
        if pending is not None:
            self.session.commit()
            raise Conflict("A transfer of this person to that union is already pending.")
        transfer = TransferRequest(
            member_id=member.id, to_province_code=union.province_code, to_union_code=union.code,
            status=TransferStatus.PENDING, reason=reason.strip(), requested_by=self.actor,
            decision_reason="", from_province_code=member.province_code,
            from_union_code=member.union_code, created_at=self.clock())
        self.session.add(transfer)
        self.session.flush()
        audit.record(self.session, actor=self.actor, action="transfer.request",
                     object_type="transfer", object_id=transfer.id,
                     province_code=member.province_code, reason=transfer.reason[:200],
                     details={"member_id": member.id, "to_union_code": union.code,
                              "to_province_code": union.province_code})
        return transfer

    def incoming(self, scope: Scope) -> list[tuple[TransferRequest, Member]]:
        """Pending requests for members the caller's office holds, oldest first."""
        rows = self.session.execute(
            select(TransferRequest, Member).join(Member, Member.id == TransferRequest.member_id)
            .where(TransferRequest.status == TransferStatus.PENDING,
                   scope.condition(Member.province_code, Member.union_code))
            .order_by(TransferRequest.id)).all()
        return [(transfer, member) for transfer, member in rows]

    def outgoing(self, scope: Scope) -> list[TransferRequest]:
        """Requests made for unions in the caller's scope, newest first."""
        return list(self.session.scalars(
            select(TransferRequest)
            .where(scope.condition(TransferRequest.to_province_code,
                                   TransferRequest.to_union_code))
            .order_by(TransferRequest.id.desc())))

    def _pending_for(self, scope: Scope, transfer_id: int) -> tuple[TransferRequest, Member]:
        transfer = self.session.get(TransferRequest, transfer_id, with_for_update=True)
        if transfer is None:
            raise NotFound("No such transfer request.")
        member = self.session.get(Member, transfer.member_id, with_for_update=True)
        if member is None or not scope.allows(member.province_code, member.union_code):
            raise NotFound("No such transfer request.")
        if transfer.status is not TransferStatus.PENDING:
            raise Conflict(f"The request is already {transfer.status.value}.")
        return transfer, member

    def _decide(self, transfer: TransferRequest, status: TransferStatus, reason: str) -> None:
        transfer.status = status
        transfer.decided_by = self.actor
        transfer.decided_at = self.clock()
        transfer.decision_reason = reason.strip()

    def accept(self, scope: Scope, transfer_id: int, reason: str = "") -> TransferRequest:
        """Hand the member over: they move to the requesting union (with a new member number
        when the province changes); their cards follow them, to be re-issued by the new office;
        other pending requests for them are rejected.

        Raises:
            NotFound: no such request for a member in scope. Conflict: already decided.
        """
        transfer, member = self._pending_for(scope, transfer_id)
        union = self.session.scalar(select(Union).where(Union.code == transfer.to_union_code))
        assert union is not None  # a foreign key
        before = {"province_code": member.province_code, "union_code": member.union_code,
                  "member_number": member.member_number}
        if union.province_code != member.province_code:
            member.member_number = self.registry.allocate_member_numbers(
                union.province_code, 1)[0]
        member.province_code = union.province_code
        member.union_code = union.code
        health_store.follow_member(self.session, member.id, member.province_code)
        self._decide(transfer, TransferStatus.ACCEPTED, reason)
        for other in self.session.scalars(select(TransferRequest).where(
                TransferRequest.member_id == member.id, TransferRequest.id != transfer.id,
                TransferRequest.status == TransferStatus.PENDING).with_for_update()):
            self._decide(other, TransferStatus.REJECTED, f"transferred by request {transfer.id}")
        audit.record(self.session, actor=self.actor, action="transfer.accept",
                     object_type="transfer", object_id=transfer.id,
                     province_code=before["province_code"], reason=transfer.decision_reason[:200])
        audit.record(self.session, actor=self.actor, action="member.transfer",
                     object_type="member", object_id=member.id,
                     province_code=member.province_code,
                     details={"from": before, "to": {
                         "province_code": member.province_code, "union_code": member.union_code,
                         "member_number": member.member_number}, "transfer_id": transfer.id})
        self.session.flush()
        return transfer

    def reject(self, scope: Scope, transfer_id: int, reason: str) -> TransferRequest:
        """Refuse a request (the member stays).

        Raises:
            NotFound: no such request for a member in scope. Conflict: already decided.
        """
        transfer, member = self._pending_for(scope, transfer_id)
        self._decide(transfer, TransferStatus.REJECTED, reason)
        audit.record(self.session, actor=self.actor, action="transfer.reject",
                     object_type="transfer", object_id=transfer.id,
                     province_code=member.province_code, reason=transfer.decision_reason[:200])
        self.session.flush()
        return transfer
