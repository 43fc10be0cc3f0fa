"""Print sheets of a card batch: render cards to PNG and lay them on A4 pages (worker side).

This module imports only ``cards``, fpdf and the standard library, so a process pool can run it
without loading the web app. The layout is ``cards.sheet.sheet_pdf``'s (ten cards a page, fronts
then mirrored backs, crop marks); the difference is speed and memory: each side is encoded once
by ``cards.png`` (the card PNG) and its compressed pixel stream is placed in the PDF as it is,
instead of fpdf hashing and re-deflating 1.9 MB of pixels per side, and only one page of images
is held in memory at a time.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.image_datastructures import RasterImageInfo

from cards import sheet
from cards.qr import make_qr
from cards.render import CARD_HEIGHT_MM, CARD_WIDTH_MM, CardFace, render_card

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class SheetFile:
    """A written print-sheet PDF."""

    path: str
    cards: int
    pages: int
    size: int


def png_stream(png: bytes) -> tuple[int, int, bytes]:
    """(width, height, zlib stream of unfiltered rows) of an 8-bit RGB PNG from ``cards.png``.

    Raises:
        ValueError: not an 8-bit RGB, non-interlaced PNG.
    """
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG")
    pos, width, height, idat = len(_PNG_SIGNATURE), 0, 0, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
            if (depth, colour, interlace) != (8, 2, 0):
                raise ValueError("only 8-bit RGB non-interlaced PNGs are placed directly")
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
    if not width or not idat:
        raise ValueError("a PNG without IHDR or IDAT")
    return width, height, b"".join(idat)


def _place_png(pdf: FPDF, name: str, png: bytes, x: float, y: float) -> None:
    """Put a PNG on the page at card size, reusing its deflate stream (PNG predictor rows)."""
    width, height, stream = png_stream(png)
    info = RasterImageInfo({
        "data": stream, "w": width, "h": height, "cs": "DeviceRGB", "iccp": None,
        "bpc": 8, "dpn": 3, "f": "FlateDecode", "inverted": False,
        "dp": f"/Predictor 15 /Colors 3 /Columns {width}",
        "i": len(pdf.image_cache.images) + 1, "usages": 0, "iccp_i": None})
    pdf.image_cache.images[name] = info
    pdf.image(name, x=x, y=y, w=CARD_WIDTH_MM, h=CARD_HEIGHT_MM)


def card_pngs(face: CardFace) -> tuple[bytes, bytes]:
    """Front and back of a card as 300 dpi PNGs (the QR is made once from the face's text)."""
    images = render_card(face, make_qr(face.qr_text))
    return images.front_png(), images.back_png()


def _pages(faces: Iterable[CardFace]) -> Iterator[list[tuple[bytes, bytes]]]:
    page: list[tuple[bytes, bytes]] = []
    for face in faces:
        page.append(card_pngs(face))
        if len(page) == sheet.CARDS_PER_SHEET:
            yield page
            page = []
    if page:
        yield page


def sheet_pdf(faces: Iterable[CardFace]) -> tuple[bytes, int, int]:
    """A4 print sheets of the cards, as ``cards.sheet.sheet_pdf`` lays them; (PDF, cards, pages).

    Raises:
        ValueError: no cards were given.
    """
    pdf = sheet._new_pdf("Thẻ đoàn viên — tờ in A4", sheet.A4_MM)  # the same document setup
    count = serial = 0
    for page in _pages(faces):
        for back in (False, True):
            pdf.add_page()
            sheet._crop_marks(pdf)
            for slot, pngs in zip(sheet.sheet_layout(back), page, strict=False):
                serial += 1
                _place_png(pdf, f"card-side-{serial}", pngs[1] if back else pngs[0],
                           slot.x, slot.y)
        count += len(page)
    if not count:
        raise ValueError("a print sheet needs at least one card")
    return bytes(pdf.output()), count, pdf.pages_count


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file via a temporary sibling and a rename (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_sheet(path: str, faces: Sequence[CardFace]) -> SheetFile:
    """Render the cards and write their print sheet PDF to ``path`` atomically (pool task)."""
    data, count, pages = sheet_pdf(faces)
    write_atomically(Path(path), data)
    return SheetFile(path=path, cards=count, pages=pages, size=len(data))
