"""The printed card as vector PDF: one card at its physical size, and A4 print sheets of ten.

The layout is `cards.printing.layout`'s, drawn as PDF paths and as real text in the embedded
DejaVu faces (subset), with the QR's dark modules as filled rectangles: no raster images.
This module imports only `cards`, fpdf2 and the standard library, so a process pool can run
`write_sheet` without loading the web app.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fpdf import FPDF
from PIL import ImageFont

from cards.printing import layout
from cards.printing.layout import CARD_HEIGHT_MM, CARD_WIDTH_MM, DPI, CardFace, Colour
from cards.qr import QUIET_ZONE, QrSymbol

__all__ = [
    "A4_MM",
    "CARDS_PER_SHEET",
    "PdfCanvas",
    "SheetFile",
    "SheetSlot",
    "card_pdf",
    "sheet_layout",
    "sheet_pdf",
    "write_atomically",
    "write_sheet",
]

A4_MM = (210.0, 297.0)
COLUMNS, ROWS = 2, 5
CARDS_PER_SHEET = COLUMNS * ROWS
#: White gutter between neighbouring cards, so a slightly-off cut never shows a neighbour.
GUTTER_MM = 2.0
#: Crop marks: a hairline this long, starting this far outside the grid.
MARK_MM, MARK_OFFSET_MM, MARK_WIDTH_MM = 4.0, 1.5, 0.1

_GRID_W = COLUMNS * CARD_WIDTH_MM + (COLUMNS - 1) * GUTTER_MM
_GRID_H = ROWS * CARD_HEIGHT_MM + (ROWS - 1) * GUTTER_MM
_LEFT = (A4_MM[0] - _GRID_W) / 2
_TOP = (A4_MM[1] - _GRID_H) / 2

_MM_PER_PX = 25.4 / DPI
_PT_PER_PX = 72 / DPI
_SHRINK = 0.02  # of a module, see PdfCanvas.qr
_FAMILY = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


class PdfCanvas:
    """A `layout.Canvas` on an fpdf2 page (unit mm), the card's top-left corner at (x, y)."""

    def __init__(self, pdf: FPDF, x: float, y: float) -> None:
        self._pdf = pdf
        self._x, self._y = x, y

    def _at(self, x: float, y: float) -> tuple[float, float]:
        return self._x + x * _MM_PER_PX, self._y + y * _MM_PER_PX

    def rect(self, box: tuple[float, float, float, float], fill: Colour) -> None:
        """Fill the rectangle (x0, y0, x1, y1), both corners inclusive as in Pillow."""
        x0, y0, x1, y1 = box
        self._pdf.set_fill_color(*fill)
        left, top = self._at(x0, y0)
        w, h = (x1 - x0 + 1) * _MM_PER_PX, (y1 - y0 + 1) * _MM_PER_PX
        self._pdf.rect(left, top, w, h, style="F")

    def polygon(self, points: list[tuple[float, float]], fill: Colour) -> None:
        """Fill a polygon."""
        self._pdf.set_fill_color(*fill)
        self._pdf.polygon([self._at(x, y) for x, y in points], style="F")

    def disc(self, cx: float, cy: float, r: float, fill: Colour) -> None:
        """Fill a circle."""
        self._pdf.set_fill_color(*fill)
        self._pdf.circle(*self._at(cx, cy), r * _MM_PER_PX, style="F")

    def ring(self, cx: float, cy: float, r: float, width: float, colour: Colour) -> None:
        """Stroke a circle of outer radius `r`, `width` px wide inwards."""
        self._pdf.set_draw_color(*colour)
        self._pdf.set_line_width(width * _MM_PER_PX)
        self._pdf.circle(*self._at(cx, cy), (r - width / 2) * _MM_PER_PX, style="D")

    def text(
        self, x: float, y: float, text: str, face: ImageFont.FreeTypeFont, fill: Colour,
        anchor: str = "ls",
    ) -> None:
        """Draw one line at baseline `y` as PDF text, exactly as wide as Pillow measures it."""
        style = "B" if face.getname()[1] == "Bold" else ""
        self._pdf.set_font(_FAMILY, style, face.size * _PT_PER_PX)
        self._pdf.set_text_color(*fill)
        width = face.getlength(text)
        if anchor[0] == "m":
            x -= width / 2
        elif anchor[0] == "r":
            x -= width
        # Pillow kerns, fpdf2 does not: scale each line to the width the layout measured.
        # get_string_width applies the current stretching; undo it.
        current = self._pdf.font_stretching / 100
        natural = self._pdf.get_string_width(text) / current / _MM_PER_PX
        stretch = 100 * width / natural if natural else 100.0
        self._pdf.set_stretching(round(stretch, 1))
        self._pdf.text(*self._at(x, y), text)

    def qr(self, symbol: QrSymbol, left: float, top: float, scale: int) -> None:
        """The quiet zone in white, then each horizontal run of dark modules as one rectangle."""
        margin = QUIET_ZONE * scale
        side = symbol.size * scale + 2 * margin
        self.rect((left - margin, top - margin, left - margin + side - 1,
                   top - margin + side - 1), layout.WHITE)
        # Each run of dark modules in a row is one rectangle, drawn _SHRINK of a module inside
        # its cells on every side: rasterisers that snap rectangles outwards to whole pixels
        # (pdfium at 150 dpi, where a module is 2.5 px) and ink spreading on paper both widen
        # dark modules, and a reader then misreads light ones. The gap left between stacked
        # dark modules is 0.017 mm, below one printer dot.
        self._pdf.set_fill_color(0, 0, 0)
        unit = scale * _MM_PER_PX
        for row, modules in enumerate(symbol.modules):
            for start, run in _dark_runs(modules):
                x, y = self._at(left + (start + _SHRINK) * scale, top + (row + _SHRINK) * scale)
                self._pdf.rect(x, y, (run - 2 * _SHRINK) * unit, (1 - 2 * _SHRINK) * unit,
                               style="F")


