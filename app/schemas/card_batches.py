"""Schemas of card batches: the request that starts one, its job, and its print sheets."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for

from app.schemas.imports import JobSchema


class StartCardBatchSchema(ma.Schema):
    """Which members to issue cards to: exactly one of a union or a province."""

    EXACTLY_ONE_OF = ("union_code", "province_code")  # the OpenAPI oneOf of the check below

    union_code = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 20),
                                  metadata={"description": "a grassroots union in your scope"})
    province_code = ma.fields.String(load_default=None, validate=ma.validate.Regexp(
        r"^\d{2}$"), metadata={"description": "a province in your scope (2 digits)"})

    @ma.validates_schema
    def _exactly_one(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("union_code")) == bool(data.get("province_code")):
            raise ma.ValidationError("Give exactly one of union_code and province_code.",
                                     "union_code")


def _batch_links(job: Any) -> dict[str, str]:
    return {"self": url_for("jobs.JobById", job_id=job.id),
            "sheets": url_for("card_batches.CardBatchSheets", job_id=job.id),
            "letters_csv": url_for("card_batches.CardBatchLetters", job_id=job.id)}


class SheetSchema(ma.Schema):
    """One print-sheet PDF of a batch (A4, per ten cards a page of fronts and one of backs)."""

    number = ma.fields.Integer()
    file = ma.fields.String()
    cards = ma.fields.Integer()
    pages = ma.fields.Integer()
    size = ma.fields.Integer(metadata={"description": "bytes"})
    href = ma.fields.Function(lambda s: s["href"])


class CardBatchJobSchema(JobSchema):
    """A card batch job: counts are total, processed, issued, skipped, failed."""

    target = ma.fields.Function(lambda j: {"province_code": j.params.get("province_code"),
                                           "union_code": j.params.get("union_code")},
                                dump_only=True)
    letters = ma.fields.Function(lambda j: j.result.get("letters"), dump_only=True,
                                 metadata={"description": "count, and when downloaded (once)"})
    links = ma.fields.Function(_batch_links, dump_only=True)


class SheetListSchema(ma.Schema):
    """The print sheets of a finished batch."""

    job = ma.fields.Nested(CardBatchJobSchema)
    items = ma.fields.List(ma.fields.Nested(SheetSchema))
