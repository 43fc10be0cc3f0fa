"""The printed card: its layout (once), 300-dpi PNG sides, and vector PDFs (card, A4 sheets)."""

from cards.printing.layout import (
    CARD_HEIGHT_MM,
    CARD_PX,
    CARD_WIDTH_MM,
    DPI,
    MIN_MODULE_PX,
    CardFace,
    CardLayoutError,
    card_texts,
    module_px,
)
from cards.printing.pdf import (
    A4_MM,
    CARDS_PER_SHEET,
    SheetFile,
    SheetSlot,
    card_pdf,
    sheet_layout,
    sheet_pdf,
    write_atomically,
    write_sheet,
)
from cards.printing.raster import CardImages, png_bytes, render_back, render_card, render_front

__all__ = [
    "A4_MM",
    "CARDS_PER_SHEET",
    "CARD_HEIGHT_MM",
    "CARD_PX",
    "CARD_WIDTH_MM",
    "DPI",
    "MIN_MODULE_PX",
    "CardFace",
    "CardImages",
    "CardLayoutError",
    "SheetFile",
    "SheetSlot",
    "card_pdf",
    "card_texts",
    "module_px",
    "png_bytes",
    "render_back",
    "render_card",
    "render_front",
    "sheet_layout",
    "sheet_pdf",
    "write_atomically",
    "write_sheet",
]
