"""Schemas of the health-record feed clients and of the feed push answers."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.schemas.common import PROVINCE_CODES


class CreateFeedSchema(ma.Schema):
    """A new feed client: its name and the provinces whose members it may push for."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    provinces = ma.fields.List(
        ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}$"),
                         metadata={"enum": list(PROVINCE_CODES)}), required=True,
        validate=ma.validate.Length(1, 34),
        metadata={"description": "2-digit province codes", "example": ["24", "79"]})


class FeedSchema(ma.Schema):
    """A feed client (never its secret, which is shown once, at creation or rotation)."""

    id = ma.fields.Integer(dump_only=True)
    client_id = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    provinces = ma.fields.List(ma.fields.String(), dump_only=True)
    active = ma.fields.Boolean(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    created_by = ma.fields.String(dump_only=True)
    rotated_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class FeedCredentialsSchema(FeedSchema):
    """A feed client with its secret: shown this once, store it now."""

    client_secret = ma.fields.String(dump_only=True, metadata={
        "description": "shown only in this answer; the service keeps a keyed hash of it"})

    @ma.pre_dump
    def _flatten(self, credentials: Any, **_: Any) -> dict[str, Any]:
        feed = credentials.feed
        return {**{name: getattr(feed, name) for name in FeedSchema().fields},
                "client_secret": credentials.client_secret}


class PushResultSchema(ma.Schema):
    """What became of a pushed Bundle: ids and counts, never the record."""

    status = ma.fields.String(dump_only=True, metadata={
        "description": "`stored` (new or changed), `unchanged` (the same content again), or "
                       "`rejected` (in a batch; see `problem`)"})
    bundle_id = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "the Bundle's identifier, id, or a hash of it"})
    entries = ma.fields.Integer(dump_only=True, metadata={"description": "entries mapped"})
    notes = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "what was left out: resources of a type the summary has no section for "
                       "(counted by type) and records entered in error (by entry index); "
                       "docs/fhir-mapping.md §2"})


class BatchItemSchema(PushResultSchema):
    """One Bundle of a batch."""

    index = ma.fields.Integer(dump_only=True, metadata={"description": "its entry's index"})
    problem = ma.fields.Dict(dump_only=True, metadata={
        "description": "why it was rejected: problem `type`, `status`, `detail`, `errors`"})


class BatchResultSchema(ma.Schema):
    """The answer to a batch: counts by status and one item per Bundle, in order."""

    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), dump_only=True)
    items = ma.fields.List(ma.fields.Nested(BatchItemSchema), dump_only=True)
