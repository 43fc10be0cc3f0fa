"""Bridges from the Flask app to plain services: the data cipher and the acting principal."""

from __future__ import annotations

from flask import current_app

from app.crypto import DataCipher
from app.security import current_principal


def data_cipher() -> DataCipher:
    """The app's cipher for data at rest (newest key first, then ``DATA_KEYS_PREVIOUS``)."""
    cipher = current_app.extensions.get("unioncard.cipher")
    if cipher is None:
        cipher = cipher_for_config(current_app.config)
        current_app.extensions["unioncard.cipher"] = cipher
    return cipher  # type: ignore[no-any-return]


def cipher_for_config(config: object) -> DataCipher:
    """Build a cipher from a config mapping (also used by the CLI and jobs)."""
    from app.config import decode_data_key

    get = config.get  # type: ignore[attr-defined]
    keys = [get("DATA_KEY_BYTES")]
    previous = get("DATA_KEYS_PREVIOUS") or ""
    keys += [decode_data_key(k.strip()) for k in str(previous).split(",") if k.strip()]
    return DataCipher(keys)


def actor() -> str:
    """The audit name of the caller (``user:7``)."""
    principal = current_principal()
    assert principal is not None
    return principal.subject
