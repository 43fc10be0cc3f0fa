"""The hash chain's canonical encoding: what an access event's hash covers, and how.

Two versions of the hash exist, named by each event's ``hash_version``: version 1 (events
written before migration ``0018_event_integrity``) covers every column but ``id`` and ``hash``,
with ``released`` and ``denied`` read as strings; version 2 (every event written since) covers
every stored field, ``id`` and ``hash_version`` included, each value exactly as stored (a list
stays a list, a number a number). Checkpoints are signed with HMAC-SHA256 under the service's
checkpoint key (``checkpoint_signature``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

#: The previous hash of every chain's first event (and of the first checkpoint).
GENESIS = "0" * 64
#: The version of the version-1 encoding below, and of the checkpoints' digest; part of every
#: hash, so a future change cannot collide.
ENCODING_VERSION = 1
#: The hash version of every event written now.
HASH_VERSION = 2
#: The hash versions ``event_hash`` knows.
HASH_VERSIONS = (1, 2)
#: Every column a version-1 hash covers, in the order of its canonical encoding (all columns
#: of the time but ``id`` and ``hash`` itself).
HASHED_FIELDS = ("chain_key", "seq", "prev_hash", "at", "kind", "member_id", "province_code",
                 "card_serial", "clinic_code", "clinic_name", "client_id", "device_id",
                 "practitioner", "purpose", "released", "denied", "outcome", "reason",
                 "emergency_reason", "emergency_text_digest")
#: Every column a version-2 hash covers: every column of ``access_events`` but ``hash``.
HASHED_FIELDS_V2 = ("hash_version", "id") + HASHED_FIELDS
#: The columns an event's hash is computed from (whatever its version).
STORED_FIELDS = HASHED_FIELDS_V2
#: The version of the checkpoints' signature (part of what is signed).
SIGNATURE_VERSION = 1


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


def _opaque(value: Any) -> Any:
    """A value JSON cannot encode (a damaged row's), as a tagged string: hashed, never raised."""
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    return [type(value).__name__, repr(value)]


def _canonical_v2(name: str, value: Any) -> Any:
    if name == "at" and isinstance(value, datetime) and value.tzinfo is not None:
        return instant(value)
    return value


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """The canonical encoding of an event's fields under its ``hash_version`` (1 when absent):
    a JSON array (the version, then the values in a fixed field order; object keys sorted;
    UTF-8, no insignificant whitespace).

    Raises:
        ValueError, TypeError: version-1 fields that version 1 cannot encode (a damaged row);
            an unknown hash version.
    """
    version = fields.get("hash_version", 1)
    if version == 1:
        values = [ENCODING_VERSION] + [_canonical(name, fields[name]) for name in HASHED_FIELDS]
        return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    if version == 2:
        # every value as stored; whatever a damaged row holds is encoded, never refused
        values = [_canonical_v2(name, fields[name]) for name in HASHED_FIELDS_V2]
        return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          default=_opaque).encode("utf-8")
    raise ValueError(f"unknown hash version {version!r}")


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's canonical encoding.

    Raises:
        ValueError, TypeError: see ``canonical_bytes``.
    """
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def hash_matches(fields: Mapping[str, Any], stored: str) -> bool:
    """Whether ``stored`` is the hash of ``fields`` (False, never an error, for a row too
    damaged to encode)."""
    try:
        return hmac.compare_digest(event_hash(fields), str(stored))
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
        return False


def fields_of(row: Any) -> dict[str, Any]:
    """The stored fields of an ``AccessEvent`` row (or any object with those attributes)."""
    return {name: getattr(row, name) for name in STORED_FIELDS}


def checkpoint_digest(prev_digest: str, heads: Iterable[tuple[str, int, str]]) -> str:
    """A checkpoint's digest: SHA-256 over the previous digest and the chain heads it records
    (chain key, sequence number, hash), sorted by chain key."""
    body = [ENCODING_VERSION, prev_digest, sorted([k, s, h] for k, s, h in heads)]
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode("utf-8")).hexdigest()


def checkpoint_signature(key: bytes, *, at: datetime, prev_digest: str, digest: str,
                         heads: int, made_by: str) -> str:
    """HMAC-SHA256 (hex) under ``key`` of what a checkpoint stores (its time, the previous
    digest, its digest, the number of heads, who made it): only the service can sign one."""
    body = [SIGNATURE_VERSION, instant(at), prev_digest, digest, heads, made_by]
    message = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
