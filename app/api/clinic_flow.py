"""The clinic flow: verify a scanned card, pull what the member authorised, emergency access.
Every verify, pull, denial and emergency use is an access event (``record_access``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jwt
import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
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
from app.edge.auth import (
    current_clinic_client,
    current_principal,
    requires_clinic_client,
)
from app.edge.bodies import accepts
from app.edge.card_limits import count_card
from app.edge.database import defers_writes, writes
from app.edge.problems import ProblemSchema, field_errors
from app.extensions import limiter
from app.schemas.clinic_flow import (
    GRANT_HEADER,
    EmergencyAnswerSchema,
    EmergencySchema,
    VerifyAnswerSchema,
    VerifyPhotoSchema,
    VerifySchema,
)
from app.services.clinic_flow import scan
from app.services.clinic_flow.desk import Answer, Presence
from app.services.errors import (
    DecodesBusy,
    DomainError,
    GrantInvalid,
    ValidationFailed,
)
from app.services.health import fhir_out

JSON = "application/json"
FHIR_JSON = "application/fhir+json"
MULTIPART = "multipart/form-data"
#: A photo upload's request-level bound (the configured photo limit is checked on the file).
UPLOAD_MAX_BYTES = 16 * 1024 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: The verify bodies' schemas, made once (a schema's making deep-copies its fields; loading
#: keeps no state in the instance, so threads share them)
_VERIFY_BODY = VerifySchema()
_PHOTO_FORM = VerifyPhotoSchema()

blp = Blueprint("clinic_flow", __name__, url_prefix="/api/v1",
                description="Clinics: verify a card, pull the record the member authorised, "
                            "emergency access (see docs/reference/api-clinics.md).")


# -- rate-limit keys (checked before the body is parsed) -------------------------------------
def _client_key(name: str) -> str:
    principal = current_principal(required=False) if request.headers.get("Authorization") \
        else None
    return f"{name}-client|{principal.subject if principal else request.remote_addr}"


def _not_authenticated() -> bool:
    """A caller without a valid token is not counted: the view refuses it (401) whatever
    others did, never 429 first; nor can it spend a card's or a client's budget."""
    try:
        return current_principal(required=False) is None
    except DomainError:
        return True


def _card_key(name: str) -> str:
    """The card a pull is about, as far as it can be told before it is checked: the grant's
    card claim (unverified: it only picks a counter). A verify counts its card once the scan
    is decoded (``count_card``)."""
    try:
        card = str(jwt.decode(request.headers.get(GRANT_HEADER, ""),
                              options={"verify_signature": False}).get("card", ""))
    except jwt.PyJWTError:
        card = ""
    return f"{name}-card|{hashlib.sha256(card.encode()).hexdigest()[:32]}"


def _limit(name: str) -> str:
    return str(current_app.config[name])


# -- the desk ---------------------------------------------------------------------------------
def _scanned(args: Mapping[str, Any]) -> str:
    if args.get("uc1") is not None:
        return scan.from_text(args["uc1"])
    return scan.from_ndef(args["ndef_base64"])


def _photo_args() -> dict[str, Any]:
    """The multipart form of a photo verify.

    Raises:
        ValidationFailed: a missing photo or purpose, or invalid fields.
    """
    form = {k: v for k, v in request.form.items()
            if k in ("purpose", "pin", "presence_token", "device_id", "practitioner")}
    photo = request.files.get("photo")
    try:
        args = dict(_PHOTO_FORM.load({**form, "photo": photo or ma.missing}))
    except ma.ValidationError as exc:
        raise ValidationFailed("Invalid form fields.", errors=field_errors(
            {"form": exc.messages})) from None
    presence = None
    if args.get("pin") is not None or args.get("presence_token") is not None:
        presence = {"pin": args.pop("pin", None),
                    "presence_token": args.pop("presence_token", None)}
    return {**args, "presence": presence}


def _grant(answer: Answer) -> dict[str, Any] | None:
    if answer.grant is None or answer.granted is None:
        return None
    g = answer.granted
    return {"token": answer.grant, "header": GRANT_HEADER, "sections": list(g.sections),
            "sensitive": g.sensitive, "purpose": g.purpose, "expires_at": g.expires_at,
            "emergency": g.emergency}


def _verify_body(answer: Answer, purpose: str) -> dict[str, Any]:
    outcome = answer.outcome
    assert outcome is not None
    decision = answer.decision
    return {
        # a suspended card's own reason is the office's: the clinic is told "suspended"
        "status": outcome.status, "reason": outcome.clinic_reason,
        "card_serial": outcome.serial,
        "holder": answer.holder, "purpose": purpose,
        "sections": [] if decision is None else [
            {"section": d.section, "released": d.released, "reason": d.reason,
             "consent_id": d.consent_id} for d in decision.sections],
        "sensitive": None if decision is None else {
            "section": "sensitive", "released": decision.sensitive.released,
            "reason": decision.sensitive.reason,
            "consent_id": decision.sensitive.consent_id},
        "presence": answer.presence, "grant": _grant(answer)}


@blp.route("/verify")
class Verify(MethodView):
    """Card verification by a clinic."""

    # per client here; per card once the scan is decoded (``count_card``)
    decorators = [
        limiter.limit(lambda: _limit("VERIFY_RATE_LIMIT"),
                      key_func=lambda: _client_key("verify"), methods=["POST"],
                      exempt_when=_not_authenticated)]

    @defers_writes  # reads, then the access event in a short transaction of its own
    @accepts(JSON, MULTIPART, max_bytes=UPLOAD_MAX_BYTES)
    @requires_clinic_client  # accreditation: ``_unless_accredited``, logged
    @blp.doc(requestBody={"required": True, "content": {
        JSON: {"schema": VerifySchema}, MULTIPART: {"schema": VerifyPhotoSchema}}})
    @blp.response(200, VerifyAnswerSchema, headers={
        "Cache-Control": {"description": "no-store", "schema": {"type": "string"}}})
    @blp.alt_response(403, schema=ProblemSchema, description=(
        "`clinic-not-accredited`: the clinic is suspended or withdrawn (`accreditation`; the "
        "attempt is logged); `device-not-registered`: the `device_id` is not one of the "
        "clinic's active scanner devices"))
    @blp.alt_response(413, schema=ProblemSchema, description="The body is too large")
    @blp.alt_response(415, schema=ProblemSchema, description="Not JSON or multipart/form-data")
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`card-unreadable`, `scan-invalid`, `image-too-large`, `image-decode-timeout`: what was "
        "scanned is not a card (`reason` says why); `presence-invalid`: the PIN or presence "
        "token does not hold (`reason`); `validation-error`"))
    @blp.alt_response(429, schema=ProblemSchema, description=(
        "Too many verifications by this client or of this card, or `pin-locked`"))
    def post(self) -> Any:
        """Verify a scanned card (UC1 text, NFC NDEF message or photo) now: its status and
        holder, the sections this clinic may pull for the purpose and, with the member's
        presence (PIN or presence token) and consent, a pull grant."""
        desk, clinic = clinic_desk(), current_clinic_client()
        if request.mimetype == MULTIPART:
            args = _photo_args()
        else:
            try:
                args = dict(_VERIFY_BODY.load(request.get_json(silent=True) or {}))
            except ma.ValidationError as exc:
                raise ValidationFailed("Invalid fields.", errors=field_errors(
                    {"json": exc.messages})) from None
        purpose, device_id = args["purpose"], args.get("device_id")
        try:
            desk.check_device(clinic.clinic_id, device_id)
            if request.mimetype == MULTIPART:
                text = scan.from_photo(args["photo"].read(current_app.config["SCAN_MAX_BYTES"]
                                                          + 1),
                                       scan_limits(current_app.config), client=clinic.client_id)
            else:
                text = _scanned(args)
            count_card(text)
            refuse_unless_accredited(desk, clinic, purpose, device_id, text=text)
            given = args.get("presence") or {}
            presence = Presence(pin=given.get("pin"), token=given.get("presence_token"))
            answer = desk.verify(text, clinic, purpose, presence, device_id=device_id,
                                 practitioner=args.get("practitioner"))
        except DecodesBusy:
            raise  # not a scan: the client's own decodes are still running, nothing to log
        except DomainError as error:
            refuse_scan(desk, error, purpose, device_id)
        finish(answer)
        return _verify_body(answer, purpose), 200, _NO_STORE


@blp.route("/pull")
class Pull(MethodView):
    """A pull of the member's authorised record."""

    decorators = [
        limiter.limit(lambda: _limit("PULL_RATE_LIMIT"), key_func=lambda: _client_key("pull"),
                      methods=["GET", "HEAD"], exempt_when=_not_authenticated),
        limiter.limit(lambda: _limit("VERIFY_CARD_RATE_LIMIT"),
                      key_func=lambda: _card_key("pull"), methods=["GET", "HEAD"],
                      exempt_when=_not_authenticated)]

    @writes  # a GET that appends the access event (committed by ``finish``)
    @defers_writes  # reads, then the access event in a short transaction of its own
    @requires_clinic_client  # accreditation: ``_unless_accredited``, logged
    @blp.doc(parameters=[{"in": "header", "name": GRANT_HEADER, "required": True,
                          "schema": {"type": "string", "maxLength": 4096},
                          "description": "the pull grant from POST /api/v1/verify (or "
                                         "/api/v1/emergency-access)"}],
             responses={"200": {
                 "description": "exactly the sections the grant allows now, as JSON, or with "
                                "`Accept: application/fhir+json` an IPS-shaped FHIR R4 "
                                "document Bundle",
                 "content": {JSON: {"schema": {"type": "object"}},
                             FHIR_JSON: {"schema": {"type": "object"}}}}})
    @blp.alt_response(403, schema=ProblemSchema, description=(
        "`grant-invalid`: the grant is missing, tampered with, signed by another key, "
        "expired, or another client's (`reason`); `card-not-usable`: revoked, suspended or "
        "expired since (`card_status`, `reason`); `consent-changed`: withdrawn or expired since "
        "the verify (`sections`); `clinic-not-accredited`: the clinic is suspended or "
        "withdrawn (`accreditation`; the attempt is logged)"))
    @blp.alt_response(404, schema=ProblemSchema, description="No health summary is stored")
    @blp.alt_response(429, schema=ProblemSchema, description="Too many pulls")
    def get(self) -> Any:
        """Pull exactly what the grant in the X-Pull-Grant header allows now (the card, the
        clinic and the consent are checked again)."""
        token = request.headers.get(GRANT_HEADER, "").strip()
        desk, clinic = clinic_desk(), current_clinic_client()
        if not token or len(token) > 4096:
            error = GrantInvalid(f"Send the pull grant in the {GRANT_HEADER} header.",
                                 reason="grant-missing")
            refuse_scan(desk, error, None, None)
        refuse_unless_accredited(desk, clinic, None, None, grant=token)
        answer = desk.pull(token, clinic)
        finish(answer)
        assert answer.summary is not None and answer.granted is not None
        fhir = request.accept_mimetypes.best_match([JSON, FHIR_JSON], JSON) == FHIR_JSON
        sections, sensitive = answer.extra["sections"], answer.extra["sensitive"]
        if fhir:
            body = fhir_out.build_document(answer.summary, now=desk.clock(), sections=sections,
                                           sensitive=sensitive)
        else:
            body = {"card_serial": answer.granted.card_serial, "purpose": answer.granted.purpose,
                    "emergency": answer.granted.emergency, "sections": list(sections),
                    "sensitive": sensitive, "document": answer.document}
        return Response(json.dumps(body, ensure_ascii=False, default=str),
                        mimetype=FHIR_JSON if fhir else JSON,
                        headers={**_NO_STORE, "Vary": "Accept"})


