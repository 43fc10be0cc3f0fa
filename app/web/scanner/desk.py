"""The scanner's desk: scan (a QR reader typing into the page, camera frames, a photo, or
pasted text; the card and the phone's presence code in either order), verify, take the PIN
(a wrong one asked again beside the verdict), pull and show the authorised record, emergency
access. Every verify, pull, refusal and
emergency use is an access event, recorded as the API records it (``app.edge.access``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, jsonify, render_template, request

from app.composition import (
    scan_limits,
)
from app.edge.access import (
    clinic_desk,
    finish,
    member_emailed,
    refuse_scan,
    refuse_unless_accredited,
)
from app.edge.auth import current_clinic, current_clinic_client, current_principal
from app.edge.bodies import accepts
from app.edge.card_limits import VERIFY_ENDPOINT, count_card
from app.edge.database import defers_writes
from app.edge.problems import error_problem
from app.extensions import limiter
from app.models.consent import PURPOSES
from app.services.clinic_flow import presence
from app.services.clinic_flow import scan as scans
from app.services.clinic_flow.desk import EMERGENCY_REASONS, Answer, ClinicDesk, Presence
from app.services.errors import (
    DecodesBusy,
    DomainError,
    PinLocked,
    PresenceInvalid,
    ScanInvalid,
    ValidationFailed,
)
from app.services.health.summary import SECTIONS
from app.web import wording
from app.web.pages import PIN_REASONS
from app.web.scanner import bp

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: A frame's or photo's request-level bound (the configured photo limit is checked on it).
UPLOAD_MAX_BYTES = 16 * 1024 * 1024
#: The longest practitioner name (the API's bound; the access log's column).
PRACTITIONER_MAX = 200


def _client_key(name: str = "verify") -> str:
    # the API's per-client buckets: the pages are no way around its limits
    principal = current_principal(required=False)
    return f"{name}-client|{principal.subject if principal else request.remote_addr}"


def _limit(name: str) -> str:
    return str(current_app.config[name])


def _practitioner() -> str | None:
    """The practitioner named with a scan (none when blank), refused as the API refuses it
    when longer than the access log keeps.

    Raises:
        ValidationFailed: longer than ``PRACTITIONER_MAX`` characters.
    """
    name = request.form.get("practitioner") or None
    if name is not None and len(name) > PRACTITIONER_MAX:
        raise ValidationFailed.field(
            "practitioner", f"The value is longer than {PRACTITIONER_MAX} characters.")
    return name


def _one_line(text: str) -> str:
    """The pasted text without the one line end (LF or CR LF) a QR reader typing into the
    field adds (docs/uc1.md §1 allows that and nothing else: the rest is checked as sent)."""
    for end in ("\r\n", "\n"):
        if text.endswith(end):
            return text[: -len(end)]
    return text


def _photo() -> bytes | None:
    file = request.files.get("photo")
    if file is None or not file.filename:
        return None
    data: bytes = file.read(int(current_app.config["SCAN_MAX_BYTES"]) + 1)
    return data


def _scanned(photo_text: str | None) -> tuple[str, str | None]:
    """What the member showed, from every place the form carries it: the photo's code, the
    code field (a QR reader, the camera, pasted) and the phone's code kept from an earlier
    scan. Each is a card (``UC1:``...) or the phone's presence code (``UCP1:``...), in either
    order; the card text (checked exactly as sent, '' when none) and the presence code."""
    texts = [t for t in (photo_text, _one_line(request.form.get("uc1", "")),
                         request.form.get("presence_token", "")) if t]
    cards = [t for t in texts if not presence.is_presence_text(t)]
    tokens = [t.strip() for t in texts if presence.is_presence_text(t)]
    return (cards[0] if cards else ""), (tokens[0] if tokens else None)


def _verdict(desk: ClinicDesk, answer: Answer, *, text: str, purpose: str,
             pulled: Answer | None = None, pin_given: bool = False,
             token: str | None = None, refusal: DomainError | None = None) -> str:
    """The verdict page: the card's status, what the clerk checks, and what the member's
    presence still needs (a refused PIN or phone code said beside its field, the card kept)."""
    locked_until = None
    if refusal is not None and refusal.extra.get("locked_until"):
        locked_until = datetime.fromisoformat(str(refusal.extra["locked_until"]))
    return render_template(
        "scanner/verdict.html", answer=answer, pulled=pulled, text=text, purpose=purpose,
        pin_given=pin_given, token=token, all_sections=SECTIONS, reasons=EMERGENCY_REASONS,
        facts=desk.card_facts(answer.outcome), checked_at=desk.clock(), refusal=refusal,
        refusal_detail=wording.problem(refusal) if refusal is not None else None,
        pin_refused=isinstance(refusal, PinLocked) or (
            refusal is not None and refusal.extra.get("reason") in PIN_REASONS),
        attempts_left=refusal.extra.get("attempts_left") if refusal is not None else None,
        locked_until=locked_until)


@bp.get("/")
def scan() -> Any:
    """The scan page: a QR reader's text, the camera, a photo upload, or text pasted."""
    current_clinic()
    return render_template("scanner/scan.html", purposes=PURPOSES)


