"""Encryption at rest (AES-256-GCM, rotatable keys) and keyed hashes for lookups."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key, wrong context, or tampered."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"unioncard/" + purpose).derive(master)


class DataCipher:
    """Encrypts small values with the newest data key; decrypts with any configured key.

    A ciphertext is ``version(1) | key id(4) | nonce(12) | AES-GCM(ciphertext + tag)``; the
    context (e.g. ``member.personal_id``) is authenticated as associated data so a value cannot
    be moved to another column. Keyed hashes use their own stable ``lookup_key``, never a data
    key, so rotating the data key leaves every lookup and uniqueness check intact.
    """

    def __init__(self, master_keys: list[bytes], *, lookup_key: bytes) -> None:
        if not master_keys or any(len(k) != 32 for k in master_keys):
            raise ValueError("data keys must be 32 bytes each, newest first")
        if len(lookup_key) != 32:
            raise ValueError("the lookup key must be 32 bytes")
        self._keys = {self._key_id(k): _derive(k, b"encrypt") for k in master_keys}
        self._current = self._key_id(master_keys[0])
        # the same derivation as before the lookup key existed: an existing database keeps its
        # hashes when the lookup key is set to the data key it was written with
        self._hash_key = _derive(lookup_key, b"lookup-hash")

    @staticmethod
    def _key_id(master: bytes) -> bytes:
        return hashlib.sha256(b"unioncard-key-id" + master).digest()[:4]

    def encrypt(self, plaintext: str, context: str) -> bytes:
        """Encrypt text for the given context."""
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._current]).encrypt(
            nonce, plaintext.encode("utf-8"), context.encode())
        return bytes([FORMAT_VERSION]) + self._current + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        """Decrypt a value written by ``encrypt`` with the same context.

        Raises:
            DecryptionError: unknown format or key, wrong context, or a tampered value.
        """
        if len(blob) < 1 + 4 + 12 + 16 or blob[0] != FORMAT_VERSION:
            raise DecryptionError("not a unioncard ciphertext")
        key = self._keys.get(bytes(blob[1:5]))
        if key is None:
            raise DecryptionError("encrypted with a data key that is not configured")
        try:
            return AESGCM(key).decrypt(bytes(blob[5:17]), bytes(blob[17:]),
                                       context.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def lookup_hash(self, value: str, context: str) -> str:
        """A keyed hash (HMAC-SHA256, hex) to find a value without decrypting every row."""
        return hmac.new(self._hash_key, f"{context}\x00{value}".encode(),
                        hashlib.sha256).hexdigest()
