"""Access events written at the edge: each verify, pull, denial and emergency use is appended
to the member's access log and committed before the answer is sent, so a refusal (answered
4xx, which rolls the request back) is logged too."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from flask import current_app

from app.clock import now as utc_now
from app.composition import (
    access_log,
    data_cipher,
    member_login_policy,
    pin_client_cap,
    presence_tokens_for,
    pull_grants_for,
)
from app.db import WRITE_INTENT
from app.edge.auth import current_clinic_client
from app.extensions import db
from app.models.access_event import AccessEvent
from app.services.access import member_accounts
from app.services.access_events.addresses import NotificationAddresses
from app.services.access_events.log import AccessRecord
from app.services.access_events.outbox import notify_emergency
from app.services.clinic_flow import presence
from app.services.clinic_flow.desk import Answer, Clinic, ClinicDesk
from app.services.clinics.directory import ClinicIdentity, ensure_accredited
from app.services.errors import ClinicNotAccredited, DomainError, ValidationFailed


def record_access(record: AccessRecord) -> AccessEvent:
    """Append ``record`` (and queue the member's e-mail of an emergency use, once: not for the
    pulls of its grant) in the request's session and commit it here.

    The clinic flow's request session has only read when this is called (the desk writes
    nothing), so the commit holds the event alone, and the refusal's rollback that follows
    finds nothing left to undo. On PostgreSQL the event joins the transaction that read the
    card and consent (one connection, one commit a request); SQLite cannot turn a reader
    into a writer safely (another writer may have committed since it began), so there the
    read transaction ends first and a writing one (``BEGIN IMMEDIATE``) takes the event."""
    session = db.session
    if session.get_bind().dialect.name != "postgresql":
        session.rollback()
        session.connection(execution_options={WRITE_INTENT: True})
    try:
        event = access_log(session).record(record)
        if record.kind == "emergency" and record.emergency_reason:  # the use, not its pulls
            notify_emergency(session, event)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return event


def _check_pin(member_id: int, pin: str, clinic: Clinic) -> None:
    """A PIN check in a session of its own: a wrong PIN's count (the member's, and the clinic
    client's across members) outlasts the refusal."""
    config = current_app.config
    db.session.rollback()  # the request's session only read so far
    with db.new_session(current_app, write=True) as session:
        member_accounts.verify_pin(
            session, member_id, pin, policy=member_login_policy(config),
            client=pin_client_cap(config, clinic.client_id, clinic.facility_code))


def _bind_presence(token: str, card_serial: str, expires_at: datetime, clinic: Clinic) -> None:
    """Bind a presence token to the first clinic that presents it, in a session of its own
    (committed whatever the request's answer)."""
    db.session.rollback()  # the request's session only read so far
    with db.new_session(current_app, write=True) as session:
        presence.bind_to_clinic(session, token, clinic_code=clinic.facility_code,
                                client_id=clinic.client_id, card_serial=card_serial,
                                expires_at=expires_at, now=utc_now())


def clinic_desk() -> ClinicDesk:
    """The clinic desk over the request's session (the API's and the scanner page's)."""
    config = current_app.config
    return ClinicDesk(db.session, data_cipher(), grants=pull_grants_for(config),
                      presence_tokens=presence_tokens_for(config), check_pin=_check_pin,
                      bind_presence=_bind_presence)


def finish(answer: Answer) -> None:
    """Append the answer's access event, then raise its refusal if it has one."""
    record_access(answer.record)
    if answer.error is not None:
        raise answer.error


def member_emailed(answer: Answer) -> bool:
    """Whether the member of an emergency access has an address for notices, so the e-mail
    queued for it reaches her (without one she learns of it from her access log only)."""
    member = answer.outcome.member if answer.outcome is not None else None
    if member is None:
        return False
    return NotificationAddresses(db.session, data_cipher()).get(member.id) is not None


def refuse_unless_accredited(desk: ClinicDesk, clinic: ClinicIdentity, purpose: str | None,
                             device_id: str | None = None, *, text: str | None = None,
                             grant: str | None = None) -> None:
    """Refuse a suspended or withdrawn clinic (403 ``clinic-not-accredited``), its attempt
    recorded as a denial, tied to the member when the card it scanned (or its grant's card)
    is genuine, so the member sees it in their access log (the API's and the desk page's)."""
    try:
        ensure_accredited(db.session, clinic)
    except ClinicNotAccredited as error:
        serial = desk.card_serial_of(text=text, grant=grant, client_id=clinic.client_id)
        record_access(desk.refusal(clinic, error, purpose=purpose, device_id=device_id,
                                   card_serial=serial))
        raise


def refuse_scan(desk: ClinicDesk, error: DomainError, purpose: str | None,
                device_id: str | None = None) -> NoReturn:
    """Record the denial of a request the desk could not take (an unreadable scan, a missing
    grant, an unknown device), then raise it; a clinic that is not accredited is refused as
    such instead (``refuse_unless_accredited``: its own denial). What is not a refusal of a
    card — a plain invalid field (no ``reason``), or the accreditation refusal already
    recorded — is raised as it is."""
    if isinstance(error, ClinicNotAccredited) or (
            isinstance(error, ValidationFailed) and not error.extra.get("reason")):
        raise error
    clinic = current_clinic_client()
    refuse_unless_accredited(desk, clinic, purpose, device_id)
    record_access(desk.refusal(clinic, error, purpose=purpose, device_id=device_id))
    raise error
