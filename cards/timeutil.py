"""Conversion of the injected clock (an aware datetime or epoch seconds) to integer seconds."""

from __future__ import annotations

from datetime import datetime

#: Allowed clock difference between issuer and verifier, in seconds (±5 minutes).
DEFAULT_SKEW = 300

Instant = datetime | int


def epoch_seconds(now: Instant) -> int:
    """Return ``now`` as integer seconds since the Unix epoch.

    Raises:
        ValueError: for a naive datetime or a non-integer value.
    """
    if isinstance(now, datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return int(now.timestamp())
    if isinstance(now, bool) or not isinstance(now, int):
        raise ValueError("now must be an aware datetime or integer epoch seconds")
    return now
