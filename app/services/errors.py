"""Domain errors: plain exceptions that know nothing of HTTP (``app.edge.problems`` maps them)."""

from __future__ import annotations

from typing import Any

#: RFC 6750 §3.1 error codes: a token that is malformed, forged, expired or revoked (401), and
#: a valid token whose scope (its role, ``tokens.granted_scope``) does not allow the call (403);
#: the problem's ``error`` member, and the ``WWW-Authenticate: Bearer`` challenge's
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"


class DomainError(Exception):
    """Base of every expected failure of a service.

    ``errors`` lists field errors; ``extra`` carries plain values (ids) about the failure.
    """

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class NotFound(DomainError):
    """The resource does not exist or is outside the caller's scope."""


class Conflict(DomainError):
    """The request conflicts with existing state (a duplicate, a wrong state transition)."""


class ValidationFailed(DomainError):
    """One or more fields are invalid (beyond what the schema checks)."""

    @classmethod
    def field(cls, field: str, detail: str) -> ValidationFailed:
        """An error about one JSON field."""
        pointer = "#/" + field.replace(".", "/")
        return cls(detail, errors=[{"location": "json", "field": field, "pointer": pointer,
                                    "detail": detail}])


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    def __init__(self, detail: str = "Authentication required.", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class InvalidCredentials(Unauthenticated):
    """The username/password (or client secret) is wrong."""


class Forbidden(DomainError):
    """The caller's role may not perform this action at all."""


class JobBusy(Conflict):
    """The job is being run by another live process or thread; ``job_id`` names it."""


class RosterInvalid(ValidationFailed):
    """The roster file as a whole cannot be imported (format, encoding, columns, limits)."""


class LettersGone(DomainError):
    """The batch's activation letters were downloaded already (and deleted)."""


class RegisteredElsewhere(Conflict):
    """The person is registered by an office outside the caller's scope (nothing more is said:
    not who, not where)."""


class TooManyConflicts(DomainError):
    """The caller ran into other offices' members too often; ``retry_after`` is in seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LoginLocked(DomainError):
    """Too many wrong passwords for an account: its password login is locked for
    ``retry_after`` seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class FhirInvalid(ValidationFailed):
    """A FHIR Bundle is rejected as a whole; each of ``errors`` names a problem by its FHIR path
    (``field``, e.g. ``Bundle.entry[3].resource.subject``) and JSON pointer (``pointer``)."""


class HealthRecordNotFound(NotFound):
    """The health record server knows no patient with the health ID."""


class HealthRecordAmbiguous(Conflict):
    """The health record server has more than one patient with the health ID."""


class HealthRecordUnavailable(DomainError):
    """The health record server is down, too slow or answered with an error or garbage;
    ``retry_after`` (seconds) says when to try again."""

    def __init__(self, detail: str, *, retry_after: int = 60) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidClient(InvalidCredentials):
    """A feed client's credentials are missing, wrong, or name a disabled client (OAuth 2
    ``invalid_client``)."""

    def __init__(self, detail: str = "Client authentication failed.") -> None:
        super().__init__(detail, error="invalid_client")


class UnsupportedGrantType(DomainError):
    """The token request names a grant type the service does not issue (OAuth 2
    ``unsupported_grant_type``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="unsupported_grant_type")


class InvalidTokenRequest(DomainError):
    """A token request is malformed: a missing parameter, or client credentials sent twice
    (OAuth 2 ``invalid_request``)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_request")


class BodyTooLarge(DomainError):
    """A request body (a FHIR Bundle or a batch of them) exceeds its size limit."""


class ActivationFailed(DomainError):
    """The member number, activation code or birth date is wrong (which one is not said)."""


class ActivationCodeExpired(DomainError):
    """The activation code (with the right birth date) is past its expiry."""


class ActivationCodeUsed(Conflict):
    """The activation code (with the right birth date) was used already."""


class PinLocked(DomainError):
    """Too many wrong PINs for a member: PIN checks are refused for ``retry_after`` seconds,
    until ``locked_until`` (an ISO 8601 time, in ``extra`` when known)."""

    def __init__(self, detail: str, *, retry_after: int, locked_until: str | None = None
                 ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        if locked_until is not None:
            self.extra["locked_until"] = locked_until


class PinAttemptsCapped(PinLocked):
    """Too many wrong PINs from one clinic client across members in the current window: its
    PIN checks are refused for ``retry_after`` seconds (the phone's presence code still
    works); ``reason`` is ``pin-attempts-capped``."""

    def __init__(self, detail: str, *, retry_after: int, locked_until: str | None = None
                 ) -> None:
        super().__init__(detail, retry_after=retry_after, locked_until=locked_until)
        self.extra["reason"] = "pin-attempts-capped"


class WrongPin(InvalidCredentials):
    """The member's PIN is wrong (or the member has no account); ``attempts_left`` (in
    ``extra`` when the member has an account) says how many wrong PINs more lock the PIN,
    and the one that locked it carries ``locked_until`` (ISO 8601)."""


class ConsentNotFound(NotFound):
    """The member has no consent with this id."""


class ConsentWithdrawn(Conflict):
    """The consent was withdrawn already: it cannot be withdrawn again or renewed (a new
    consent must be granted); ``consent_id`` names it."""


class ConsentPeriodInvalid(ValidationFailed):
    """A consent's period is not usable: it ends before it starts, or a renewal does not
    extend it."""


class ConsentPeriodTooLong(ConsentPeriodInvalid):
    """A consent's period is longer than 12 months."""


class ConsentPeriodInPast(ConsentPeriodInvalid):
    """A consent's period starts or ends in the past."""


class GranteeInvalid(ValidationFailed):
    """A consent's grantee is malformed: an unknown kind or facility type, a facility code that
    is not 5 digits, or one the grantee directory does not know."""


class ConsentTermsInvalid(ValidationFailed):
    """The combination of scope, grantee and purpose is not allowed (``on-card`` is only for
    all accredited clinics and treatment), or the scope or purpose is unknown."""


class ConsentNoticeUnknown(ValidationFailed):
    """The consent notice named as shown is not one the service ships (version, language), or
    the hash given for the text shown is not that notice's."""


class RostersBusy(DomainError):
    """Every slot for reading a workbook in this process is taken; ``retry_after`` seconds."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class HealthSummaryMissing(NotFound):
    """No health summary is stored for the member (not linked, or nothing received yet)."""


class ScanInvalid(ValidationFailed):
    """What a clinic scanned cannot be read as a card: ``reason`` names why (``bad-ndef``,
    ``no-uc1-record``, ``not-an-image``, ``no-code-found``, ...)."""


class CardUnreadable(ScanInvalid):
    """The scanned text is not a UC1 card at all (garbage, truncated or oversized: a broken
    prefix, base45, zlib or COSE layer); ``reason`` is the card library's reason code."""


class ImageTooLarge(ScanInvalid):
    """An uploaded photo has more bytes or pixels than the service decodes."""


class ImageDecodeTimeout(ScanInvalid):
    """Decoding an uploaded photo took longer than the service allows."""


class DecodesBusy(DomainError):
    """The client already has as many photos being decoded as it may (its slots are taken, by
    decodes still answered or already abandoned); ``retry_after`` seconds. Not a scan: no
    access event."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PresenceInvalid(DomainError):
    """The member's presence proof is not valid: a presence token tampered with, expired or
    made for another card (``reason`` says which), or a PIN of the wrong shape."""


class GrantInvalid(DomainError):
    """A pull grant is missing, tampered with, signed by another key, expired, or presented
    by another client than the one it was issued to (``reason`` says which)."""


class CardNotUsable(Forbidden):
    """The card behind a pull or emergency access is not valid now (revoked, suspended,
    expired, its member not active): nothing is released; ``card_status`` and ``reason`` say
    why."""


class ConsentNoLongerCovers(Forbidden):
    """A pull grant names sections whose consent no longer covers this clinic, purpose and
    time (withdrawn or expired after the verify): nothing is released."""


class GranteeUnknown(GranteeInvalid):
    """A consent names one facility by a well-formed code that no clinic of the directory has
    (or whose accreditation was withdrawn for good)."""


class ClinicInvalid(ValidationFailed):
    """A clinic's data is not usable: a facility code that is not 5 digits, an unknown
    province or facility type, an empty name; ``errors`` names the field."""


class FacilityCodeTaken(Conflict):
    """Another clinic has this facility code already; ``facility_code`` names it."""


class AccreditationUnchanged(Conflict):
    """The accreditation change does not apply to the clinic's state (suspending a clinic that
    is not accredited, reinstating one that is not suspended, anything after withdrawal)."""


class AlreadyDisabled(Conflict):
    """The clinic API client or scanner device was disabled already (disabling is final)."""


class DeviceIdTaken(Conflict):
    """The clinic has a scanner device with this device id already."""


class ClinicNotAccredited(Forbidden):
    """The caller's clinic is suspended or its accreditation withdrawn: it may verify and pull
    nothing (nor get a token); ``accreditation`` names the state."""


class ClinicClientRevoked(Unauthenticated):
    """The clinic API client named by a token is unknown or disabled, or the token was issued
    before the client's secret was rotated."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error=INVALID_TOKEN)


class AccessPeriodInvalid(ValidationFailed):
    """The period of an access-log aggregate does not end after it starts, or is too long."""


class NotificationAddressInvalid(ValidationFailed):
    """A notification e-mail address is not a plain mailbox."""


class CheckpointConflict(Conflict):
    """Another access-log checkpoint was made at the same moment (run again)."""
class BackupFailed(DomainError):
    """A backup or restore cannot be made: the place is not new or empty, the backup is damaged
    or of the other database backend, or a database tool failed (``unioncard backup``)."""


class DeviceNotRegistered(Forbidden):
    """The scanner device a clinic named is not one of its registered, active devices."""