@blp.route("/emergency-access")
class EmergencyAccess(MethodView):
    """Emergency access to a member's emergency core."""

    decorators = [
        limiter.limit(lambda: _limit("EMERGENCY_RATE_LIMIT"),
                      key_func=lambda: _client_key("emergency"), methods=["POST"],
                      exempt_when=_not_authenticated)]

    @defers_writes  # reads, then the access event in a short transaction of its own
    @requires_clinic_client  # accreditation: ``_unless_accredited``, logged
    @blp.arguments(EmergencySchema)
    @blp.response(200, EmergencyAnswerSchema)
    @blp.alt_response(403, schema=ProblemSchema, description=(
        "`card-not-usable`: the card is revoked, suspended or expired; "
        "`clinic-not-accredited`: the clinic is suspended or withdrawn (the attempt is logged)"))
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`card-unreadable`, `scan-invalid` or `validation-error` (an unknown reason code)"))
    @blp.alt_response(429, schema=ProblemSchema, description="Too many emergency accesses")
    def post(self, args: dict[str, Any]) -> Any:
        """Use emergency access: with a reason code and what happened instead of presence,
        release the emergency core only (never sensitive entries) for 24 hours; the member is
        told by e-mail and sees it in their access log."""
        desk, clinic = clinic_desk(), current_clinic_client()
        device_id = args.get("device_id")
        try:
            desk.check_device(clinic.clinic_id, device_id)
            text = _scanned(args)
            refuse_unless_accredited(desk, clinic, "emergency", device_id, text=text)
            answer = desk.emergency(text, clinic, args["reason"], args["text"],
                                    device_id=device_id, practitioner=args.get("practitioner"))
        except DomainError as error:
            refuse_scan(desk, error, "emergency", device_id)
        finish(answer)
        assert answer.outcome is not None
        return {"status": answer.outcome.status, "card_serial": answer.outcome.serial,
                "holder": answer.holder,
                "emergency_core": (answer.document or {}).get("sections", {}).get(
                    "emergency-core") if answer.document else None,
                "grant": _grant(answer), "member_emailed": member_emailed(answer)}, 200, _NO_STORE
