"""QR symbols for UC1 texts: error correction M, smallest version, alphanumeric mode."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from PIL import Image

__all__ = [
    "ALPHANUMERIC",
    "ERROR_LEVEL",
    "QUIET_ZONE",
    "QrError",
    "QrSymbol",
    "make_qr",
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
        qr = segno.make_qr(text, error=ERROR_LEVEL, mode="alphanumeric", boost_error=False)
    except segno.DataOverflowError as e:
        raise QrError(f"{len(text)} characters do not fit a version 40-{ERROR_LEVEL} symbol") from e
    version = qr.version
    assert isinstance(version, int)
    return QrSymbol(
        text=text, version=version, mask=qr.mask, modules=tuple(bytes(row) for row in qr.matrix)
    )
