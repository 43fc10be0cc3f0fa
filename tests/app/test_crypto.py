"""Envelope encryption: per-value data keys, versioned KEKs, bound context and owner, the older
one-key format still read and rewritten."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.crypto import DataCipher, DecryptionError, Envelope, _derive, kek_version

OLD, NEW, LOOKUP = os.urandom(32), os.urandom(32), os.urandom(32)


def cipher(*keys: bytes) -> DataCipher:
    return DataCipher(list(keys), lookup_key=LOOKUP)


def legacy_encrypt(master: bytes, plaintext: str, context: str) -> bytes:
    """A value of the older one-key format, as the previous DataCipher wrote it."""
    nonce = os.urandom(12)
    key_id = hashlib.sha256(b"unioncard-key-id" + master).digest()[:4]
    return bytes([1]) + key_id + nonce + AESGCM(_derive(master, b"encrypt")).encrypt(
        nonce, plaintext.encode(), context.encode())


def test_each_value_gets_its_own_data_key_wrapped_by_the_newest_kek() -> None:
    c = cipher(NEW, OLD)
    first, second = c.seal(b"same", "t.c", "1"), c.seal(b"same", "t.c", "1")
    assert first.kek_version == second.kek_version == kek_version(NEW) == c.current
    assert first.wrapped_key != second.wrapped_key and first.ciphertext != second.ciphertext
    assert c.open(first, "t.c", "1") == b"same"


def test_the_kek_version_is_derived_from_the_key_but_is_not_the_key() -> None:
    version = kek_version(NEW)
    assert len(version) == 8 and int(version, 16) >= 0
    assert version not in NEW.hex() and version != kek_version(OLD)


@pytest.mark.parametrize(("context", "owner"), [("t.other", "1"), ("t.c", "2")])
def test_a_value_moved_to_another_column_or_row_fails(context: str, owner: str) -> None:
    c = cipher(NEW)
    blob = c.encrypt("024194001234", "t.c", "1")
    with pytest.raises(DecryptionError):
        c.decrypt(blob, context, owner)
    sealed = c.seal(b"x", "t.c", "1")
    with pytest.raises(DecryptionError):
        c.open(sealed, context, owner)


def test_a_wrapped_key_moved_to_another_row_fails() -> None:
    c = cipher(NEW)
    mine, theirs = c.seal(b"mine", "t.c", "1"), c.seal(b"theirs", "t.c", "2")
    with pytest.raises(DecryptionError):
        c.open(Envelope(mine.kek_version, theirs.wrapped_key, mine.ciphertext), "t.c", "1")


def test_tampering_and_garbage_are_refused() -> None:
    c = cipher(NEW)
    blob = bytearray(c.encrypt("secret", "t.c", "1"))
    blob[-1] ^= 1
    for bad in (bytes(blob), b"", b"\x02short", b"\x09" + bytes(200)):
        with pytest.raises(DecryptionError):
            c.decrypt(bad, "t.c", "1")


def test_readers_accept_old_and_new_keks_and_an_unknown_kek_is_named() -> None:
    old_blob = cipher(OLD).encrypt("a", "t.c", "1")
    both = cipher(NEW, OLD)
    assert both.decrypt(old_blob, "t.c", "1") == "a"
    with pytest.raises(DecryptionError, match=kek_version(OLD)):
        cipher(NEW).decrypt(old_blob, "t.c", "1")


def test_rewrap_changes_only_the_wrapped_key() -> None:
    sealed = cipher(OLD).seal(b"document", "t.c", "7")
    both = cipher(NEW, OLD)
    again = both.rewrap(sealed, "t.c", "7")
    assert again.kek_version == kek_version(NEW) and again.ciphertext == sealed.ciphertext
    assert cipher(NEW).open(again, "t.c", "7") == b"document"
    assert both.rewrap(again, "t.c", "7") is again


def test_packed_values_rewrap_and_the_older_format_is_read_then_rewritten() -> None:
    both = cipher(NEW, OLD)
    legacy = legacy_encrypt(OLD, "024194001234", "member.personal_id")
    assert both.packed_version(legacy) == "legacy"
    assert both.decrypt(legacy, "member.personal_id", "owner") == "024194001234"
    rewritten = both.rewrap_packed(legacy, "member.personal_id", "owner")
    assert rewritten is not None and rewritten.startswith(both.packed_header())
    assert cipher(NEW).decrypt(rewritten, "member.personal_id", "owner") == "024194001234"
    assert both.rewrap_packed(rewritten, "member.personal_id", "owner") is None
    old_packed = cipher(OLD).encrypt("x", "t.c", "1")
    moved = both.rewrap_packed(old_packed, "t.c", "1")
    assert moved is not None and both.packed_version(moved) == both.current
    assert moved[65:] == old_packed[65:]  # the data itself is not re-encrypted


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        DataCipher([b"short"], lookup_key=LOOKUP)
    with pytest.raises(ValueError):
        DataCipher([], lookup_key=LOOKUP)
