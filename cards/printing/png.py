"""A fast lossless PNG writer for rendered card sides (8-bit RGB, no row filter, zlib level 3).

Pillow's PNG encoder tries every row filter on every row; on a flat-coloured card that costs
three times as long as deflating the unfiltered rows, for the same file size (measured with
scripts/bench/cards_render.py). Card issuance writes two sides per card, so this matters.
Rows that every image shares with a template (the static back of a card) can be deflated once
and spliced in: each part is a raw deflate stream ended by a full flush, so no part refers back
into another, and the zlib checksum of the whole is combined from the parts'.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from PIL import Image

__all__ = ["StaticRows", "encode_png", "static_rows"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LEVEL = 3


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


_ADLER_BASE = 65521


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A + B from those of A and B and the length of B (zlib's adler32_combine)."""
    rem = len2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 = (sum1 + (adler2 & 0xFFFF) + _ADLER_BASE - 1) % _ADLER_BASE
    sum2 = (sum2 + (adler1 >> 16) + (adler2 >> 16) + _ADLER_BASE - rem) % _ADLER_BASE
    return sum1 | (sum2 << 16)


def _deflate_rows(
    raw: memoryview, stride: int, first: int, last: int, final: bool, wbits: int = -15
) -> bytes:
    """Deflate rows [first, last) with filter byte 0, ending with a full flush or finish.

    `wbits` -15 gives a raw deflate stream (a part to splice), 15 a complete zlib stream.
    """
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, wbits)
    parts = []
    no_filter = b"\x00"
    for start in range(first * stride, last * stride, stride):
        parts.append(deflate.compress(no_filter))
        parts.append(deflate.compress(raw[start : start + stride]))
    parts.append(deflate.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH))
    return b"".join(parts)


def _rows_adler(raw: memoryview, stride: int, first: int, last: int) -> int:
    adler = 1
    for start in range(first * stride, last * stride, stride):
        adler = zlib.adler32(raw[start : start + stride], zlib.adler32(b"\x00", adler))
    return adler


@dataclass(frozen=True, slots=True)
class StaticRows:
    """Rows [0, top) and [bottom, height) of a template, deflated once for reuse."""

    size: tuple[int, int]
    top: int
    bottom: int
    head: bytes
    head_adler: int
    tail: bytes
    tail_adler: int


def static_rows(template: Image.Image, top: int, bottom: int) -> StaticRows:
    """Pre-deflate the rows of `template` outside [top, bottom).

    Raises:
        ValueError: the template is not RGB or the range is outside the image.
    """
    if template.mode != "RGB":
        raise ValueError(f"static_rows takes RGB images, not {template.mode}")
    width, height = template.size
    if not 0 <= top <= bottom <= height:
        raise ValueError(f"rows [{top}, {bottom}) are not within 0..{height}")
    raw, stride = memoryview(template.tobytes()), 3 * width
    return StaticRows(
        size=template.size,
        top=top,
        bottom=bottom,
        head=_deflate_rows(raw, stride, 0, top, final=False),
        head_adler=_rows_adler(raw, stride, 0, top),
        tail=_deflate_rows(raw, stride, bottom, height, final=True),
        tail_adler=_rows_adler(raw, stride, bottom, height),
    )


def encode_png(image: Image.Image, dpi: int = 300, static: StaticRows | None = None) -> bytes:
    """Encode an RGB image as PNG with a pHYs chunk for `dpi`.

    With `static`, only rows [static.top, static.bottom) are read from `image`; the others are
    the template's, so the caller must only have drawn inside that band.

    Raises:
        ValueError: the image is not in RGB mode, or not the size of the static rows' template.
    """
    if image.mode != "RGB":
        raise ValueError(f"encode_png takes RGB images, not {image.mode}")
    width, height = image.size
    stride = 3 * width
    if static is None:
        idat = _deflate_rows(memoryview(image.tobytes()), stride, 0, height, True, wbits=15)
    else:
        if static.size != image.size:
            raise ValueError(f"image is {image.size}, the static rows are {static.size}")
        band = image.crop((0, static.top, width, static.bottom))
        raw = memoryview(band.tobytes())
        rows = static.bottom - static.top
        middle = _deflate_rows(raw, stride, 0, rows, final=False)
        middle_adler = _rows_adler(raw, stride, 0, rows)
        adler = _adler32_combine(static.head_adler, middle_adler, rows * (stride + 1))
        adler = _adler32_combine(adler, static.tail_adler, (height - static.bottom) * (stride + 1))
        # zlib stream: CMF 0x78 (deflate, 32 KiB window), FLG 0x5E (default level, check bits).
        idat = b"\x78\x5e" + static.head + middle + static.tail + struct.pack(">I", adler)
    per_metre = round(dpi / 0.0254)
    return b"".join((
        _SIGNATURE,
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        _chunk(b"IDAT", idat),
        _chunk(b"IEND", b""),
    ))  # fmt: skip