def _dark_runs(modules: bytes) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row or column."""
    start = None
    for i, dark in enumerate(modules):
        if dark and start is None:
            start = i
        elif not dark and start is not None:
            yield start, i - start
            start = None
    if start is not None:
        yield start, len(modules) - start


@contextmanager
def _document(title: str, page: tuple[float, float]) -> Iterator[FPDF]:
    """A new PDF with the DejaVu faces; their files are closed when the block ends.

    fontTools reads the faces lazily and keeps the files open until told otherwise.
    """
    pdf = FPDF(unit="mm", format=page)
    try:
        pdf.set_auto_page_break(False)
        pdf.set_margins(0, 0, 0)
        pdf.set_title(title)
        pdf.set_creator("unioncard")
        pdf.set_lang("vi")
        fonts = resources.files("cards").joinpath("fonts")
        for style, name in _FONT_FILES.items():
            pdf.add_font(_FAMILY, style, str(fonts.joinpath(name)))
        yield pdf
    finally:
        for face in pdf.fonts.values():
            ttfont = getattr(face, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def _draw_card(pdf: FPDF, x: float, y: float, face: CardFace, qr: QrSymbol, back: bool) -> None:
    """One side of a card with its top-left corner at (x, y) mm, clipped to the card."""
    canvas = PdfCanvas(pdf, x, y)
    # rect_clip's Q restores the PDF's colours but not fpdf2's record of them: local_context
    # restores both, or the next card's "unchanged" colours would never be set.
    with pdf.local_context(), pdf.rect_clip(x, y, CARD_WIDTH_MM, CARD_HEIGHT_MM):
        if back:
            layout.draw_back_static(canvas, layout.identity_height(face))
            layout.draw_back(canvas, face)
        else:
            layout.draw_front_static(canvas)
            layout.draw_front(canvas, face, qr)


def card_pdf(face: CardFace, qr: QrSymbol | None = None) -> bytes:
    """Front and back of a card as a two-page vector PDF, 85.60 x 53.98 mm per page.

    Raises:
        QrError: `face.qr_text` cannot be encoded.
        CardLayoutError: the QR symbol is too large for the card.
    """
    symbol = layout.check_qr(face, qr)
    with _document("Thẻ đoàn viên", (CARD_WIDTH_MM, CARD_HEIGHT_MM)) as pdf:
        for back in (False, True):
            pdf.add_page()
            _draw_card(pdf, 0, 0, face, symbol, back)
        return bytes(pdf.output())


@dataclass(frozen=True, slots=True)
class SheetSlot:
    """Where card `index` (0-9, row by row) of a sheet is printed, in mm from the top-left."""

    index: int
    x: float
    y: float


def sheet_layout(back: bool = False) -> tuple[SheetSlot, ...]:
    """The ten card positions on an A4 sheet; backs mirror the columns for long-edge duplex."""
    slots = []
    for index in range(CARDS_PER_SHEET):
        row, col = divmod(index, COLUMNS)
        if back:
            col = COLUMNS - 1 - col
        x = _LEFT + col * (CARD_WIDTH_MM + GUTTER_MM)
        y = _TOP + row * (CARD_HEIGHT_MM + GUTTER_MM)
        slots.append(SheetSlot(index, x, y))
    return tuple(slots)


def _crop_marks(pdf: FPDF) -> None:
    """Hairline marks outside the grid, on every cut line (two per gutter)."""
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(MARK_WIDTH_MM)
    slots = sheet_layout()
    xs = sorted({s.x for s in slots} | {s.x + CARD_WIDTH_MM for s in slots})
    ys = sorted({s.y for s in slots} | {s.y + CARD_HEIGHT_MM for s in slots})
    top, bottom = ys[0], ys[-1]
    left, right = xs[0], xs[-1]
    for x in xs:
        pdf.line(x, top - MARK_OFFSET_MM - MARK_MM, x, top - MARK_OFFSET_MM)
        pdf.line(x, bottom + MARK_OFFSET_MM, x, bottom + MARK_OFFSET_MM + MARK_MM)
    for y in ys:
        pdf.line(left - MARK_OFFSET_MM - MARK_MM, y, left - MARK_OFFSET_MM, y)
        pdf.line(right + MARK_OFFSET_MM, y, right + MARK_OFFSET_MM + MARK_MM, y)


def _pages(faces: Iterable[CardFace]) -> Iterator[list[tuple[CardFace, QrSymbol]]]:
    page: list[tuple[CardFace, QrSymbol]] = []
    for face in faces:
        page.append((face, layout.check_qr(face, None)))
        if len(page) == CARDS_PER_SHEET:
            yield page
            page = []
    if page:
        yield page


def sheet_pdf(faces: Iterable[CardFace]) -> bytes:
    """A4 print sheets: per ten cards a page of fronts then a page of backs (duplex, long edge).

    Each card is placed at its exact physical size with 2 mm gutters and crop marks; the back
    page mirrors the columns so each back lands behind its front when printed double-sided.

    Raises:
        ValueError: no cards were given.
        QrError, CardLayoutError: a card cannot be laid out.
    """
    with _document("Thẻ đoàn viên — tờ in A4", A4_MM) as pdf:
        for page in _pages(faces):
            for back in (False, True):
                pdf.add_page()
                _crop_marks(pdf)
                for slot, (face, qr) in zip(sheet_layout(back), page, strict=False):
                    _draw_card(pdf, slot.x, slot.y, face, qr, back)
        if not pdf.pages_count:
            raise ValueError("a print sheet needs at least one card")
        return bytes(pdf.output())


@dataclass(frozen=True)
class SheetFile:
    """A written print-sheet PDF."""

    path: str
    cards: int
    pages: int
    size: int


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
    """Lay out the cards and write their print sheet PDF to ``path`` atomically (pool task)."""
    data = sheet_pdf(faces)
    pages = 2 * -(-len(faces) // CARDS_PER_SHEET)
    write_atomically(Path(path), data)
    return SheetFile(path=path, cards=len(faces), pages=pages, size=len(data))
