"""Strict unpadded base64url (RFC 4648 §5), as used by JWK, JWS and status lists."""

from __future__ import annotations

import base64
import binascii
import re

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url text strictly.

    Raises:
        ValueError: on padding, characters outside the alphabet or an impossible length.
    """
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("invalid base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as e:
        raise ValueError("invalid base64url text") from e
    if b64url_encode(data) != text:  # non-zero trailing bits: not the canonical encoding
        raise ValueError("non-canonical base64url text")
    return data
