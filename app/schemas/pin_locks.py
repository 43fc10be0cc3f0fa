"""Schemas of the administrators' view of PIN guessing: locked PINs and capped clinic clients."""

from __future__ import annotations

import marshmallow as ma


class LockedPinSchema(ma.Schema):
    """A member whose PIN is locked now."""

    member_id = ma.fields.Integer(dump_only=True)
    member_number = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    locked_until = ma.fields.DateTime(dump_only=True)
    locks_in_a_row = ma.fields.Integer(dump_only=True, metadata={
        "description": "the how-manieth lock in a row (each lasts longer than the last)"})


class CappedClientSchema(ma.Schema):
    """A clinic API client that reached the wrong-PIN cap in a window."""

    client_id = ma.fields.String(dump_only=True)
    clinic_code = ma.fields.String(dump_only=True)
    window_start = ma.fields.DateTime(dump_only=True)
    window_end = ma.fields.DateTime(dump_only=True)
    wrong_pins = ma.fields.Integer(dump_only=True, metadata={
        "description": "wrong PINs (and checks under way) counted in the window"})
    refused = ma.fields.Integer(dump_only=True, metadata={
        "description": "PIN checks refused at the cap"})
    capped_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class PinLocksSchema(ma.Schema):
    """PIN guessing as it stands: locked PINs now, capped clients in the last 7 days."""

    members = ma.fields.List(ma.fields.Nested(LockedPinSchema))
    clients = ma.fields.List(ma.fields.Nested(CappedClientSchema))
    member_max_failures = ma.fields.Integer(dump_only=True)
    member_lock_seconds = ma.fields.List(ma.fields.Integer(), dump_only=True, metadata={
        "description": "how long each lock in a row lasts (the last for every later one)"})
    client_max_failures = ma.fields.Integer(dump_only=True)
    client_window_seconds = ma.fields.Integer(dump_only=True)


class PinUnlockSchema(ma.Schema):
    """What clearing a member's PIN lock did."""

    member_id = ma.fields.Integer(dump_only=True)
    was_locked = ma.fields.Boolean(dump_only=True)
