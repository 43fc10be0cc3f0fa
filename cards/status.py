"""W3C Bitstring Status Lists: revocation and suspension bits, encoding, index allocation."""

from __future__ import annotations

import gzip
import secrets
import zlib
from collections.abc import Collection
from typing import Literal, get_args

from cards.b64 import b64url_decode, b64url_encode
from cards.errors import StatusListError

Purpose = Literal["revocation", "suspension"]
PURPOSES: tuple[str, ...] = get_args(Purpose)
#: The W3C minimum list length (16 KiB of bits), which gives group privacy.
MIN_ENTRIES = 131_072
#: The largest list a verifier decodes (16 MiB of bits = 2 MiB), bounding gzip bombs.
MAX_ENTRIES = 2**24
#: Multibase prefix of unpadded base64url, required on ``encodedList`` (W3C v1.0 §2.1).
MULTIBASE_BASE64URL = "u"


class StatusList:
    """A mutable bitstring of ``size`` entries; index 0 is the first byte's most significant bit."""

    __slots__ = ("list_id", "purpose", "_bits")

    def __init__(self, list_id: int, purpose: Purpose, size: int = MIN_ENTRIES) -> None:
        if purpose not in PURPOSES:
            raise StatusListError(f"unknown purpose {purpose!r}", reason="bad-status-list")
        if isinstance(list_id, bool) or not isinstance(list_id, int) or not 0 <= list_id < 2**32:
            raise StatusListError("list id must be a 32-bit unsigned integer")
        if not isinstance(size, int) or size % 8 or not MIN_ENTRIES <= size <= MAX_ENTRIES:
            raise StatusListError(
                f"size must be a multiple of 8 in [{MIN_ENTRIES}, {MAX_ENTRIES}]",
                reason="bad-status-list",
            )
        self.list_id = list_id
        self.purpose: Purpose = purpose
        self._bits = bytearray(size // 8)

    @property
    def size(self) -> int:
        """The number of entries (bits)."""
        return len(self._bits) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise StatusListError(f"index {index!r} out of range", reason="index-out-of-range")
        return index >> 3, 0x80 >> (index & 7)

    def get(self, index: int) -> bool:
        """Whether the bit at ``index`` is set (revoked or suspended).

        Raises:
            StatusListError: (``index-out-of-range``) outside ``[0, size)``.
        """
        byte, mask = self._locate(index)
        return bool(self._bits[byte] & mask)

    def flagged(self, index: int) -> bool | None:
        """Whether the bit at ``index`` is set; ``None`` outside ``[0, size)``. For an index
        already known to be an integer (the verifier's claims), without :meth:`get`'s checks."""
        byte = index >> 3
        if index < 0 or byte >= len(self._bits):
            return None
        return bool(self._bits[byte] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        """Set (or with ``value=False`` clear) the bit at ``index``."""
        byte, mask = self._locate(index)
        if value:
            self._bits[byte] |= mask
        else:
            self._bits[byte] &= ~mask & 0xFF

    def clear(self, index: int) -> None:
        """Clear the bit at ``index`` (e.g. lift a suspension)."""
        self.set(index, False)

    def set_indices(self) -> list[int]:
        """Every index whose bit is set, ascending."""
        return [
            (i << 3) + j
            for i, b in enumerate(self._bits)
            if b
            for j in range(8)
            if b & (0x80 >> j)
        ]

    def encode(self) -> str:
        """The W3C ``encodedList``: multibase ``u`` + base64url(gzip(bitstring)), no padding."""
        # mtime=0 keeps the output deterministic, so the same list always encodes the same.
        return MULTIBASE_BASE64URL + b64url_encode(gzip.compress(bytes(self._bits), 9, mtime=0))

    @classmethod
    def decode(cls, list_id: int, purpose: Purpose, encoded: str) -> StatusList:
        """Read an ``encodedList``.

        Raises:
            StatusListError: (``bad-status-list``) for bad base64url or gzip, or a length
                outside the allowed range.
        """
        if not isinstance(encoded, str) or not encoded.startswith(MULTIBASE_BASE64URL):
            raise StatusListError("encodedList must be multibase base64url ('u' prefix)")
        try:
            compressed = b64url_decode(encoded[1:])
            decompressor = zlib.decompressobj(wbits=31)  # gzip container
            raw = decompressor.decompress(compressed, MAX_ENTRIES // 8 + 1)
        except (ValueError, zlib.error) as e:
            raise StatusListError("encodedList is not base64url gzip") from e
        if not decompressor.eof or decompressor.unused_data or len(raw) > MAX_ENTRIES // 8:
            raise StatusListError("encodedList is truncated, has trailing data or is too large")
        status_list = cls(list_id, purpose, len(raw) * 8)
        status_list._bits[:] = raw
        return status_list

    def to_bytes(self) -> bytes:
        """The raw bitstring (for storage)."""
        return bytes(self._bits)

    @classmethod
    def from_bytes(cls, list_id: int, purpose: Purpose, raw: bytes) -> StatusList:
        """A list from its raw bitstring (as stored by :meth:`to_bytes`).

        Raises:
            StatusListError: a length outside the allowed range.
        """
        status_list = cls(list_id, purpose, len(raw) * 8)
        status_list._bits[:] = raw
        return status_list

    def copy(self) -> StatusList:
        """An independent copy."""
        other = StatusList(self.list_id, self.purpose, self.size)
        other._bits[:] = self._bits
        return other

    def __repr__(self) -> str:
        return f"StatusList(list_id={self.list_id}, purpose={self.purpose!r}, size={self.size})"


def allocate_index(used: Collection[int], size: int = MIN_ENTRIES) -> int:
    """Pick a uniformly random unused index in ``[0, size)`` with :mod:`secrets`.

    ``used`` holds the indices already assigned in this list (a set is fastest). Random
    placement means fetching the list reveals nothing about which card is being checked.

    Raises:
        StatusListError: (``list-full``) when every index is taken.
    """
    if len(used) >= size:
        raise StatusListError("no free index left in the status list", reason="list-full")
    if len(used) <= size // 2:
        # Rejection sampling stays uniform and needs on average < 2 draws here.
        while True:
            candidate = secrets.randbelow(size)
            if candidate not in used:
                return candidate
    free = [i for i in range(size) if i not in used]
    if not free:
        raise StatusListError("no free index left in the status list", reason="list-full")
    return secrets.choice(free)
