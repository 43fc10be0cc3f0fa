"""Schemas of clinics, their API clients and scanner devices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.facility_types import FACILITY_TYPES
from app.models.clinic import ACCREDITATIONS
from app.schemas.common import FACILITY_CODE_RULE, PROVINCE_CODES, PageArgsSchema, PageSchema

_FACILITY_CODE = {"description": "5 digits, as in health-insurance data", "example": "27001"}


class ClinicIdentitySchema(ma.Schema):
    """The calling clinic API client and its clinic."""

    client_id = ma.fields.String(dump_only=True)
    facility_code = ma.fields.String(dump_only=True, metadata=_FACILITY_CODE)
    name = ma.fields.String(dump_only=True)
    facility_type = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    accredited = ma.fields.Boolean(dump_only=True)


class ClinicSchema(ma.Schema):
    """A clinic (health facility)."""

    facility_code = ma.fields.String(dump_only=True, metadata=_FACILITY_CODE)
    name = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    facility_type = ma.fields.String(dump_only=True, metadata={
        "description": f"one of: {', '.join(FACILITY_TYPES)}"})
    address = ma.fields.String(dump_only=True)
    accreditation = ma.fields.String(dump_only=True, metadata={
        "description": f"one of: {', '.join(ACCREDITATIONS)}; only `accredited` clinics "
                       "verify and pull"})
    accreditation_reason = ma.fields.String(dump_only=True)
    accreditation_changed_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


# The service checks the form of codes and names, so the API and the command line refuse
# them with the same specific problem (``clinic-invalid``); the schema checks types and sizes.
class CreateClinicSchema(ma.Schema):
    """A new clinic (accredited from its creation)."""

    facility_code = ma.fields.String(required=True, validate=ma.validate.Length(1, 16),
                                     metadata={**_FACILITY_CODE, **FACILITY_CODE_RULE})
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 400),
                            metadata={"example": "Phòng khám đa khoa KCN Quế Võ"})
    province_code = ma.fields.String(required=True, validate=ma.validate.Length(1, 8),
                                     metadata={"example": "24", "enum": list(PROVINCE_CODES)})
    facility_type = ma.fields.String(required=True, validate=ma.validate.Length(1, 64),
                                     metadata={"example": "industrial-park-clinic",
                                               "enum": list(FACILITY_TYPES)})
    address = ma.fields.String(load_default="", validate=ma.validate.Length(0, 600))


class UpdateClinicSchema(ma.Schema):
    """Changes to a clinic (its facility code is fixed)."""

    name = ma.fields.String(validate=ma.validate.Length(1, 400))
    province_code = ma.fields.String(validate=ma.validate.Length(1, 8),
                                     metadata={"enum": list(PROVINCE_CODES)})
    facility_type = ma.fields.String(validate=ma.validate.Length(1, 64),
                                     metadata={"enum": list(FACILITY_TYPES)})
    address = ma.fields.String(validate=ma.validate.Length(0, 600))


class AccreditationChangeSchema(ma.Schema):
    """Why the accreditation changes (kept with the clinic and in the audit log)."""

    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 500))


class ClinicQueryArgsSchema(PageArgsSchema):
    """Filters of the clinic list."""

    province_code = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}$"))
    facility_type = ma.fields.String(validate=ma.validate.Length(1, 64),
                                     metadata={"enum": list(FACILITY_TYPES)})
    accreditation = ma.fields.String(validate=ma.validate.Length(1, 16),
                                     metadata={"enum": list(ACCREDITATIONS)})
    q = ma.fields.String(validate=ma.validate.Length(1, 100), metadata={
        "description": "fragment of the name (any case, with or without diacritics) or the "
                       "start of the facility code"})


class ClinicPageSchema(PageSchema):
    """A page of clinics."""

    items = ma.fields.List(ma.fields.Nested(ClinicSchema))


class CreateClinicClientSchema(ma.Schema):
    """A new API client of a clinic."""

    label = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200), metadata={
        "description": "what it is for, e.g. the clinic's reception system"})


class ClinicClientSchema(ma.Schema):
    """A clinic API client (never its secret, shown once, at creation or rotation)."""

    client_id = ma.fields.String(dump_only=True)
    label = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"description": "active or disabled"})
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)
    rotated_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    disabled_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class ClinicCredentialsSchema(ma.Schema):
    """A clinic API client with its secret: shown this once, store it now."""

    client_id = ma.fields.String(dump_only=True)
    client_secret = ma.fields.String(dump_only=True, metadata={
        "description": "shown only in this answer; the service keeps a keyed hash of it"})
    facility_code = ma.fields.String(dump_only=True)
    label = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    rotated_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    token_url = ma.fields.String(dump_only=True, metadata={
        "description": "where to exchange the credentials for a token (client credentials)"})

    @ma.pre_dump
    def _flatten(self, credentials: Any, **_: Any) -> dict[str, Any]:
        client = credentials.client
        return {"client_id": client.client_id, "client_secret": credentials.client_secret,
                "facility_code": credentials.clinic.facility_code, "label": client.label,
                "status": client.status, "created_at": client.created_at,
                "rotated_at": client.rotated_at, "token_url": "/api/v1/auth/token"}


class RegisterDeviceSchema(ma.Schema):
    """A new scanner device of a clinic."""

    device_id = ma.fields.String(validate=ma.validate.Length(1, 64), metadata={
        "description": "what the clinic's system calls it (made up when not given)",
        "example": "QV-DESK-01"})
    label = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))


class ScannerDeviceSchema(ma.Schema):
    """A clinic's scanner device."""

    device_id = ma.fields.String(dump_only=True)
    label = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"description": "active or disabled"})
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)
    disabled_at = ma.fields.DateTime(dump_only=True, allow_none=True)
