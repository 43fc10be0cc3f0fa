"""The per-card verify limit (``VERIFY_CARD_RATE_LIMIT``), counted once the scan is decoded:
keyed on the card itself (``scan.card_key``: its signed payload), whether it came as text, an
NDEF message or a photo, so neither another encoding of one card nor a photo (whose card is
unknown until it is decoded) shares or escapes a card's bucket. What a request costs before
that is counted on its client (``VERIFY_RATE_LIMIT``). The API and the desk page count in the
same buckets, in the limiter's store."""

from __future__ import annotations

import math

import limits
from flask import current_app
from werkzeug.exceptions import TooManyRequests

from app.clock import timestamp
from app.extensions import limiter
from app.services.clinic_flow.scan import card_key

#: The scope of the per-card buckets: the endpoint of POST /api/v1/verify.
VERIFY_ENDPOINT = "clinic_flow.Verify"


def count_card(text: str) -> None:
    """Count one verify of the card ``text`` is (decoded, not yet checked).

    Raises:
        TooManyRequests: the card's limit is reached (429 ``rate-limited``, Retry-After).
    """
    if not limiter.enabled:
        return
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "")
    identifiers = [*([prefix] if prefix else []), f"verify-card|{card_key(text)}",
                   VERIFY_ENDPOINT]
    for item in limits.parse_many(str(current_app.config["VERIFY_CARD_RATE_LIMIT"])):
        if not limiter.limiter.hit(item, *identifiers):
            reset = limiter.limiter.get_window_stats(item, *identifiers).reset_time
            raise TooManyRequests(f"{item} for this card",
                                  retry_after=max(1, math.ceil(reset - timestamp())))
