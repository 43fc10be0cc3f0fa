"""QR symbols for UC1 texts: error correction M, smallest version, alphanumeric mode."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache

import segno
from PIL import Image

__all__ = [
    "ALPHANUMERIC",
    "ERROR_LEVEL",
    "QUIET_ZONE",
    "QrError",
    "QrSymbol",
    "make_qr",
    "penalty",
]

#: The QR alphanumeric alphabet (ISO/IEC 18004 §7.4.4); base45 and the `UC1:` prefix use only it.
ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
#: Error correction level: M (15 %), which low-end phone cameras read reliably.
ERROR_LEVEL = "M"
#: Width of the light margin around the symbol, in modules (the minimum ISO/IEC 18004 asks for).
QUIET_ZONE = 4


class QrError(ValueError):
    """The text cannot be encoded as a UC1 QR symbol."""


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """A QR symbol: its version, mask and module matrix (1 = dark), without the quiet zone."""

    text: str
    version: int
    mask: int
    modules: tuple[bytes, ...]

    @property
    def error(self) -> str:
        """The error correction level ("M")."""
        return ERROR_LEVEL

    @property
    def size(self) -> int:
        """Modules per side, without the quiet zone (17 + 4 × version)."""
        return len(self.modules)

    def image(self, scale: int = 8, border: int = QUIET_ZONE) -> Image.Image:
        """A 1-bit image, `scale` pixels per module, pixel-exact (no resampling blur)."""
        _check_geometry(scale, border)
        side = self.size + 2 * border
        light = b"\xff" * border
        rows = [b"\xff" * side] * border
        # 0 -> 255 (light), 1 -> 0 (dark), one byte per module.
        rows += [light + row.translate(_TO_GREY) + light for row in self.modules]
        rows += [b"\xff" * side] * border
        img = Image.frombytes("L", (side, side), b"".join(rows))
        if scale != 1:
            img = img.resize((side * scale, side * scale), Image.Resampling.NEAREST)
        return img.convert("1", dither=Image.Dither.NONE)

    def png(self, scale: int = 8, border: int = QUIET_ZONE) -> bytes:
        """The symbol as a 1-bit PNG, `scale` pixels per module."""
        buf = io.BytesIO()
        self.image(scale, border).save(buf, "PNG", optimize=False)
        return buf.getvalue()

    def svg(self, scale: int = 8, border: int = QUIET_ZONE) -> str:
        """The symbol as a standalone SVG document; one path, one unit per module."""
        _check_geometry(scale, border)
        side = self.size + 2 * border
        parts: list[str] = []
        for y, row in enumerate(self.modules):
            x = 0
            n = len(row)
            while x < n:
                if row[x]:
                    start = x
                    while x < n and row[x]:
                        x += 1
                    parts.append(f"M{start + border} {y + border}h{x - start}v1h{start - x}z")
                else:
                    x += 1
        px = side * scale
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
            f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
            f'<title>UC1 QR code, version {self.version}-{ERROR_LEVEL}</title>'
            f'<rect width="{side}" height="{side}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(parts)}"/></svg>\n'
        )


_TO_GREY = bytes([255, 0] + [0] * 254)


def _check_geometry(scale: int, border: int) -> None:
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if border < 0:
        raise ValueError(f"border must not be negative, got {border}")


# ---------------------------------------------------------------------------------------------
# Mask selection. segno evaluates the eight masks in pure Python (about 85 % of its encoding
# time). Instead we let segno encode once with mask 0 and derive the other seven symbols: for a
# given version and error level, symbol(mask k) XOR symbol(mask 0) is the same for every text
# (the mask patterns differ only on data modules, the format bits only by mask), so that
# difference is computed once per version. Each candidate is then scored with the ISO/IEC 18004
# §7.8.3.1 penalty rules on the complete symbol, format and version information included (as
# ZXing's encoder does), using regular expressions and big-integer bit operations.

_SEP = 2  # row separator in flattened matrices: equal to no module, ends every run
_RUN5 = re.compile(rb"\x00{5,}|\x01{5,}")
_LIGHT_BEFORE = (
    rb"(?:(?<=\x00\x00\x00\x00)|(?<=\x02\x00\x00\x00)|(?<=\x02\x00\x00)|(?<=\x02\x00)|(?<=\x02))"
)
_LIGHT_AFTER = rb"(?:\x00\x00\x00\x00|\x00\x00\x00\x02|\x00\x00\x02|\x00\x02|\x02)"
_FINDER_LIKE = rb"\x01\x00\x01\x01\x01\x00\x01"
# Every start of a 1:1:3:1:1 pattern with four light modules (or the symbol edge) on one side.
_N3 = re.compile(
    rb"(?=" + _FINDER_LIKE + rb")(?:" + _LIGHT_BEFORE + rb"|(?=.{7}" + _LIGHT_AFTER + rb"))",
    re.DOTALL,
)


def _flatten(rows: tuple[bytes, ...]) -> bytes:
    """Rows joined with a separator before each row and at the end."""
    sep = bytes((_SEP,))
    return sep + sep.join(rows) + sep


def _transpose(rows: tuple[bytes, ...]) -> tuple[bytes, ...]:
    return tuple(bytes(col) for col in zip(*rows, strict=True))


def penalty(rows: tuple[bytes, ...]) -> int:
    """ISO/IEC 18004 §7.8.3.1 penalty score (N1 + N2 + N3 + N4) of a square module matrix."""
    return _penalty(_flatten(rows), _flatten(_transpose(rows)), len(rows))


def _penalty(flat: bytes, flat_t: bytes, n: int) -> int:
    # N1: each run of >= 5 same-coloured modules in a row or column scores 3 + (length - 5).
    n1 = sum(len(m) - 2 for m in _RUN5.findall(flat)) + sum(
        len(m) - 2 for m in _RUN5.findall(flat_t)
    )
    # N2: each 2x2 block of one colour scores 3. Lanes of `a` are the bytes of `flat`; a zero
    # lane in `d` means the module equals its right, lower and lower-right neighbours.
    stride = n + 1
    a = int.from_bytes(flat, "little")
    d = (a ^ (a >> 8)) | (a ^ (a >> (8 * stride))) | (a ^ (a >> (8 * (stride + 1))))
    lanes = d.to_bytes(len(flat), "little")
    n2 = 3 * (lanes.count(0, 1, 1 + (n - 1) * stride))
    # N3: 40 per finder-like pattern with a light area of four modules before or after it.
    n3 = 40 * (len(_N3.findall(flat)) + len(_N3.findall(flat_t)))
    # N4: 10 per full 5 % that the dark proportion deviates from 50 %.
    total = n * n
    n4 = 10 * (abs(flat.count(1) * 20 - total * 10) // total)
    return n1 + n2 + n3 + n4


def _segno_qr(text: str, mask: int | None = None, version: int | None = None) -> segno.QRCode:
    return segno.make_qr(
        text, error=ERROR_LEVEL, mode="alphanumeric", mask=mask, version=version, boost_error=False
    )


@lru_cache(maxsize=40)
def _mask_deltas(version: int) -> tuple[tuple[int, int], ...]:
    """For each mask k: symbol(k) XOR symbol(0) as flattened-row and flattened-column integers."""
    base = tuple(bytes(r) for r in _segno_qr("UC1:", 0, version).matrix)
    flat0, flat0_t = _flatten(base), _flatten(_transpose(base))
    deltas = []
    for k in range(8):
        rows = tuple(bytes(r) for r in _segno_qr("UC1:", k, version).matrix)
        flat, flat_t = _flatten(rows), _flatten(_transpose(rows))
        deltas.append((
            int.from_bytes(flat, "little") ^ int.from_bytes(flat0, "little"),
            int.from_bytes(flat_t, "little") ^ int.from_bytes(flat0_t, "little"),
        ))  # fmt: skip
    return tuple(deltas)


def _best_mask(rows0: tuple[bytes, ...], version: int) -> tuple[int, tuple[bytes, ...]]:
    """The mask with the lowest penalty (the lowest index on ties) and its symbol."""
    n = len(rows0)
    flat0, flat0_t = _flatten(rows0), _flatten(_transpose(rows0))
    a0, a0_t = int.from_bytes(flat0, "little"), int.from_bytes(flat0_t, "little")
    size = len(flat0)
    best: tuple[int, int, bytes] | None = None
    for k, (delta, delta_t) in enumerate(_mask_deltas(version)):
        flat = (a0 ^ delta).to_bytes(size, "little")
        flat_t = (a0_t ^ delta_t).to_bytes(size, "little")
        score = _penalty(flat, flat_t, n)
        if best is None or score < best[0]:
            best = (score, k, flat)
    assert best is not None
    _, mask, flat = best
    return mask, tuple(flat[1 + i * (n + 1) : 1 + i * (n + 1) + n] for i in range(n))


def make_qr(text: str) -> QrSymbol:
    """Encode a UC1 text as a QR symbol (M, smallest version, alphanumeric mode).

    Raises:
        QrError: the text is empty, leaves the alphanumeric alphabet, or exceeds version 40.
    """
    if not text:
        raise QrError("the text to encode is empty")
    bad = set(text) - ALPHANUMERIC
    if bad:
        shown = "".join(sorted(bad))[:10]
        raise QrError(f"characters outside the QR alphanumeric alphabet: {shown!r}")
    try:
        qr = _segno_qr(text, mask=0)
    except segno.DataOverflowError as e:
        raise QrError(f"{len(text)} characters do not fit a version 40-{ERROR_LEVEL} symbol") from e
    version = qr.version
    assert isinstance(version, int)
    mask, modules = _best_mask(tuple(bytes(row) for row in qr.matrix), version)
    return QrSymbol(text=text, version=version, mask=mask, modules=modules)