@bp.post("/frame")
@limiter.shared_limit(lambda: _limit("VERIFY_RATE_LIMIT"), scope=VERIFY_ENDPOINT,
                      key_func=_client_key)
@accepts(MULTIPART, max_bytes=UPLOAD_MAX_BYTES)
def frame() -> Any:
    """One camera frame (when the browser cannot decode QR codes itself): the card's text if
    the frame shows one (JSON). A frame without a code is not a scan: nothing is recorded."""
    current_clinic()
    data = _photo()
    if data is None:
        raise ValidationFailed.field("photo", "Send a camera frame.")
    try:
        return jsonify({"text": scans.from_photo(data, scan_limits(current_app.config),
                                                 client=current_clinic_client().client_id)})
    except ScanInvalid as error:
        return jsonify({"text": None, "reason": error.extra.get("reason")})


@bp.post("/verify")
@defers_writes  # reads, then the access events in short transactions of their own
@limiter.shared_limit(lambda: _limit("VERIFY_RATE_LIMIT"), scope=VERIFY_ENDPOINT,
                      key_func=_client_key)  # per card once the scan is decoded (count_card)
@accepts(FORM, MULTIPART, max_bytes=UPLOAD_MAX_BYTES)
def verify() -> Any:
    """Verify the scanned card for a purpose; with the member's presence (the PIN, or the
    phone's presence code scanned before or after the card), pull what the member shared
    with this clinic and show it (sections not shared are named as withheld). The phone's
    code alone is kept on the scan page until the card is scanned."""
    desk, clinic = clinic_desk(), current_clinic_client()
    form = request.form
    purpose = form.get("purpose", "")
    if purpose not in PURPOSES:
        raise ValidationFailed.field("purpose", "One of: " + ", ".join(PURPOSES))
    pin = form.get("pin", "").strip() or None
    practitioner = _practitioner()
    try:
        photo = _photo()
        text, token = _scanned(scans.from_photo(photo, scan_limits(current_app.config),
                                                client=clinic.client_id)
                               if photo is not None else None)
        if token is not None and not presence.well_formed(token):
            raise PresenceInvalid("The presence token is not one the service issues.",
                                  reason="presence-malformed")
        if not text.strip():
            if token is not None:  # the phone's code first: now the card
                return render_template("scanner/scan.html", purposes=PURPOSES,
                                       purpose=purpose, presence=token)
            raise ValidationFailed.field("uc1", "Scan the card, upload a photo of it or paste "
                                                "its text.")
        count_card(text)
        refuse_unless_accredited(desk, clinic, purpose, text=text)
        answer = desk.verify(text, clinic, purpose, Presence(pin=pin, token=token),
                             practitioner=practitioner)
    except DecodesBusy:
        raise  # not a scan: the client's own decodes are still running, nothing to log
    except DomainError as error:
        refuse_scan(desk, error, purpose)
    try:
        finish(answer)
    except (PresenceInvalid, PinLocked) as refused:
        # the card stays read: the PIN is asked again (with the tries left) or the phone's
        # code, beside the verdict, without scanning the card again
        retry_after = getattr(refused, "retry_after", None)  # a lock's wait
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return (_verdict(desk, answer, text=text, purpose=purpose, pin_given=pin is not None,
                         token=token, refusal=refused),
                error_problem(type(refused)).problem.status, headers)
    pulled = None
    if answer.grant is not None:
        pulled = desk.pull(answer.grant, clinic)
        finish(pulled)
    return _verdict(desk, answer, text=text, purpose=purpose, pulled=pulled,
                    pin_given=pin is not None, token=token)


@bp.post("/emergency")
@defers_writes
@limiter.shared_limit(lambda: _limit("EMERGENCY_RATE_LIMIT"), scope="clinic_flow.EmergencyAccess",
                      key_func=lambda: _client_key("emergency"))
@accepts(FORM)
def emergency() -> Any:
    """Emergency access: a reason code and what happened instead of the PIN; the emergency
    core only, flagged in the member's access log and told to the member by e-mail."""
    desk, clinic = clinic_desk(), current_clinic_client()
    form = request.form
    practitioner = _practitioner()
    try:
        text = scans.from_text(form.get("uc1", ""))
        refuse_unless_accredited(desk, clinic, "emergency", text=text)
        answer = desk.emergency(text, clinic, form.get("reason", ""), form.get("text", ""),
                                practitioner=practitioner)
    except DomainError as error:
        refuse_scan(desk, error, "emergency")
    finish(answer)
    return render_template("scanner/emergency.html", answer=answer,
                           emailed=member_emailed(answer))
