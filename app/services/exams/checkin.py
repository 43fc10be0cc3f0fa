"""Check-in at the round's clinic by the member's card: the desk's own card check (signature,
status lists, the stored card and member), no PIN, nothing of the record released. One
indexed read of the participant after the card check, and one access event (``verify``,
outcome ``checked-in``) in the member's log: a handheld scanner's queue moves in well under a
second a worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.models.exam_round import ExamParticipant, ExamRound
from app.services.access_events.log import AccessRecord
from app.services.clinic_flow.card_check import CardCheck
from app.services.clinics.devices import active_device
from app.services.clinics.directory import ClinicIdentity
from app.services.errors import CardNotUsable, DeviceNotRegistered, NotFound
from app.services.exams.rounds import NotInRound, RoundClosed

#: The purpose a check-in and a result are recorded under.
PURPOSE = "occupational-health"


@dataclass(frozen=True)
class CheckedIn:
    """A check-in: the participant, whether it was already done, and the access event to
    append (None when it repeats one already recorded)."""

    participant: ExamParticipant
    member_name: str
    member_number: str
    already: bool
    record: AccessRecord | None


def without_line_end(text: str) -> str:
    """The scanned text without the one line end (CR LF, LF or CR) a handheld reader types
    after it; the rest is checked as sent."""
    for end in ("\r\n", "\n", "\r"):
        if text.endswith(end):
            return text[: -len(end)]
    return text


def clinic_round(session: Session, clinic: ClinicIdentity, round_id: int) -> ExamRound:
    """The round, if this clinic holds it.

    Raises:
        NotFound: no such round at this clinic (another clinic's round is not named).
    """
    round_ = session.get(ExamRound, round_id)
    if round_ is None or round_.clinic_id != clinic.clinic_id or round_.status != "planned":
        raise NotFound("No such exam round at this clinic.")
    return round_


def ensure_open(round_: ExamRound, today: date) -> None:
    """Raises RoundClosed unless ``today`` is one of the round's days."""
    if today < round_.first_day:
        raise RoundClosed("The round has not begun: check-in opens on its first day.",
                          reason="round-not-begun", first_day=round_.first_day.isoformat())
    if today > round_.last_day:
        raise RoundClosed("The round is over.", reason="round-over",
                          last_day=round_.last_day.isoformat())


def check_in(session: Session, clinic: ClinicIdentity, round_id: int, text: str, *,
             cards: CardCheck | None = None, device_id: str | None = None,
             clock: Callable[[], datetime] = utc_now) -> CheckedIn:
    """Check in the holder of the scanned card for today (idempotent: a second scan answers
    the first check-in, recording nothing new).

    Raises:
        NotFound: no such round at this clinic. RoundClosed: not one of its days.
        DeviceNotRegistered: the named scanner device is not one of the clinic's.
        CardUnreadable: not a card. CardNotUsable: revoked, suspended, expired, invalid.
        NotInRound: a valid card whose member is not in this round.
        A refusal of a stored card carries ``denial``: the access record of the refused scan
        for the member's log (the caller appends it in a transaction of its own).
    """
    round_ = clinic_round(session, clinic, round_id)
    if device_id is not None and active_device(session, clinic.clinic_id, device_id) is None:
        raise DeviceNotRegistered(
            "This scanner device is not registered (or is disabled) for this clinic.",
            reason="device-not-registered")
    ensure_open(round_, today_in_vietnam(clock()))
    outcome = (cards or CardCheck(session, clock=clock)).check(text)

    def denial(reason: str) -> AccessRecord | None:
        """The refusal as the member's access log keeps it (a scan of her card)."""
        member = outcome.member
        if member is None:
            return None
        return AccessRecord(
            kind="denial", member_id=member.id, province_code=member.province_code,
            card_serial=outcome.serial, clinic_code=clinic.facility_code,
            clinic_name=clinic.name, client_id=clinic.client_id, device_id=device_id,
            purpose=PURPOSE, outcome="refused", reason=reason)

    if not outcome.valid or outcome.member is None or outcome.card is None:
        refused = CardNotUsable(f"The card is {outcome.status}: no check-in.",
                                card_status=outcome.status, reason=outcome.clinic_reason)
        refused.denial = denial(outcome.reason)  # type: ignore[attr-defined]
        raise refused
    member = outcome.member
    participant = session.scalar(
        select(ExamParticipant).where(ExamParticipant.round_id == round_.id,
                                      ExamParticipant.member_id == member.id)
        .with_for_update())
    if participant is None:
        error = NotInRound("This card's holder is not in this exam round.",
                           reason="not-in-round")
        error.denial = denial("not-in-round")  # type: ignore[attr-defined]
        raise error
    if participant.state not in ("invited", "confirmed", "asked-another-day"):
        return CheckedIn(participant, member.full_name, member.member_number, True, None)
    participant.state = "checked-in"
    participant.checked_in_at = clock()
    participant.checked_in_card = outcome.serial
    record = AccessRecord(
        kind="verify", member_id=member.id, province_code=member.province_code,
        card_serial=outcome.serial, clinic_code=clinic.facility_code, clinic_name=clinic.name,
        client_id=clinic.client_id, device_id=device_id, purpose=PURPOSE, released=(),
        outcome="checked-in", reason=f"exam-round-{round_.id}")
    return CheckedIn(participant, member.full_name, member.member_number, False, record)
