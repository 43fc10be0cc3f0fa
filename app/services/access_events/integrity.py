"""The checks of one access event on its own, shared by ``verify`` and the readers of the log
(the member's log and administrators' aggregate): its content against its hash, and its sealed
emergency text against the keyed digest the hash covers. Each answers what is wrong, never
raises, so a damaged row is shown as damaged instead of failing the whole answer."""

from __future__ import annotations

import hmac
from typing import Any

from app.crypto import DataCipher, DecryptionError
from app.services.access_events.chain import HASH_VERSIONS, fields_of, hash_matches
from app.services.access_events.log import EMERGENCY_TEXT_CONTEXT

#: What is wrong with an event (``problem`` codes, with what ``verify`` says of each).
CONTENT_CHANGED = "content"
TEXT_MISSING = "text-missing"
TEXT_UNEXPECTED = "text-unexpected"
TEXT_CHANGED = "text-changed"
DESCRIPTIONS = {
    CONTENT_CHANGED: "its content does not match its hash",
    TEXT_MISSING: "its emergency text is missing",
    TEXT_UNEXPECTED: "it has an emergency text its hash does not cover",
    TEXT_CHANGED: "its emergency text is not the one its hash covers (changed or swapped)",
}


def content_problem(row: Any) -> str | None:
    """``CONTENT_CHANGED`` when the row's stored fields do not give its hash (or its hash
    version is unknown), else None."""
    try:
        version = row.hash_version
        fields = fields_of(row)
    except (AttributeError, KeyError):
        return CONTENT_CHANGED
    if version not in HASH_VERSIONS or not hash_matches(fields, row.hash):
        return CONTENT_CHANGED
    return None


def text_problem(cipher: DataCipher, *, event_id: int, digest: str | None,
                 province_code: str | None, text_province: str | None,
                 sealed: bytes | None) -> tuple[str | None, str | None]:
    """The emergency text of event ``event_id`` checked against the digest its hash covers:
    (problem or None, the text when it is intact).

    The text row is sealed to its event's id and must be there exactly when the event has a
    digest, name the event's province and decrypt to a text with that keyed digest."""
    if sealed is None:
        return (TEXT_MISSING if digest is not None else None), None
    if digest is None:
        return TEXT_UNEXPECTED, None
    try:
        text = cipher.decrypt(bytes(sealed), EMERGENCY_TEXT_CONTEXT, str(event_id))
    except (DecryptionError, ValueError, TypeError, UnicodeError):
        return TEXT_CHANGED, None
    if text_province != province_code or not hmac.compare_digest(
            cipher.lookup_hash(text, EMERGENCY_TEXT_CONTEXT), str(digest)):
        return TEXT_CHANGED, None
    return None, text
