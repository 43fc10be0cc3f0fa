"""Every error response as RFC 9457 ``application/problem+json``: the catalogue of problem
types, the one table mapping domain errors to them, and the handlers that produce them."""

from __future__ import annotations

import http
import logging
import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import marshmallow as ma
from flask import Flask, Response, g, json, request, url_for
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from app.services.access.tokens import InvalidScope
from app.services.errors import (
    INSUFFICIENT_SCOPE,
    INVALID_TOKEN,
    AccessPeriodInvalid,
    AccreditationUnchanged,
    ActivationCodeExpired,
    ActivationCodeUsed,
    ActivationFailed,
    AlreadyDisabled,
    BackupFailed,
    BodyTooLarge,
    CardNotUsable,
    CardUnreadable,
    CheckpointConflict,
    ClinicClientRevoked,
    ClinicInvalid,
    ClinicNotAccredited,
    Conflict,
    ConsentNoLongerCovers,
    ConsentNotFound,
    ConsentNoticeUnknown,
    ConsentPeriodInPast,
    ConsentPeriodInvalid,
    ConsentPeriodTooLong,
    ConsentTermsInvalid,
    ConsentWithdrawn,
    DecodesBusy,
    DeviceIdTaken,
    DeviceNotRegistered,
    DomainError,
    FacilityCodeTaken,
    FhirInvalid,
    Forbidden,
    GranteeInvalid,
    GranteeUnknown,
    GrantInvalid,
    HealthRecordAmbiguous,
    HealthRecordNotFound,
    HealthRecordUnavailable,
    HealthSummaryMissing,
    ImageDecodeTimeout,
    ImageTooLarge,
    InvalidClient,
    InvalidCredentials,
    InvalidTokenRequest,
    JobBusy,
    LettersGone,
    LoginLocked,
    NotFound,
    NotificationAddressInvalid,
    PinAttemptsCapped,
    PinLocked,
    PresenceInvalid,
    RegisteredElsewhere,
    RosterInvalid,
    RostersBusy,
    ScanInvalid,
    TooManyConflicts,
    Unauthenticated,
    UnsupportedGrantType,
    ValidationFailed,
    WrongPin,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("unioncard.errors")


@dataclass(frozen=True)
class ProblemType:
    """One documented kind of error: its slug, HTTP status, title and explanation."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """The ``type`` member: a relative URI that resolves to this type's documentation."""
        return f"/problems/{self.slug}"


#: Every problem type the service answers with, documented at /problems/.
CATALOGUE = (
    ProblemType("bad-request", 400, "Bad Request", "The request could not be understood."),
    ProblemType("malformed-json", 400, "Malformed JSON",
                "The body is not valid UTF-8 JSON."),
    ProblemType("json-too-deep", 400, "JSON nested too deeply",
                "The body's arrays and objects are nested deeper than the service accepts "
                "(64 levels); no request of this API needs more than a few."),
    ProblemType("unauthorized", 401, "Unauthorized",
                "Authentication is missing, expired or invalid. Get a token from /api/v1/auth/token."),
    ProblemType("invalid-credentials", 401, "Invalid credentials",
                "The username or password is wrong, or the account is disabled."),
    ProblemType("forbidden", 403, "Forbidden", "Your role may not perform this action."),
    ProblemType("not-found", 404, "Not Found",
                "No such resource, or it lies outside your scope."),
    ProblemType("method-not-allowed", 405, "Method Not Allowed",
                "The resource exists but does not support this HTTP method."),
    ProblemType("not-acceptable", 406, "Not Acceptable",
                "The resource cannot be represented in the requested media type."),
    ProblemType("conflict", 409, "Conflict", "The request conflicts with the current state."),
    ProblemType("registered-elsewhere", 409, "Registered by another office",
                "The person is a member registered by another union office, which you cannot "
                "see. If they moved to you, ask for a transfer: POST /api/v1/transfers."),
    ProblemType("letters-gone", 410, "Letters already downloaded",
                "The activation letters of a card batch can be downloaded once; they were "
                "downloaded and deleted. Give a member a new code with the card's "
                "activation-code endpoint."),
    ProblemType("payload-too-large", 413, "Payload Too Large",
                "The request body is larger than this endpoint accepts."),
    ProblemType("uri-too-long", 414, "URI Too Long",
                "The URL (path and query string) is longer than the service accepts; send long "
                "values in a request body."),
    ProblemType("unsupported-media-type", 415, "Unsupported Media Type",
                "The body's Content-Type is not one this endpoint accepts."),
    ProblemType("validation-error", 422, "Validation failed",
                "One or more fields are missing or invalid; see `errors`."),
    ProblemType("roster-invalid", 422, "Roster file rejected",
                "The roster file cannot be imported as a whole (format, encoding, columns or "
                "size); nothing was written. `detail` names the problem."),
    ProblemType("fhir-invalid", 422, "FHIR Bundle rejected",
                "The FHIR R4 Bundle is rejected as a whole and nothing was changed; each entry of "
                "`errors` names one problem by its FHIR path (`field`) and JSON pointer "
                "(`pointer`). See docs/fhir-mapping.md."),
    ProblemType("rate-limited", 429, "Too Many Requests",
                "Too many requests; retry after the time in the Retry-After header."),
    ProblemType("login-locked", 429, "Password login locked",
                "Too many wrong passwords for this account: its password login is locked for "
                "a while; retry after the time in the Retry-After header."),
    ProblemType("headers-too-large", 431, "Request Header Fields Too Large",
                "A request header field, or all of them together, is larger than the service "
                "accepts."),
    ProblemType("internal-error", 500, "Internal Server Error",
                "An unexpected error. It has been logged with the request id."),
    ProblemType("service-unavailable", 503, "Service Unavailable",
                "A dependency (the database) is not ready."),
    ProblemType("rosters-busy", 503, "Workbooks busy",
                "The service is reading as many XLSX workbooks as it allows at once (each can "
                "take a few hundred MB while it is read); send the file again after the time in "
                "the Retry-After header. CSV files are not limited this way."),
    ProblemType("database-busy", 503, "Database busy",
                "The database was busy with other writes for too long; nothing was changed. "
                "Retry after the time in the Retry-After header."),
    ProblemType("health-record-unavailable", 503, "Health record server unavailable",
                "The national/provincial health record server did not answer in time or "
                "answered with an error or an invalid response; retry after the time in the "
                "Retry-After header."),
    ProblemType("invalid-client", 401, "Client authentication failed",
                "The feed or clinic client's credentials (HTTP Basic, or client_id and "
                "client_secret in the form) are missing or wrong, or the client is disabled. "
                "`error` is OAuth 2's `invalid_client` (RFC 6749 §5.2)."),
    ProblemType("unsupported-grant-type", 400, "Unsupported grant type",
                "The token endpoint issues tokens for the `password` grant (staff) and the "
                "`client_credentials` grant (health-record feeds, clinic API clients) only. "
                "`error` is OAuth 2's `unsupported_grant_type`."),
    ProblemType("invalid-token-request", 400, "Invalid token request",
                "The token request lacks a parameter, repeats one (e.g. two `grant_type`), "
                "has a field that is not valid (`errors`), or authenticates the client twice "
                "(HTTP Basic and the form). `error` is OAuth 2's `invalid_request`."),
    ProblemType("invalid-grant", 400, "Invalid grant",
                "The token endpoint's password grant failed: the username, member number, "
                "phone or password is wrong, or the account is disabled (which one is not "
                "said). `error` is OAuth 2's `invalid_grant` (RFC 6749 §5.2)."),
    ProblemType("invalid-scope", 400, "Invalid scope",
                "The token request asks for a scope the account or client does not have (a "
                "token's scope is its role: `admin`, `officer`, `member`, `health-feed` or "
                "`clinic`), or a malformed one. `error` is OAuth 2's `invalid_scope`."),
    ProblemType("bundle-too-large", 413, "FHIR Bundle too large",
                "The FHIR Bundle, or the batch of Bundles, is larger than the feed endpoints "
                "accept (see UNIONCARD_HEALTH_FEED_MAX_BYTES and "
                "UNIONCARD_HEALTH_FEED_BATCH_MAX_BYTES); nothing was changed."),
    ProblemType("activation-failed", 422, "Activation failed",
                "The member number, activation code or birth date is wrong; which one is not "
                "said. Check the letter that came with the card, or ask the union office for a "
                "new code."),
    ProblemType("activation-code-expired", 410, "Activation code expired",
                "The activation code is past its expiry (ACTIVATION_CODE_DAYS after it was "
                "made); ask the union office for a new code."),
    ProblemType("activation-code-used", 409, "Activation code already used",
                "The activation code was used already (each code works once); log in with your "
                "password, or ask the union office for a new code to reset it."),
    ProblemType("pin-locked", 429, "PIN locked",
                "Too many wrong PINs: the member's PIN is refused for a while; retry after the "
                "time in the Retry-After header."),
    ProblemType("pin-attempts-capped", 429, "Too many wrong PINs from this clinic",
                "This clinic client had PIN_CLIENT_MAX_FAILURES wrong PINs within "
                "PIN_CLIENT_WINDOW_SECONDS, whichever members they were for: its PIN checks "
                "are refused until the window ends (Retry-After); the member's presence code "
                "(phone) still works. Administrators see it (GET /api/v1/pin-locks). Logged "
                "as a denial."),
    ProblemType("wrong-pin", 401, "Wrong PIN", "The member's PIN is wrong."),
    ProblemType("consent-withdrawn", 409, "Consent already withdrawn",
                "The consent was withdrawn already; a withdrawn consent cannot be withdrawn "
                "again or renewed. Grant a new consent instead."),
    ProblemType("consent-period-invalid", 422, "Consent period invalid",
                "The consent's period ends before it starts, or a renewal does not extend it."),
    ProblemType("consent-period-too-long", 422, "Consent period too long",
                "A consent lasts at most 12 months from its start; renew it when it ends."),
    ProblemType("consent-period-in-past", 422, "Consent period in the past",
                "A consent's period cannot start or end in the past."),
    ProblemType("consent-grantee-invalid", 422, "Consent grantee invalid",
                "The grantee must be all accredited clinics, one facility type (see the "
                "facility types) or one facility by its 5-digit code."),
    ProblemType("consent-terms-invalid", 422, "Consent terms not allowed",
                "The scope, grantee and purpose do not go together: `on-card` (what the card "
                "itself carries) is only for all accredited clinics and treatment."),
    ProblemType("consent-notice-unknown", 422, "Consent notice unknown",
                "The notice named as shown is not one the service ships, or its hash is not "
                "the hash of that notice's exact text."),
    ProblemType("health-summary-missing", 404, "No health summary",
                "No health summary is stored for the member yet: the health ID is not linked, "
                "or no record has been received for it."),
    ProblemType("scan-invalid", 422, "Scan unreadable",
                "What the clinic scanned cannot be read as a card: `reason` is `bad-base64`, "
                "`ndef-too-large`, `bad-ndef` (not an NDEF message), `no-uc1-record`, "
                "`not-an-image` (not a JPEG, PNG or WebP), `bad-image` (truncated or corrupt) "
                "or `no-code-found` (no QR code in the photo). Logged as a denial."),
    ProblemType("card-unreadable", 422, "Not a UC1 card",
                "The scanned text is not a UC1 card at all (garbage, truncated or oversized); "
                "`reason` names the layer that failed: `too-long`, `bad-prefix`, "
                "`bad-base45`, `bad-zlib`, `too-large-decompressed` or `bad-cose` (see "
                "docs/uc1.md). A card that reads but does not verify is answered 200 with "
                "status `invalid`. The text is read exactly as sent: white space around it is "
                "part of it, and refused with its layer. Logged as a denial."),
    ProblemType("image-too-large", 413, "Photo too large",
                "The photo has more bytes (SCAN_MAX_BYTES) or pixels (SCAN_MAX_PIXELS, read "
                "from the image header before any pixel is decoded; SCAN_MAX_DECODED_PIXELS "
                "for a PNG or WebP, decoded in full) than the service reads; `reason` is "
                "`too-many-bytes` or `too-many-pixels`. Send a smaller photo (or a JPEG, "
                "decoded scaled down)."),
    ProblemType("image-decode-timeout", 422, "Photo took too long to read",
                "Searching the photo for a QR code took longer than SCAN_DECODE_SECONDS; "
                "send a sharper, smaller photo or the QR text itself."),
    ProblemType("presence-invalid", 422, "Presence proof refused",
                "The member's presence proof does not hold: `reason` is `wrong-pin`, "
                "`pin-malformed` (a PIN is 6 digits), `presence-malformed`, "
                "`presence-bad-signature`, `presence-expired` (tokens last 5 minutes), "
                "`presence-other-card` (made for another card), `presence-other-clinic` "
                "(presented by another clinic first: a presence code serves the first clinic "
                "that presents it) or `presence-ambiguous` (PIN and token both given). No "
                "grant is issued. Repeated wrong PINs lock the member's PIN (`pin-locked`). "
                "Logged as a denial."),
    ProblemType("grant-invalid", 403, "Pull grant refused",
                "The pull grant in the X-Pull-Grant header is missing (`grant-missing`), not a "
                "grant (`grant-malformed`), tampered with or signed by another key "
                "(`grant-bad-signature`), expired (`grant-expired`: verify the card again) or "
                "issued to another client (`grant-other-client`). Logged as a denial."),
    ProblemType("card-not-usable", 403, "Card not usable",
                "The card is not valid now (`card_status`: revoked, suspended, expired, "
                "not-yet-valid, unknown-issuer or invalid; `reason` says why): nothing is "
                "released. Logged as a denial."),
    ProblemType("consent-changed", 403, "Consent no longer covers the grant",
                "The member's consent for one or more sections of the grant (`sections`) was "
                "withdrawn or has expired since the verify: nothing is released. Verify the "
                "card again to see what may be pulled now. Logged as a denial."),
    ProblemType("consent-grantee-unknown", 422, "Consent grantee unknown",
                "The consent names one facility by a code no clinic of the directory has (or "
                "one whose accreditation was withdrawn). List the clinics at "
                "GET /api/v1/clinics, or grant to a facility type or all accredited clinics."),
    ProblemType("clinic-invalid", 422, "Clinic data invalid",
                "A clinic's facility code is 5 digits, its province one of the 34 province "
                "codes, its facility type one of app/facility_types.py's codes, its name "
                "1-200 characters; `errors` names the field."),
    ProblemType("facility-code-taken", 409, "Facility code taken",
                "Another clinic has this facility code already; facility codes are unique."),
    ProblemType("accreditation-unchanged", 409, "Accreditation change not applicable",
                "Only an accredited clinic can be suspended, only a suspended one reinstated; "
                "a withdrawn accreditation is final. `accreditation` names the clinic's state."),
    ProblemType("already-disabled", 409, "Already disabled",
                "The clinic API client or scanner device was disabled already; disabling is "
                "final (create or register a new one)."),
    ProblemType("device-id-taken", 409, "Device id taken",
                "The clinic has a scanner device with this device id already."),
    ProblemType("device-not-registered", 403, "Scanner device not registered",
                "The `device_id` sent with a scan is not a registered, active scanner device of "
                "this clinic (register it: POST /api/v1/clinics/{code}/devices; or send none). "
                "Nothing is checked or released. Logged as a denial."),
    ProblemType("clinic-not-accredited", 403, "Clinic not accredited",
                "The clinic is suspended or its accreditation withdrawn: its clients get no "
                "token and may verify and pull nothing. `accreditation` names the state; the "
                "token endpoint answers it 400 with OAuth 2's `error` `unauthorized_client` "
                "(RFC 6749 §5.2)."),
    ProblemType("clinic-client-revoked", 401, "Clinic client revoked",
                "The clinic API client is disabled or unknown, or its secret was rotated after "
                "this token was issued; get a new token with the current secret."),
    ProblemType("access-period-invalid", 422, "Period not accepted",
                "The period of the access-log summary must end after it starts and span at "
                "most 366 days; `since` and `until` need a UTC offset."),
    ProblemType("notification-address-invalid", 422, "E-mail address not accepted",
                "The notification address must be one plain mailbox (`name@domain`), at most "
                "254 characters: no display name, spaces or line breaks. Send null or an empty "
                "string to remove it."),
    ProblemType("checkpoint-conflict", 409, "Checkpoint made at the same moment",
                "Another access-log checkpoint was made at the same moment; nothing was "
                "written. Run the checkpoint again."),
    ProblemType("backup-failed", 409, "Backup or restore refused",
                "A backup or restore (operator commands) cannot be made: the place is not new "
                "or empty, the backup is damaged or of the other database backend, or a "
                "database tool failed."),
)
#: Seconds a client is asked to wait when the database is busy.
BUSY_RETRY_AFTER = 5
PROBLEM_TYPES: Mapping[str, ProblemType] = MappingProxyType({t.slug: t for t in CATALOGUE})
_BY_STATUS: dict[int, ProblemType] = {}
for _t in CATALOGUE:
    _BY_STATUS.setdefault(_t.status, _t)


def for_status(status: int) -> ProblemType:
    """The generic problem type of an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ProblemType(f"http-{status}", status, "Error", "An HTTP error.")


@dataclass(frozen=True)
class Link:
    """A URL member of a problem, built from an id the domain error carries in ``extra``."""

    member: str
    endpoint: str
    id_key: str
    url_arg: str
    #: Whether the id itself stays in the body beside the URL.
    keep_id: bool = True


@dataclass(frozen=True)
class ErrorProblem:
    """How one kind of domain error is answered: its problem type, headers and links."""

    problem: ProblemType
    headers: Mapping[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()


_CHALLENGE = MappingProxyType({"WWW-Authenticate": 'Bearer realm="unioncard"'})

#: THE table: each domain error class to its answer; subclasses inherit their parent's row.
ERROR_PROBLEMS: Mapping[type[DomainError], ErrorProblem] = MappingProxyType({
    DomainError: ErrorProblem(PROBLEM_TYPES["bad-request"]),
    NotFound: ErrorProblem(PROBLEM_TYPES["not-found"]),
    Conflict: ErrorProblem(PROBLEM_TYPES["conflict"], links=(
        Link("existing_member", "members.MemberById", "existing_member_id", "member_id"),)),
    JobBusy: ErrorProblem(PROBLEM_TYPES["conflict"], links=(
        Link("job", "jobs.JobById", "job_id", "job_id", keep_id=False),)),
    ValidationFailed: ErrorProblem(PROBLEM_TYPES["validation-error"]),
    RosterInvalid: ErrorProblem(PROBLEM_TYPES["roster-invalid"]),
    RostersBusy: ErrorProblem(PROBLEM_TYPES["rosters-busy"]),
    Unauthenticated: ErrorProblem(PROBLEM_TYPES["unauthorized"], headers=_CHALLENGE),
    InvalidCredentials: ErrorProblem(PROBLEM_TYPES["invalid-credentials"], headers=_CHALLENGE),
    Forbidden: ErrorProblem(PROBLEM_TYPES["forbidden"]),
    LettersGone: ErrorProblem(PROBLEM_TYPES["letters-gone"]),
    RegisteredElsewhere: ErrorProblem(PROBLEM_TYPES["registered-elsewhere"]),
    TooManyConflicts: ErrorProblem(PROBLEM_TYPES["rate-limited"]),
    DecodesBusy: ErrorProblem(PROBLEM_TYPES["rate-limited"]),
    LoginLocked: ErrorProblem(PROBLEM_TYPES["login-locked"]),
    FhirInvalid: ErrorProblem(PROBLEM_TYPES["fhir-invalid"]),
    HealthRecordNotFound: ErrorProblem(PROBLEM_TYPES["not-found"]),
    HealthRecordAmbiguous: ErrorProblem(PROBLEM_TYPES["conflict"]),
    HealthRecordUnavailable: ErrorProblem(PROBLEM_TYPES["health-record-unavailable"]),
    InvalidClient: ErrorProblem(PROBLEM_TYPES["invalid-client"], headers=MappingProxyType(
        {"WWW-Authenticate": 'Basic realm="unioncard"'})),
    UnsupportedGrantType: ErrorProblem(PROBLEM_TYPES["unsupported-grant-type"]),
    InvalidTokenRequest: ErrorProblem(PROBLEM_TYPES["invalid-token-request"]),
    InvalidScope: ErrorProblem(PROBLEM_TYPES["invalid-scope"]),
    BodyTooLarge: ErrorProblem(PROBLEM_TYPES["bundle-too-large"]),
    ActivationFailed: ErrorProblem(PROBLEM_TYPES["activation-failed"]),
    ActivationCodeExpired: ErrorProblem(PROBLEM_TYPES["activation-code-expired"]),
    ActivationCodeUsed: ErrorProblem(PROBLEM_TYPES["activation-code-used"]),
    PinLocked: ErrorProblem(PROBLEM_TYPES["pin-locked"]),
    PinAttemptsCapped: ErrorProblem(PROBLEM_TYPES["pin-attempts-capped"]),
    WrongPin: ErrorProblem(PROBLEM_TYPES["wrong-pin"]),
    ConsentNotFound: ErrorProblem(PROBLEM_TYPES["not-found"]),
    ConsentWithdrawn: ErrorProblem(PROBLEM_TYPES["consent-withdrawn"]),
    ConsentPeriodInvalid: ErrorProblem(PROBLEM_TYPES["consent-period-invalid"]),
    ConsentPeriodTooLong: ErrorProblem(PROBLEM_TYPES["consent-period-too-long"]),
    ConsentPeriodInPast: ErrorProblem(PROBLEM_TYPES["consent-period-in-past"]),
    GranteeInvalid: ErrorProblem(PROBLEM_TYPES["consent-grantee-invalid"]),
    ConsentTermsInvalid: ErrorProblem(PROBLEM_TYPES["consent-terms-invalid"]),
    ConsentNoticeUnknown: ErrorProblem(PROBLEM_TYPES["consent-notice-unknown"]),
    HealthSummaryMissing: ErrorProblem(PROBLEM_TYPES["health-summary-missing"]),
    ScanInvalid: ErrorProblem(PROBLEM_TYPES["scan-invalid"]),
    CardUnreadable: ErrorProblem(PROBLEM_TYPES["card-unreadable"]),
    ImageTooLarge: ErrorProblem(PROBLEM_TYPES["image-too-large"]),
    ImageDecodeTimeout: ErrorProblem(PROBLEM_TYPES["image-decode-timeout"]),
    PresenceInvalid: ErrorProblem(PROBLEM_TYPES["presence-invalid"]),
    GrantInvalid: ErrorProblem(PROBLEM_TYPES["grant-invalid"]),
    CardNotUsable: ErrorProblem(PROBLEM_TYPES["card-not-usable"]),
    ConsentNoLongerCovers: ErrorProblem(PROBLEM_TYPES["consent-changed"]),
    GranteeUnknown: ErrorProblem(PROBLEM_TYPES["consent-grantee-unknown"]),
    ClinicInvalid: ErrorProblem(PROBLEM_TYPES["clinic-invalid"]),
    FacilityCodeTaken: ErrorProblem(PROBLEM_TYPES["facility-code-taken"]),
    AccreditationUnchanged: ErrorProblem(PROBLEM_TYPES["accreditation-unchanged"]),
    AlreadyDisabled: ErrorProblem(PROBLEM_TYPES["already-disabled"]),
    DeviceIdTaken: ErrorProblem(PROBLEM_TYPES["device-id-taken"]),
    DeviceNotRegistered: ErrorProblem(PROBLEM_TYPES["device-not-registered"]),
    ClinicNotAccredited: ErrorProblem(PROBLEM_TYPES["clinic-not-accredited"]),
    ClinicClientRevoked: ErrorProblem(PROBLEM_TYPES["clinic-client-revoked"],
                                      headers=_CHALLENGE),
    AccessPeriodInvalid: ErrorProblem(PROBLEM_TYPES["access-period-invalid"]),
    NotificationAddressInvalid: ErrorProblem(PROBLEM_TYPES["notification-address-invalid"]),
    CheckpointConflict: ErrorProblem(PROBLEM_TYPES["checkpoint-conflict"]),
    BackupFailed: ErrorProblem(PROBLEM_TYPES["backup-failed"]),
})


def error_problem(error_class: type[DomainError]) -> ErrorProblem:
    """The answer to a domain error class: its own row, else its nearest ancestor's."""
    for cls in error_class.__mro__:
        if cls in ERROR_PROBLEMS:
            return ERROR_PROBLEMS[cls]
    raise LookupError(f"{error_class.__name__} is not a DomainError")


class FieldErrorSchema(ma.Schema):
    """One invalid field."""

    location = ma.fields.String(metadata={"description": "json, query, path, form or files"})
    field = ma.fields.String(metadata={"description": "dotted path of the field"})
    pointer = ma.fields.String(metadata={"description": "JSON pointer, e.g. #/birth_date"})
    detail = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only), with every extension member the service
    sends (each problem type says which of them it carries; more may be added)."""

    type = ma.fields.String(required=True,
                            metadata={"description": "URI of the problem type; see /problems/"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True, validate=ma.validate.Range(400, 599))
    detail = ma.fields.String(required=True)
    instance = ma.fields.String(required=True, metadata={"description": "the request's path"})
    request_id = ma.fields.String(metadata={"description": "the X-Request-ID of the request"})
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema),
                            metadata={"description": "the invalid fields, one entry each"})
    error = ma.fields.String(metadata={"description": (
        "OAuth 2's error code: on the token endpoint RFC 6749 §5.2's (`invalid_request`, "
        "`invalid_client`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, "
        "`invalid_scope`); on a bearer-secured endpoint RFC 6750 §3.1's (`invalid_token`, "
        "`insufficient_scope`)")})
    error_description = ma.fields.String(metadata={
        "description": "the token endpoint's RFC 6749 §5.2 description (`detail` in ASCII)"})
    reason = ma.fields.String(metadata={"description": "why, in a word the type lists"})
    attempts_left = ma.fields.Integer(metadata={"description": "wrong PINs left before the lock"})
    locked_until = ma.fields.String(metadata={"description": "ISO 8601 time the lock ends"})
    accreditation = ma.fields.String(metadata={"description": "the clinic's accreditation state"})
    card_status = ma.fields.String(metadata={"description": "the card's status"})
    card_serial = ma.fields.String(metadata={"description": "the card the grant was issued for"})
    sections = ma.fields.List(ma.fields.String(), metadata={
        "description": "the sections the member's consent no longer covers"})
    consent_id = ma.fields.Integer(metadata={"description": "the consent concerned"})
    device_id = ma.fields.String(metadata={"description": "the scanner device concerned"})
    facility_code = ma.fields.String(metadata={"description": "the facility code concerned"})
    existing_member_id = ma.fields.Integer(metadata={"description": "the member that exists"})
    existing_member = ma.fields.String(metadata={"description": "its URL"})
    job = ma.fields.String(metadata={"description": "the URL of the job that is running"})
    report_id = ma.fields.Integer(metadata={"description": "the earlier report"})
    report_status = ma.fields.String(metadata={"description": "the earlier report's status"})


def _flatten(messages: Any, location: str, path: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Turn marshmallow's nested messages into a flat list of field errors."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(_flatten(value, location, (*path, str(key))))
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            for text in messages:
                out.append(_field_error(location, path, text))
        else:
            for index, value in enumerate(messages):
                out.extend(_flatten(value, location, (*path, str(index))))
    else:
        out.append(_field_error(location, path, str(messages)))
    return out


def _field_error(location: str, path: tuple[str, ...], text: str) -> dict[str, str]:
    field = ".".join(path) if path else "_schema"
    pointer = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
    return {"location": location, "field": field, "pointer": pointer, "detail": text}


# webargs locations -> the location named in a problem's field errors
_LOCATIONS = {"json": "json", "json_or_form": "body", "form": "body", "query": "query",
              "querystring": "query", "path": "path", "view_args": "path", "files": "files",
              "headers": "headers", "cookies": "cookies"}


def field_errors(messages: Any) -> list[dict[str, str]]:
    """Field errors from webargs' ``{location: {field: [msg]}}`` (or a bare field mapping)."""
    if isinstance(messages, dict) and set(messages) <= set(_LOCATIONS):
        out: list[dict[str, str]] = []
        for location, inner in messages.items():
            out.extend(_flatten(inner, _LOCATIONS[location]))
        return out
    return _flatten(messages, "json")


