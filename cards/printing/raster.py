"""The printed card as 300-dpi images and PNGs: the layout drawn on pixels with Pillow."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from cards.printing import layout
from cards.printing.layout import CARD_PX, DPI, CardFace, Colour
from cards.printing.pdf import card_pdf
from cards.printing.png import StaticRows, encode_png, static_rows
from cards.qr import QUIET_ZONE, QrSymbol

__all__ = ["CardImages", "PixelCanvas", "png_bytes", "render_back", "render_card", "render_front"]


class PixelCanvas:
    """A `layout.Canvas` on a Pillow RGB image, one pixel per layout unit."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self._draw = ImageDraw.Draw(image)

    def rect(self, box: tuple[float, float, float, float], fill: Colour) -> None:
        """Fill the rectangle (x0, y0, x1, y1), both corners inclusive."""
        self._draw.rectangle(box, fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill: Colour) -> None:
        """Fill a polygon."""
        self._draw.polygon(points, fill=fill)

    def disc(self, cx: float, cy: float, r: float, fill: Colour) -> None:
        """Fill a circle."""
        self._draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)

    def ring(self, cx: float, cy: float, r: float, width: float, colour: Colour) -> None:
        """Stroke a circle of outer radius `r`, `width` px wide inwards."""
        self._draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=round(width))

    def text(
        self, x: float, y: float, text: str, face: ImageFont.FreeTypeFont, fill: Colour,
        anchor: str = "ls",
    ) -> None:
        """Draw one line at baseline `y`."""
        self._draw.text((x, y), text, font=face, fill=fill, anchor=anchor)

    def qr(self, symbol: QrSymbol, left: float, top: float, scale: int) -> None:
        """Paste the symbol pixel-exact, quiet zone included."""
        margin = QUIET_ZONE * scale
        self.image.paste(symbol.image(scale), (round(left) - margin, round(top) - margin))


def _blank() -> PixelCanvas:
    return PixelCanvas(Image.new("RGB", CARD_PX, layout.WHITE))


@lru_cache(maxsize=1)
def _front_template() -> Image.Image:
    canvas = _blank()
    layout.draw_front_static(canvas)
    return canvas.image


@lru_cache(maxsize=4)
def _back_template(height: int) -> Image.Image:
    canvas = _blank()
    layout.draw_back_static(canvas, height)
    return canvas.image


@lru_cache(maxsize=4)
def _back_static_rows(height: int) -> StaticRows:
    top, bottom = layout.back_static_band(height)
    return static_rows(_back_template(height), top, bottom)


def render_front(face: CardFace, qr: QrSymbol | None = None) -> Image.Image:
    """The front of the card, 1011 x 638 px RGB at 300 dpi, QR drawn pixel-exact.

    Pass `qr` (from `make_qr(face.qr_text)`) to avoid encoding the QR twice.

    Raises:
        QrError: `face.qr_text` cannot be encoded.
        CardLayoutError: the QR symbol is too large for the card.
    """
    symbol = layout.check_qr(face, qr)
    canvas = PixelCanvas(_front_template().copy())
    layout.draw_front(canvas, face, symbol)
    return canvas.image


def _render_back(face: CardFace) -> tuple[Image.Image, StaticRows]:
    """The back, and the template rows it shares (all but the serial and issuer band)."""
    height = layout.identity_height(face)
    canvas = PixelCanvas(_back_template(height).copy())
    layout.draw_back(canvas, face)
    return canvas.image, _back_static_rows(height)


def render_back(face: CardFace) -> Image.Image:
    """The back of the card: serial, issuer, notes for clinics and for a lost card."""
    return _render_back(face)[0]


def png_bytes(image: Image.Image) -> bytes:
    """Encode a rendered side as PNG, tagged 300 dpi."""
    return encode_png(image, DPI)


@dataclass(frozen=True, slots=True)
class CardImages:
    """Both rendered sides of one card (treat the images as read-only), and what they show."""

    face: CardFace
    qr: QrSymbol
    front: Image.Image
    back: Image.Image
    back_static: StaticRows | None = None  # rows `back` shares with its template

    def front_png(self) -> bytes:
        """The front as a 300 dpi PNG."""
        return png_bytes(self.front)

    def back_png(self) -> bytes:
        """The back as a 300 dpi PNG."""
        return encode_png(self.back, DPI, self.back_static)

    def pdf(self) -> bytes:
        """Front and back as a two-page vector PDF at the physical ID-1 size."""
        return card_pdf(self.face, self.qr)


def render_card(face: CardFace, qr: QrSymbol | None = None) -> CardImages:
    """Render both sides of a card.

    Raises:
        QrError: `face.qr_text` cannot be encoded.
        CardLayoutError: the QR symbol is too large for the card.
    """
    symbol = layout.check_qr(face, qr)
    back, back_static = _render_back(face)
    return CardImages(face, symbol, render_front(face, symbol), back, back_static)
