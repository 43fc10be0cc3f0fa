"""Schemas shared by list endpoints."""

from __future__ import annotations

import csv
from pathlib import Path

import marshmallow as ma


#: The 34 province codes (app/data/provinces.csv, the table the database is seeded from): the
#: ``enum`` of the fields whose unknown codes the server refuses.
def _province_codes() -> tuple[str, ...]:
    with (Path(__file__).parent.parent / "data" / "provinces.csv").open(encoding="utf-8") as f:
        return tuple(sorted(row["code"] for row in csv.DictReader(f)))


PROVINCE_CODES = _province_codes()

# OpenAPI descriptions of rules the services check (so that the API and the command line
# refuse with the same problem), stated in the document as the server applies them:
#: a code of 5 ASCII digits (``app.facility_types.FACILITY_CODE``)
FACILITY_CODE_RULE = {"pattern": "^[0-9]{5}$"}
#: a member's PIN (``member_accounts.check_pin``; some 6-digit PINs are refused too)
PIN_RULE = {"pattern": "^[0-9]{6}$"}
#: a person's or a union's name (``identity.normalize_name``), in words: JSON Schema's patterns
#: cannot name Unicode's categories
NAME_RULE = {"description": "a name: no digits (of any script) or control, format or "
                            "private-use characters; not beginning with =, +, - or @ (a "
                            "spreadsheet formula); 200 characters at most after spaces are "
                            "collapsed"}
#: a password (``accounts.check_password``: 12 code points or more, and more rules)
PASSWORD_RULE = {"minLength": 12}


class PageArgsSchema(ma.Schema):
    """Pagination query arguments."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class PageSchema(ma.Schema):
    """Pagination metadata of a list response."""

    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer()
    total_exact = ma.fields.Boolean(dump_default=True, metadata={
        "description": "false when counting stopped at the cap (10,000): total is a lower bound"})


class WarningSchema(ma.Schema):
    """A non-blocking remark about a field."""

    field = ma.fields.String()
    message = ma.fields.String()
