"""Schemas of clinics, their API clients and scanner devices."""

from __future__ import annotations

import marshmallow as ma

_FACILITY_CODE = {"description": "5 digits, as in health-insurance data", "example": "27001"}


class ClinicIdentitySchema(ma.Schema):
    """The calling clinic API client and its clinic."""

    client_id = ma.fields.String(dump_only=True)
    facility_code = ma.fields.String(dump_only=True, metadata=_FACILITY_CODE)
    name = ma.fields.String(dump_only=True)
    facility_type = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    accredited = ma.fields.Boolean(dump_only=True)
