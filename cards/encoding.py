"""The UC1 text layers: size limits, prefix, base45 (RFC 9285) and optional zlib."""

from __future__ import annotations

import functools
import struct
import zlib

from cards.errors import MalformedCard

#: The prefix of every UC1 card text.
PREFIX = "UC1:"
#: The longest card text (in characters) a verifier accepts.
MAX_TEXT_CHARS = 4096
#: The largest COSE message (in bytes) a verifier accepts after decompression.
MAX_DECOMPRESSED_BYTES = 16384

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INVALID = 0xFF
# bytes.translate table: ASCII code of each base45 character -> its digit value, others -> 0xFF.
_DIGITS = bytes(_ALPHABET.find(chr(b)) if chr(b) in _ALPHABET else _INVALID for b in range(256))
# _PAIRS[v] is the two base45 digits of v < 2025, least significant first (RFC 9285 order).
_PAIRS = [a + b for b in _ALPHABET for a in _ALPHABET]
_ZLIB_FIRST_BYTE = 0x78
_ZLIB_HEADER = bytes((_ZLIB_FIRST_BYTE, 0xDA))


@functools.cache
def _word_table() -> list[str]:
    # The three base45 digits of every 16-bit word (built on first use: ~6 ms, ~4 MB; only
    # issuers encode, scanners never pay for it).
    return [_PAIRS[v % 2025] + _ALPHABET[v // 2025] for v in range(65536)]


@functools.lru_cache(maxsize=64)
def _low_bytes(size: int) -> int:
    """The integer whose ``size`` big-endian bytes are 00 00 FF repeated (a lane mask)."""
    return int.from_bytes(b"\x00\x00\xff" * (size // 3), "big")


def b45encode(data: bytes) -> str:
    """Encode bytes as base45 text (RFC 9285)."""
    table = _word_table()
    words = len(data) // 2
    text = "".join([table[w] for w in struct.unpack(f">{words}H", data[: 2 * words])])
    return text + _PAIRS[data[-1]] if len(data) % 2 else text


def b45decode(text: str) -> bytes:
    """Decode base45 text (RFC 9285) strictly.

    Raises:
        MalformedCard: (``bad-base45``) on a character outside the alphabet, a length of the
            form 3k+1, or a chunk whose value overflows.
    """
    if not isinstance(text, str):
        raise MalformedCard("base45 input must be text", reason="bad-base45")
    try:
        values = text.encode("ascii").translate(_DIGITS)
    except UnicodeEncodeError as e:
        raise MalformedCard("invalid base45 character", reason="bad-base45") from e
    if _INVALID in values:
        raise MalformedCard("invalid base45 character", reason="bad-base45")
    n = len(values)
    tail = n % 3
    if tail == 1:
        raise MalformedCard("invalid base45 length", reason="bad-base45")
    count = (n - tail) // 3
    size = 3 * count
    # Decode all 3-digit chunks at once with big-integer arithmetic (C speed, no Python loop):
    # read the digits as one big-endian integer, so each chunk [c, d, e] is a 24-bit lane
    # c·2^16 + d·2^8 + e; mask out c, d and e of every lane and compute c + 45·d + 2025·e
    # lane-wise. Each lane stays below 45**3 < 2**17, so no carry crosses lanes; a lane whose
    # high byte is set is a chunk above 0xFFFF.
    digits = int.from_bytes(values[:size], "big")
    low = _low_bytes(size)
    total = (((digits >> 16) & low) + 45 * ((digits >> 8) & low)
             + 2025 * (digits & low)).to_bytes(size, "big")
    if total[0::3].count(0) != count:
        raise MalformedCard("base45 chunk overflows two bytes", reason="bad-base45")
    out = bytearray(2 * count)
    out[0::2] = total[1::3]
    out[1::2] = total[2::3]
    if tail:
        v = values[-2] + values[-1] * 45
        if v > 0xFF:
            raise MalformedCard("base45 chunk overflows one byte", reason="bad-base45")
        out.append(v)
    return bytes(out)


def deflate(data: bytes) -> bytes:
    """Compress ``data`` as a zlib stream (RFC 1950) whose first byte is 0x78."""
    # Raw deflate with a window and hash sized to the input, wrapped in the standard zlib
    # header 78 DA (32 KiB window declared, maximum compression) and the Adler-32 trailer.
    # A stream that only uses short distances is valid under the declared window, so every
    # zlib decoder reads it; the small state avoids zlib.compress's ~256 KiB allocation,
    # which costs tens of microseconds per card when malloc hands it out by mmap.
    wbits = max(9, min(15, (len(data) - 1).bit_length()))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -wbits, max(1, wbits - 7))
    body = compressor.compress(data) + compressor.flush()
    return _ZLIB_HEADER + body + zlib.adler32(data).to_bytes(4, "big")


def deflate_if_smaller(data: bytes) -> bytes:
    """Return :func:`deflate` of ``data`` when that is strictly shorter, else ``data`` as is."""
    compressed = deflate(data)
    return compressed if len(compressed) < len(data) else data


def inflate(data: bytes, *, max_size: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Decompress one complete zlib stream, refusing output larger than ``max_size``.

    Raises:
        MalformedCard: ``bad-zlib`` for a broken, truncated or trailing-data stream;
            ``too-large-decompressed`` when the output would exceed ``max_size``.
    """
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, max_size + 1)
    except zlib.error as e:
        raise MalformedCard("broken zlib stream", reason="bad-zlib") from e
    if len(out) > max_size:
        raise MalformedCard("decompressed payload too large", reason="too-large-decompressed")
    if not decompressor.eof or decompressor.unused_data or decompressor.unconsumed_tail:
        raise MalformedCard("truncated or trailing zlib data", reason="bad-zlib")
    return out


def maybe_inflate(data: bytes, *, max_size: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Inflate ``data`` when it starts with the zlib header byte 0x78, else return it as is.

    Raises:
        MalformedCard: as :func:`inflate`, or ``too-large-decompressed`` for an oversized
            uncompressed message.
    """
    if data[:1] == bytes([_ZLIB_FIRST_BYTE]):
        return inflate(data, max_size=max_size)
    if len(data) > max_size:
        raise MalformedCard("payload too large", reason="too-large-decompressed")
    return data


def encode_text(message: bytes, *, prefix: str = PREFIX) -> str:
    """Wrap a COSE message as card text: zlib when smaller, base45, then ``prefix``."""
    return prefix + b45encode(deflate_if_smaller(message))


def strip_prefix(text: str, *, prefix: str = PREFIX) -> str:
    """Check the length and prefix of card text and return the base45 part.

    Raises:
        MalformedCard: ``too-long`` over :data:`MAX_TEXT_CHARS`; ``bad-prefix`` otherwise.
    """
    if not isinstance(text, str):
        raise MalformedCard("card text must be a string", reason="bad-prefix")
    if len(text) > MAX_TEXT_CHARS:
        raise MalformedCard("card text too long", reason="too-long")
    if not text.startswith(prefix):
        raise MalformedCard("card text lacks the expected prefix", reason="bad-prefix")
    return text[len(prefix) :]


def decode_text(text: str, *, prefix: str = PREFIX) -> bytes:
    """Turn card text back into the COSE message bytes (prefix, base45, optional zlib).

    ``prefix`` exists so tests can feed the EU ``HC1:`` vectors through the same layers;
    :func:`cards.verify` always uses ``UC1:``.

    Raises:
        MalformedCard: with the reason of the first layer that fails.
    """
    return maybe_inflate(b45decode(strip_prefix(text, prefix=prefix)))
