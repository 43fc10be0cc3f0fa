"""Schemas shared by list endpoints."""

from __future__ import annotations

import marshmallow as ma


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
