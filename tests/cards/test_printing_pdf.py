"""Tests for cards.printing's PDFs, read back as a printer would: rasterised and as text."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageStat

from cards.printing import (
    A4_MM,
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    CARDS_PER_SHEET,
    CardFace,
    card_pdf,
    render_card,
    sheet_layout,
    sheet_pdf,
    write_sheet,
)
from cards.printing.layout import CLINIC_HEADING, TITLE
from cards.testing import random_uc1_text, reference_face
from cards.text import nfc

_PT = 72 / 25.4


def faces(count: int) -> list[CardFace]:
    """Cards with different QR texts, up to 696 characters (version 17: 4 px per module)."""
    return [
        reference_face(random_uc1_text(300 + 36 * (i % 12), seed=i), serial=f"UC1-27-{i:06d}")
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def sheet() -> tuple[list[CardFace], pdfium.PdfDocument]:
    cards = faces(CARDS_PER_SHEET + 2)  # a full page pair and a partial one
    return cards, pdfium.PdfDocument(sheet_pdf(cards))


def card_crop(page: Image.Image, x_mm: float, y_mm: float, dpi: int) -> Image.Image:
    k = dpi / 25.4
    box = (x_mm * k, y_mm * k, (x_mm + CARD_WIDTH_MM) * k, (y_mm + CARD_HEIGHT_MM) * k)
    return page.crop(tuple(round(v) for v in box))


@pytest.mark.parametrize("dpi", [300, 150])
def test_every_qr_on_the_sheet_decodes_to_its_card_text(
    sheet: tuple[list[CardFace], pdfium.PdfDocument], dpi: int
) -> None:
    cards, pdf = sheet
    assert len(pdf) == 4
    for number in range(0, len(pdf), 2):
        page = pdf[number].render(scale=dpi / 72).to_pil().convert("L")
        on_page = cards[number // 2 * CARDS_PER_SHEET :][:CARDS_PER_SHEET]
        for slot, face in zip(sheet_layout(), on_page, strict=False):
            results = zxingcpp.read_barcodes(card_crop(page, slot.x, slot.y, dpi))
            assert [r.text for r in results] == [face.qr_text], f"card {slot.index} at {dpi}"
        # And nothing but these QRs on the whole page.
        found = sorted(r.text for r in zxingcpp.read_barcodes(page))
        assert found == sorted(f.qr_text for f in on_page)
    back = pdf[1].render(scale=150 / 72).to_pil().convert("L")
    assert zxingcpp.read_barcodes(back) == []


def test_sheet_text_is_real_text_and_backs_are_mirrored(
    sheet: tuple[list[CardFace], pdfium.PdfDocument],
) -> None:
    cards, pdf = sheet
    for back in (False, True):
        text_page = pdf[1 if back else 0].get_textpage()
        for slot, face in zip(sheet_layout(back), cards, strict=False):
            # pdfium's rectangles are in points from the bottom-left corner.
            left, right = slot.x * _PT, (slot.x + CARD_WIDTH_MM) * _PT
            top = (A4_MM[1] - slot.y) * _PT
            bottom = top - CARD_HEIGHT_MM * _PT
            text = text_page.get_text_bounded(left, bottom, right, top)
            expected = face.serial if back else nfc(face.name).upper()
            assert expected in text, (back, slot.index, text)


def test_card_pdf_text_keeps_the_vietnamese_letters() -> None:
    face = reference_face(name="Nguye\u0302\u0303n Thi\u0323 Kim Ye\u0302\u0301n")  # decomposed
    pdf = pdfium.PdfDocument(card_pdf(face))
    front = pdf[0].get_textpage().get_text_range()
    back = pdf[1].get_textpage().get_text_range()
    for expected in ("NGUYỄN THỊ KIM YẾN", TITLE, "Hiệu lực", "01/01/2025 – 31/12/2029"):
        assert expected in front
    for expected in (CLINIC_HEADING, face.serial, "Số seri"):
        assert expected in back


@pytest.mark.parametrize("side", [0, 1])
def test_card_pdf_looks_like_the_png_side(side: int) -> None:
    # One layout for both: the PDF rasterised at 300 dpi differs from the PNG only by
    # anti-aliasing (glyph edges, circle strokes), not by anything being elsewhere.
    card = render_card(reference_face())
    png = Image.open(io.BytesIO(card.back_png() if side else card.front_png())).convert("L")
    page = pdfium.PdfDocument(card.pdf())[side].render(scale=300 / 72).to_pil().convert("L")
    page = page.crop((0, 0, *png.size))  # 85.60 mm is 1011.02 px: pdfium rounds up
    assert ImageStat.Stat(ImageChops.difference(png, page)).mean[0] < 10
    # Shrunk to a tenth, edge pixels average out; a misplaced text or shape would not.
    coarse = ImageChops.difference(png.resize((101, 64)), page.resize((101, 64)))
    assert coarse.getextrema()[1] < 60


def test_a_sheet_is_at_most_40_kb_a_card(tmp_path: Path) -> None:
    cards = faces(20)
    written = write_sheet(str(tmp_path / "sheet.pdf"), cards)
    assert (written.cards, written.pages) == (20, 4)
    assert written.size == (tmp_path / "sheet.pdf").stat().st_size
    assert written.size / len(cards) < 40_000  # the raster sheets were ~200 KB a card
    assert b"/Subtype /Image" not in (tmp_path / "sheet.pdf").read_bytes()
