"""PDFs of cards: one card at its physical size, and A4 print sheets of ten with crop marks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fpdf import FPDF
from PIL import Image

from cards.render import CARD_HEIGHT_MM, CARD_WIDTH_MM, CardFace, CardImages, render_card

__all__ = [
    "A4_MM",
    "CARDS_PER_SHEET",
    "SheetSlot",
    "card_pdf_from_images",
    "sheet_layout",
    "sheet_pdf",
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


def _new_pdf(title: str, page: tuple[float, float]) -> FPDF:
    pdf = FPDF(unit="mm", format=page)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title(title)
    pdf.set_creator("unioncard")
    pdf.set_lang("vi")
    return pdf


def _output(pdf: FPDF) -> bytes:
    return bytes(pdf.output())


def card_pdf_from_images(card: CardImages) -> bytes:
    """A two-page PDF (front, back), each page exactly 85.60 x 53.98 mm, images lossless."""
    pdf = _new_pdf("Thẻ đoàn viên", (CARD_WIDTH_MM, CARD_HEIGHT_MM))
    for side in (card.front, card.back):
        pdf.add_page()
        pdf.image(side, x=0, y=0, w=CARD_WIDTH_MM, h=CARD_HEIGHT_MM)
    return _output(pdf)


def _crop_marks(pdf: FPDF) -> None:
    """Hairline marks outside the grid, on every cut line (two per gutter)."""
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(MARK_WIDTH_MM)
    xs = sorted({s.x for s in sheet_layout()} | {s.x + CARD_WIDTH_MM for s in sheet_layout()})
    ys = sorted({s.y for s in sheet_layout()} | {s.y + CARD_HEIGHT_MM for s in sheet_layout()})
    top, bottom = ys[0], ys[-1]
    left, right = xs[0], xs[-1]
    for x in xs:
        pdf.line(x, top - MARK_OFFSET_MM - MARK_MM, x, top - MARK_OFFSET_MM)
        pdf.line(x, bottom + MARK_OFFSET_MM, x, bottom + MARK_OFFSET_MM + MARK_MM)
    for y in ys:
        pdf.line(left - MARK_OFFSET_MM - MARK_MM, y, left - MARK_OFFSET_MM, y)
        pdf.line(right + MARK_OFFSET_MM, y, right + MARK_OFFSET_MM + MARK_MM, y)


def _chunks(cards: Sequence[CardImages], size: int) -> Iterable[Sequence[CardImages]]:
    for start in range(0, len(cards), size):
        yield cards[start : start + size]


def sheet_pdf(cards: Iterable[CardFace | CardImages]) -> bytes:
    """A4 print sheets: per ten cards a page of fronts then a page of backs (duplex, long edge).

    Each card is placed at its exact physical size with 2 mm gutters and crop marks; the back
    page mirrors the columns so each back lands behind its front when printed double-sided.

    Raises:
        ValueError: no cards were given.
    """
    rendered = [c if isinstance(c, CardImages) else render_card(c) for c in cards]
    if not rendered:
        raise ValueError("a print sheet needs at least one card")
    pdf = _new_pdf("Thẻ đoàn viên — tờ in A4", A4_MM)
    for chunk in _chunks(rendered, CARDS_PER_SHEET):
        for back in (False, True):
            pdf.add_page()
            _crop_marks(pdf)
            for slot, card in zip(sheet_layout(back), chunk, strict=False):
                image: Image.Image = card.back if back else card.front
                pdf.image(image, x=slot.x, y=slot.y, w=CARD_WIDTH_MM, h=CARD_HEIGHT_MM)
    return _output(pdf)
