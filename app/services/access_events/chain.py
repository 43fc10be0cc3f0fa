"""The hash chain's canonical encoding: what an access event's hash covers, and how."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

#: The previous hash of every chain's first event (and of the first checkpoint).
GENESIS = "0" * 64
#: The version of the encoding below; part of every hash, so a future change cannot collide.
ENCODING_VERSION = 1
#: Every column an event's hash covers, in the order of the canonical encoding (the hash
#: covers all columns but ``id`` and ``hash`` itself).
HASHED_FIELDS = ("chain_key", "seq", "prev_hash", "at", "kind", "member_id", "province_code",
                 "card_serial", "clinic_code", "clinic_name", "client_id", "device_id",
                 "practitioner", "purpose", "released", "denied", "outcome", "reason",
                 "emergency_reason", "emergency_text_digest")


def instant(at: datetime) -> str:
    """A timestamp's canonical text: UTC, microseconds, ``Z`` (what both backends keep)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in an access event")
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(name: str, value: Any) -> Any:
    if name == "at":
        return instant(value)
    if name == "released":
        return [str(v) for v in value]
    if name == "denied":
        return {str(k): str(v) for k, v in dict(value).items()}
    return value


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """The canonical encoding of an event's fields: a JSON array (fixed field order, then the
    values as JSON; object keys sorted; UTF-8, no insignificant whitespace)."""
    values = [ENCODING_VERSION] + [_canonical(name, fields[name]) for name in HASHED_FIELDS]
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's canonical encoding."""
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def fields_of(row: Any) -> dict[str, Any]:
    """The hashed fields of an ``AccessEvent`` row (or any object with those attributes)."""
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def checkpoint_digest(prev_digest: str, heads: Iterable[tuple[str, int, str]]) -> str:
    """A checkpoint's digest: SHA-256 over the previous digest and the chain heads it records
    (chain key, sequence number, hash), sorted by chain key."""
    body = [ENCODING_VERSION, prev_digest, sorted([k, s, h] for k, s, h in heads)]
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode("utf-8")).hexdigest()
