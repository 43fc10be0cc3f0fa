"""Clinics: the directory of health facilities (administrators manage it, officers read
their province's), their OAuth 2 API clients and scanner devices; and who a clinic caller is."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import (
    ADMIN,
    STAFF,
    actor,
    current_clinic,
    current_scope,
    requires,
    requires_clinic,
)
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import Clinic
from app.schemas.clinics import (
    AccreditationChangeSchema,
    ClinicClientSchema,
    ClinicCredentialsSchema,
    ClinicIdentitySchema,
    ClinicPageSchema,
    ClinicQueryArgsSchema,
    ClinicSchema,
    CreateClinicClientSchema,
    CreateClinicSchema,
    RegisterDeviceSchema,
    ScannerDeviceSchema,
    UpdateClinicSchema,
)
from app.services.clinics.clients import ClinicClients
from app.services.clinics.devices import ScannerDevices
from app.services.clinics.register import ClinicQuery, ClinicRegister

blp = Blueprint("clinics", __name__, url_prefix="/api/v1/clinics",
                description="Clinics (health facilities by facility code), their API clients "
                            "and scanner devices: administrators manage them, officers list "
                            "their province's clinics.")

_NOT_FOUND = "No such clinic (or, for an officer, not in your province)"
_INVALID = "`clinic-invalid`: a facility code that is not 5 digits, an unknown province or " \
           "facility type, an empty name"


def register() -> ClinicRegister:
    """The clinic register, for the caller."""
    return ClinicRegister(db.session, current_scope(), actor=actor())


def clinic_of(facility_code: str) -> Clinic:
    """The clinic of the path, as the caller may see it."""
    return register().get(facility_code)


def clients() -> ClinicClients:
    """Clinic API clients, managed by the caller."""
    return ClinicClients(db.session, data_cipher(), actor=actor())


def devices() -> ScannerDevices:
    """Scanner devices, managed by the caller."""
    return ScannerDevices(db.session, actor=actor())


@blp.route("")
class Clinics(MethodView):
    """The clinics."""

    @requires(*STAFF)
    @blp.arguments(ClinicQueryArgsSchema, location="query")
    @blp.response(200, ClinicPageSchema)
    @blp.alt_response(422, schema=ProblemSchema, description=_INVALID)
    def get(self, args: dict[str, Any]) -> Any:
        """List clinics (officers: their province's), filtered by province, facility type,
        accreditation and a name or code fragment."""
        query = ClinicQuery(province_code=args.get("province_code"),
                            facility_type=args.get("facility_type"),
                            accreditation=args.get("accreditation"), q=args.get("q"))
        rows, total = register().list(query, page=args["page"], per_page=args["per_page"])
        return {"items": rows, "total": total, "page": args["page"],
                "per_page": args["per_page"]}

    @requires(*ADMIN)
    @blp.arguments(CreateClinicSchema)
    @blp.response(201, ClinicSchema)
    @blp.alt_response(409, schema=ProblemSchema,
                      description="`facility-code-taken`: another clinic has the code")
    @blp.alt_response(422, schema=ProblemSchema, description=_INVALID)
    def post(self, args: dict[str, Any]) -> Any:
        """Create an accredited clinic (administrators; audited)."""
        return register().create(args)


@blp.route("/me")
class CallingClinic(MethodView):
    """The calling clinic."""

    @requires_clinic
    @blp.response(200, ClinicIdentitySchema)
    def get(self) -> Any:
        """Show the calling clinic API client and its clinic (a clinic token; the client and
        the clinic's accreditation are re-checked on every request)."""
        return current_clinic()


@blp.route("/<string(length=5):facility_code>")  # 5 digits: never /me (its OPTIONS)
class ClinicByCode(MethodView):
    """One clinic."""

    @requires(*STAFF)
    @blp.response(200, ClinicSchema)
    @blp.alt_response(404, schema=ProblemSchema, description=_NOT_FOUND)
    def get(self, facility_code: str) -> Any:
        """Show a clinic."""
        return clinic_of(facility_code)

    @requires(*ADMIN)
    @blp.arguments(UpdateClinicSchema)
    @blp.response(200, ClinicSchema)
    @blp.alt_response(404, schema=ProblemSchema, description=_NOT_FOUND)
    @blp.alt_response(422, schema=ProblemSchema, description=_INVALID)
    def patch(self, args: dict[str, Any], facility_code: str) -> Any:
        """Change a clinic's name, province, facility type or address (administrators;
        audited)."""
        return register().update(facility_code, args)


_UNCHANGED = "`accreditation-unchanged`: the change does not apply to the clinic's state"


@blp.route("/<facility_code>/suspend")
class SuspendClinic(MethodView):
    """Suspending a clinic's accreditation."""

    @requires(*ADMIN)
    @blp.arguments(AccreditationChangeSchema)
    @blp.response(200, ClinicSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    @blp.alt_response(409, schema=ProblemSchema, description=_UNCHANGED)
    def post(self, args: dict[str, Any], facility_code: str) -> Any:
        """Suspend an accredited clinic: its clients get no token and their live tokens stop
        working at once (administrators; audited)."""
        return register().change_accreditation(facility_code, "suspend", args["reason"])


@blp.route("/<facility_code>/reinstate")
class ReinstateClinic(MethodView):
    """Reinstating a suspended clinic."""

    @requires(*ADMIN)
    @blp.arguments(AccreditationChangeSchema)
    @blp.response(200, ClinicSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    @blp.alt_response(409, schema=ProblemSchema, description=_UNCHANGED)
    def post(self, args: dict[str, Any], facility_code: str) -> Any:
        """Reinstate a suspended clinic's accreditation (administrators; audited)."""
        return register().change_accreditation(facility_code, "reinstate", args["reason"])


@blp.route("/<facility_code>/withdraw")
class WithdrawClinic(MethodView):
    """Withdrawing a clinic's accreditation."""

    @requires(*ADMIN)
    @blp.arguments(AccreditationChangeSchema)
    @blp.response(200, ClinicSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    @blp.alt_response(409, schema=ProblemSchema, description=_UNCHANGED)
    def post(self, args: dict[str, Any], facility_code: str) -> Any:
        """Withdraw a clinic's accreditation for good: it verifies and pulls nothing, gets no
        new client or device, and no new consent may name it (administrators; audited)."""
        return register().change_accreditation(facility_code, "withdraw", args["reason"])


@blp.route("/<facility_code>/clients")
class ClinicClientList(MethodView):
    """A clinic's API clients."""

    @requires(*ADMIN)
    @blp.response(200, ClinicClientSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    def get(self, facility_code: str) -> Any:
        """List the clinic's API clients (never their secrets)."""
        return clients().list(clinic_of(facility_code))

    @requires(*ADMIN)
    @blp.arguments(CreateClinicClientSchema)
    @blp.response(201, ClinicCredentialsSchema)
    @blp.alt_response(403, schema=ProblemSchema, description=(
        "`clinic-not-accredited`: the clinic is withdrawn; or not an administrator"))
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    def post(self, args: dict[str, Any], facility_code: str) -> Any:
        """Create an API client (OAuth 2 client credentials); its `client_secret` is in this
        answer only (administrators; audited)."""
        return clients().create(clinic_of(facility_code), args["label"])


@blp.route("/<facility_code>/clients/<client_id>/rotate-secret")
class RotateClinicSecret(MethodView):
    """A clinic API client's secret."""

    @requires(*ADMIN)
    @blp.response(200, ClinicCredentialsSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic or client")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="`already-disabled`: the client is disabled")
    def post(self, facility_code: str, client_id: str) -> Any:
        """Give the client a new secret, shown in this answer only; the old secret and the
        tokens issued with it stop working at once (administrators; audited)."""
        service = clients()
        clinic = clinic_of(facility_code)
        return service.rotate_secret(clinic, service.get(clinic, client_id))


@blp.route("/<facility_code>/clients/<client_id>/disable")
class DisableClinicClient(MethodView):
    """Disabling a clinic API client."""

    @requires(*ADMIN)
    @blp.response(200, ClinicClientSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic or client")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="`already-disabled`: it was disabled already")
    def post(self, facility_code: str, client_id: str) -> Any:
        """Disable the client for good: no new token, and its tokens stop working at once
        (administrators; audited)."""
        service = clients()
        clinic = clinic_of(facility_code)
        return service.disable(clinic, service.get(clinic, client_id))


@blp.route("/<facility_code>/devices")
class ScannerDeviceList(MethodView):
    """A clinic's scanner devices."""

    @requires(*ADMIN)
    @blp.response(200, ScannerDeviceSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    def get(self, facility_code: str) -> Any:
        """List the clinic's scanner devices."""
        return devices().list(clinic_of(facility_code))

    @requires(*ADMIN)
    @blp.arguments(RegisterDeviceSchema)
    @blp.response(201, ScannerDeviceSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="`device-id-taken`: the clinic has a device with this id")
    @blp.alt_response(422, schema=ProblemSchema,
                      description="`clinic-invalid`: a malformed device id")
    def post(self, args: dict[str, Any], facility_code: str) -> Any:
        """Register a scanner device (administrators; audited)."""
        return devices().register(clinic_of(facility_code), args["label"],
                                  args.get("device_id"))


@blp.route("/<facility_code>/devices/<device_id>/disable")
class DisableScannerDevice(MethodView):
    """Disabling a scanner device."""

    @requires(*ADMIN)
    @blp.response(200, ScannerDeviceSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such clinic or device")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="`already-disabled`: it was disabled already")
    def post(self, facility_code: str, device_id: str) -> Any:
        """Disable a scanner device for good: scans naming it are refused (administrators;
        audited)."""
        service = devices()
        clinic = clinic_of(facility_code)
        return service.disable(clinic, service.get(clinic, device_id))