def problem_response(
    problem: ProblemType,
    detail: str | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a problem+json response."""
    status = status or problem.status
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": status,
        "detail": detail or problem.description,
        "instance": request.path,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    mimetype = PROBLEM_JSON
    headers = dict(headers or {})
    if request.endpoint == TOKEN_ENDPOINT:
        mimetype = token_error(body, headers)
        status = int(body["status"])
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=mimetype)
    for name, value in headers.items():
        response.headers[name] = value
    return response


#: The Flask endpoint of the OAuth 2 token endpoint (``POST /api/v1/auth/token``).
TOKEN_ENDPOINT = "auth.TokenView"
#: The token endpoint's errors' media type: RFC 6749 §5.2 says ``application/json``.
TOKEN_ERROR_JSON = "application/json"
#: RFC 6749 §5.2 on the token endpoint: a problem type's OAuth 2 ``error`` code, the status
#: (400 unless the RFC says otherwise) and the problem type answered instead, if another
_TOKEN_ERRORS: Mapping[str, tuple[str, int | None, str | None]] = MappingProxyType({
    "invalid-credentials": ("invalid_grant", 400, "invalid-grant"),
    "validation-error": ("invalid_request", 400, "invalid-token-request"),
    "clinic-not-accredited": ("unauthorized_client", 400, None),
    "invalid-client": ("invalid_client", 401, None),
    "login-locked": ("invalid_grant", None, None),
})
#: RFC 6749 §5.2's ``error_description``: printable ASCII without ``"`` and ``\``.
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def oauth_description(text: str) -> str:
    """``text`` as RFC 6749 §5.2 / RFC 6750 §3 allow an ``error_description``: printable
    ASCII except the double quote and the backslash (others become ``'``, ``/`` or ``?``)."""
    text = text.replace('"', "'").replace("\\", "/").replace("\u2014", "-").replace("§", "S")
    return _NOT_IN_DESCRIPTION.sub("?", text)


def token_error(body: dict[str, Any], headers: dict[str, str]) -> str:
    """Give a problem of the token endpoint RFC 6749 §5.2's shape besides RFC 9457's: its
    OAuth 2 ``error`` and ``error_description``, its status (a failed password grant and an
    invalid field are 400, not 401 and 422), no bearer challenge (``invalid_client`` keeps
    its Basic one); returns the media type to answer with, ``application/json``."""
    slug = str(body["type"]).rsplit("/", 1)[-1]
    if slug == "bad-request" and "errors" in body:  # the arguments' field errors
        slug = "validation-error"
    error, status, instead = _TOKEN_ERRORS.get(slug, (None, None, None))
    if instead is not None:
        problem = PROBLEM_TYPES[instead]
        body.update(type=problem.uri, title=problem.title)
    if status is not None:
        body["status"] = status
    if int(body["status"]) >= 500:
        error = "temporarily_unavailable" if body["status"] == 503 else "server_error"
    body["error"] = body.get("error") or error or "invalid_request"
    body["error_description"] = oauth_description(str(body["detail"]))
    if str(headers.get("WWW-Authenticate", "")).lower().startswith("bearer"):
        del headers["WWW-Authenticate"]
    headers["Cache-Control"] = "no-store"
    headers["Pragma"] = "no-cache"
    return TOKEN_ERROR_JSON


#: RFC 6750 §3.1's error codes a bearer challenge carries (the problem's ``error`` member)
_BEARER_ERRORS = frozenset({INVALID_TOKEN, INSUFFICIENT_SCOPE, "invalid_request"})


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3): the realm alone when no token
    was sent (§3.1: no error code then), else with the error code and its description."""
    challenge = 'Bearer realm="unioncard"'
    if error:
        challenge += f', error="{error}"'
        if description:
            challenge += f', error_description="{oauth_description(description)}"'
    return challenge


#: The token endpoint's OAuth 2 flows (RFC 6749 §4.3, §4.4); a token's scope is its role.
OAUTH2_SCHEME: Mapping[str, Any] = MappingProxyType({
    "type": "oauth2",
    "description": "Tokens from the token endpoint: the password grant (staff and members) "
                   "and the client credentials grant (health-record feeds and clinic API "
                   "clients, authenticated by HTTP Basic or in the form). A token's scope is "
                   "its role; what each role may do is said by each operation.",
    "flows": {
        "password": {"tokenUrl": "/api/v1/auth/token", "scopes": {
            "admin": "an administrator", "officer": "a union officer",
            "member": "a member, their own data"}},
        "clientCredentials": {"tokenUrl": "/api/v1/auth/token", "scopes": {
            "health-feed": "a health-record feed", "clinic": "a clinic API client"}}}})


class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api whose errors are RFC 9457 problem details."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, **kwargs: Any) -> None:
        """flask-smorest's, plus the plugin that gives every operation an ``operationId`` and
        every secured one its 401 (``app.edge.openapi``)."""
        from app.edge.openapi import OperationDocPlugin

        kwargs["extra_plugins"] = [*(kwargs.get("extra_plugins") or ()), OperationDocPlugin()]
        super()._init_spec(**kwargs)
        self.spec.components.security_scheme("oauth2", deepcopy(dict(OAUTH2_SCHEME)))

    def _register_responses(self) -> None:
        """Document the shared error responses (e.g. 422 of every argument schema) with
        the media type they are served as."""
        from flask_smorest.utils import prepare_response

        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:
        """Map any HTTPException (including unhandled errors wrapped as 500) to a problem."""
        code = error.code or 500
        data = getattr(error, "data", None) or {}
        headers = dict(data.get("headers") or {})
        if code == 429:
            problem = PROBLEM_TYPES["rate-limited"]
            retry_after = error.get_headers().__iter__()
            for name, value in retry_after:
                if name.lower() == "retry-after":
                    headers["Retry-After"] = value
            return problem_response(problem, f"Rate limit exceeded ({error.description}).",
                                    headers=headers)
        if code >= 500:  # an unhandled error was logged by ``_log_exception``
            return problem_response(for_status(code), headers=headers)
        messages = data.get("errors") or data.get("messages")
        if code == 400 and messages == {"json": ["Invalid JSON body."]}:
            return problem_response(PROBLEM_TYPES["malformed-json"])
        if messages:
            problem = PROBLEM_TYPES["validation-error"] if code == 422 else for_status(code)
            return problem_response(problem, data.get("message"), status=code, headers=headers,
                                    errors=field_errors(messages))
        detail = data.get("message")
        if detail is None and code == 405:
            detail = f"{request.method} is not allowed here."
            allowed = error.get_headers()
            headers.update({k: v for k, v in allowed if k.lower() == "allow"})
        if detail is None and code == 404:
            detail = "No such resource, or it lies outside your scope."
        if detail is None and code == 413:
            detail = "The request body is too large."
        return problem_response(for_status(code), detail, status=code, headers=headers)


def _handle_domain_error(error: DomainError) -> Response:
    answer = error_problem(type(error))
    extra = dict(error.extra)
    for link in answer.links:
        if link.id_key in extra:
            value = extra[link.id_key] if link.keep_id else extra.pop(link.id_key)
            extra[link.member] = url_for(link.endpoint, **{link.url_arg: value})
    headers = dict(answer.headers)
    code = extra.get("error")
    if code in _BEARER_ERRORS and isinstance(error, (Unauthenticated, Forbidden)):
        headers["WWW-Authenticate"] = bearer_challenge(code, error.detail)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return problem_response(answer.problem, error.detail, headers=headers,
                            errors=error.errors or None, **extra)


def _handle_integrity_error(error: IntegrityError) -> Response:
    """A write lost a race with a concurrent one on a unique key (the service checks first,
    so only simultaneous requests get here): 409, never 500."""
    from app.extensions import db

    db.session.rollback()
    log.warning("integrity error answered as 409", extra={"error": type(error.orig).__name__})
    return problem_response(PROBLEM_TYPES["conflict"],
                            "The request conflicts with a change made at the same time; "
                            "reload and try again.")


def _handle_operational_error(error: OperationalError) -> Response:
    """A database still busy after waiting its timeout (SQLite locked, PostgreSQL lock timeout)
    is 503 + Retry-After; any other operational error stays an internal error."""
    from app.db import is_busy

    if not is_busy(error):
        raise error
    session = g.get("db_session")  # not db.session: that would begin (and wait) again
    if session is not None:
        session.rollback()
    log.warning("database busy answered as 503", extra={"error": type(error.orig).__name__})
    return problem_response(PROBLEM_TYPES["database-busy"],
                            "The database is busy; nothing was changed. Try again shortly.",
                            headers={"Retry-After": str(BUSY_RETRY_AFTER)})


def _log_exception(exc_info: Any) -> None:
    """Flask's report of an unhandled error, as the one log line of the event, with the
    request id the 500 problem shows."""
    log.error("unhandled error", exc_info=exc_info, extra={"request_id": g.get("request_id")})


def register_error_handlers(app: Flask) -> None:
    """Map domain errors to problems (HTTP errors are mapped by ``ProblemApi``); log each
    unhandled error once."""
    app.log_exception = _log_exception  # type: ignore[method-assign]
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(IntegrityError, _handle_integrity_error)
    app.register_error_handler(OperationalError, _handle_operational_error)
