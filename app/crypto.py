"""Encryption at rest with envelope keys (AES-256-GCM, rotatable KEKs) and keyed lookup hashes."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LEGACY_FORMAT = 1  # one data key for everything: version | key id(4) | nonce | ciphertext
FORMAT_VERSION = 2  # envelope: version | KEK id(4) | wrapped data key(60) | nonce | ciphertext
_NONCE = 12
_TAG = 16
WRAPPED_KEY_BYTES = _NONCE + 32 + _TAG
_HEADER = 1 + 4


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: unknown key, wrong context, or tampered."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"unioncard/" + purpose).derive(master)


def kek_version(master: bytes) -> str:
    """The public version id of a key-encryption key (8 hex characters; not the key)."""
    return hmac.new(master, b"unioncard-kek-id", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class Envelope:
    """A value sealed under its own data key: the data key wrapped by the KEK ``kek_version``."""

    kek_version: str
    wrapped_key: bytes
    ciphertext: bytes


def _aad(kind: bytes, context: str, owner: str) -> bytes:
    return b"unioncard/" + kind + b"\x00" + context.encode() + b"\x00" + owner.encode()


class DataCipher:
    """Envelope encryption: each value gets a random AES-256-GCM data key, wrapped by the newest
    key-encryption key (KEK); any configured KEK unwraps.

    The context (table and column, e.g. ``member.personal_id``) and the row's owner are bound as
    associated data to both the wrapped key and the ciphertext, so a value copied to another
    column or row fails to decrypt. A packed value (``encrypt``) is ``2 | KEK id(4) | wrapped
    key(60) | nonce(12) | ciphertext + tag``; values of the older one-key format (``1 | key
    id(4) | nonce | ciphertext``, bound to the context only) are still read until
    ``unioncard keys rotate-data-key`` rewrites them. Keyed hashes use their own stable
    ``lookup_key``, never a KEK, so a rotation leaves every lookup and uniqueness check intact.
    """

    def __init__(self, master_keys: list[bytes], *, lookup_key: bytes) -> None:
        if not master_keys or any(len(k) != 32 for k in master_keys):
            raise ValueError("data keys must be 32 bytes each, newest first")
        if len(lookup_key) != 32:
            raise ValueError("the lookup key must be 32 bytes")
        self._keks = {kek_version(k): _derive(k, b"kek") for k in master_keys}
        self.current = kek_version(master_keys[0])
        self.versions = tuple(self._keks)
        self._legacy = {hashlib.sha256(b"unioncard-key-id" + k).digest()[:4]:
                        _derive(k, b"encrypt") for k in master_keys}
        # the same derivation as before the lookup key existed: an existing database keeps its
        # hashes when the lookup key is set to the data key it was written with
        self._hash_key = _derive(lookup_key, b"lookup-hash")

    # -- envelopes ------------------------------------------------------------------------
    def seal(self, plaintext: bytes, context: str, owner: str) -> Envelope:
        """Encrypt under a fresh data key wrapped by the newest KEK."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext,
                                                      _aad(b"data", context, owner))
        return Envelope(self.current, self._wrap(data_key, self.current, context, owner),
                        ciphertext)

    def open(self, envelope: Envelope, context: str, owner: str) -> bytes:
        """Decrypt a sealed value.

        Raises:
            DecryptionError: unknown KEK, wrong context or owner, or a tampered value.
        """
        data_key = self._unwrap(envelope.wrapped_key, envelope.kek_version, context, owner)
        blob = envelope.ciphertext
        try:
            return AESGCM(data_key).decrypt(blob[:_NONCE], blob[_NONCE:],
                                            _aad(b"data", context, owner))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def rewrap(self, envelope: Envelope, context: str, owner: str) -> Envelope:
        """The same value with its data key wrapped by the newest KEK (the data is untouched).

        Raises:
            DecryptionError: the data key cannot be unwrapped.
        """
        if envelope.kek_version == self.current:
            return envelope
        data_key = self._unwrap(envelope.wrapped_key, envelope.kek_version, context, owner)
        return Envelope(self.current, self._wrap(data_key, self.current, context, owner),
                        envelope.ciphertext)

    def _wrap(self, data_key: bytes, version: str, context: str, owner: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self._keks[version]).encrypt(
            nonce, data_key, _aad(b"key:" + version.encode(), context, owner))

    def _unwrap(self, wrapped: bytes, version: str, context: str, owner: str) -> bytes:
        kek = self._keks.get(version)
        if kek is None:
            raise DecryptionError(f"data key wrapped by KEK {version}, which is not configured")
        try:
            return AESGCM(kek).decrypt(wrapped[:_NONCE], wrapped[_NONCE:],
                                       _aad(b"key:" + version.encode(), context, owner))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("wrapped data key failed authentication") from exc

    # -- packed values (one column) -------------------------------------------------------
    def encrypt(self, plaintext: str, context: str, owner: str = "") -> bytes:
        """Encrypt text for a context and row owner, packed into one value."""
        sealed = self.seal(plaintext.encode("utf-8"), context, owner)
        return (bytes([FORMAT_VERSION]) + bytes.fromhex(sealed.kek_version) + sealed.wrapped_key
                + sealed.ciphertext)

    def decrypt(self, blob: bytes, context: str, owner: str = "") -> str:
        """Decrypt a value written by ``encrypt`` (or the older one-key format).

        Raises:
            DecryptionError: unknown format or key, wrong context or owner, or tampered.
        """
        blob = bytes(blob)
        if blob[:1] == bytes([LEGACY_FORMAT]) and len(blob) >= _HEADER + _NONCE + _TAG:
            return self._decrypt_legacy(blob, context)
        if blob[:1] != bytes([FORMAT_VERSION]) or len(blob) < _HEADER + WRAPPED_KEY_BYTES + _NONCE + _TAG:
            raise DecryptionError("not a unioncard ciphertext")
        return self.open(self._unpack(blob), context, owner).decode("utf-8")

    def _decrypt_legacy(self, blob: bytes, context: str) -> str:
        key = self._legacy.get(blob[1:5])
        if key is None:
            raise DecryptionError("encrypted with a data key that is not configured")
        try:
            return AESGCM(key).decrypt(blob[5:17], blob[17:], context.encode()).decode("utf-8")
        except InvalidTag as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    @staticmethod
    def _unpack(blob: bytes) -> Envelope:
        end = _HEADER + WRAPPED_KEY_BYTES
        return Envelope(blob[1:5].hex(), blob[_HEADER:end], blob[end:])

    def packed_header(self) -> bytes:
        """The first bytes of every packed value under the newest KEK (to find the others)."""
        return bytes([FORMAT_VERSION]) + bytes.fromhex(self.current)

    @staticmethod
    def packed_version(blob: bytes) -> str:
        """The KEK version of a packed value, or ``legacy`` for the older one-key format."""
        return "legacy" if blob[:1] == bytes([LEGACY_FORMAT]) else bytes(blob[1:5]).hex()

    def rewrap_packed(self, blob: bytes, context: str, owner: str = "") -> bytes | None:
        """A packed value under the newest KEK (an old-format value is re-encrypted), or None
        when it already is.

        Raises:
            DecryptionError: the value cannot be read with the configured keys.
        """
        blob = bytes(blob)
        if blob[:_HEADER] == self.packed_header():
            return None
        if blob[:1] == bytes([LEGACY_FORMAT]):
            return self.encrypt(self._decrypt_legacy(blob, context), context, owner)
        if blob[:1] != bytes([FORMAT_VERSION]):
            raise DecryptionError("not a unioncard ciphertext")
        sealed = self.rewrap(self._unpack(blob), context, owner)
        return (bytes([FORMAT_VERSION]) + bytes.fromhex(sealed.kek_version) + sealed.wrapped_key
                + sealed.ciphertext)

    # -- lookups --------------------------------------------------------------------------
    def lookup_hash(self, value: str, context: str) -> str:
        """A keyed hash (HMAC-SHA256, hex) to find a value without decrypting every row."""
        return hmac.new(self._hash_key, f"{context}\x00{value}".encode(),
                        hashlib.sha256).hexdigest()
