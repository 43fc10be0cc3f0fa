"""The printed card's layout, defined once in 300-dpi pixels and drawn on any `Canvas`.

The PNG renderer draws it on pixels, the PDF writer as vector paths and text; both call the
same functions below, so the card looks the same on screen, in a PNG and on paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from PIL import ImageFont

from cards.qr import QrSymbol, make_qr
from cards.text import FittedText, Weight, fit_text, font, nfc

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_PX",
    "CARD_WIDTH_MM",
    "DPI",
    "MIN_MODULE_PX",
    "Canvas",
    "CardFace",
    "CardLayoutError",
    "Colour",
    "back_static_band",
    "card_texts",
    "check_qr",
    "draw_back",
    "draw_back_static",
    "draw_front",
    "draw_front_static",
    "identity_height",
    "module_px",
]

#: ISO/IEC 7810 ID-1 size.
CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98
DPI = 300
#: The card at 300 dpi, in pixels (85.60 mm = 1011 px, 53.98 mm = 637.6 px).
CARD_PX = (1011, 638)
#: Smallest QR module: 4 px at 300 dpi = 0.339 mm (phone cameras need >= 0.33 mm).
MIN_MODULE_PX = 4
_MAX_MODULE_PX = 5

W, H = CARD_PX
_MIN_TEXT = 30  # 7.2 pt, the smallest text on the card
_MARGIN = 44  # 3.7 mm safe zone from the trimmed edge

Colour = tuple[int, int, int]

# Colours: the deep blue and red of the labour movement, a near-black ink and a muted grey.
NAVY = (13, 47, 112)
RED = (196, 18, 48)
INK = (24, 28, 38)
MUTED = (92, 102, 120)
PALE = (236, 241, 249)
WHITE = (255, 255, 255)

# Front: header band, title, a text column on the left, the QR on the right.
_BAND = 104
_STRIPE = 8
_QR_BOX = 345  # largest visible QR side (modules x module size), px
_QR_TOP = _BAND + _STRIPE + 26  # below the stripe with room for the quiet zone
_QR_RIGHT = W - _MARGIN
_QR_GAP = 26  # between the text column and the QR's dark modules
_TEXT_BOTTOM = H - 30
_FOOT = 10

HEADER_TOP = "TỔNG LIÊN ĐOÀN LAO ĐỘNG VIỆT NAM"
HEADER_MAIN = "CÔNG ĐOÀN VIỆT NAM"
TITLE = "THẺ ĐOÀN VIÊN"
QR_CAPTION = ("Quét mã QR", "để xác thực thẻ")
LABELS = {
    "birth_date": "Ngày sinh",
    "sex": "Giới tính",
    "member_number": "Số thẻ",
    "union_name": "Công đoàn",
    "province_name": "Tỉnh/TP",
    "validity": "Hiệu lực",
    "emergency": "Y tế",
    "serial": "Số seri",
    "issuer_name": "Nơi cấp",
}
CLINIC_HEADING = "Dành cho cơ sở y tế"
CLINIC_NOTES = (
    "Quét mã QR ở mặt trước để xác thực thẻ. Mã được ký số, kiểm tra được cả khi không có mạng.",
    "Hồ sơ sức khỏe chỉ được xem khi đoàn viên đồng ý.",
)
LOST_HEADING = "Khi mất thẻ"
LOST_NOTES = (
    "Báo ngay cho công đoàn cơ sở để khóa thẻ và làm thủ tục cấp lại.",
    "Người nhặt được thẻ xin gửi lại công đoàn cơ sở nơi cấp.",
)
BACK_FOOTER = "Thẻ chỉ có giá trị với đoàn viên có tên ở mặt trước."


class Canvas(Protocol):
    """Where a card side is drawn, in pixels at 300 dpi from the card's top-left corner."""

    def rect(self, box: tuple[float, float, float, float], fill: Colour) -> None:
        """Fill the rectangle (x0, y0, x1, y1), both corners inclusive as in Pillow."""

    def polygon(self, points: list[tuple[float, float]], fill: Colour) -> None:
        """Fill a polygon."""

    def disc(self, cx: float, cy: float, r: float, fill: Colour) -> None:
        """Fill a circle."""

    def ring(self, cx: float, cy: float, r: float, width: float, colour: Colour) -> None:
        """Stroke a circle of outer radius `r`, `width` px wide inwards."""

    def text(
        self, x: float, y: float, text: str, face: ImageFont.FreeTypeFont, fill: Colour,
        anchor: str = "ls",
    ) -> None:
        """Draw one line at baseline `y`; anchor "ls", "ms" or "rs" (left, middle, right)."""

    def qr(self, symbol: QrSymbol, left: float, top: float, scale: int) -> None:
        """Draw the QR's dark modules from (left, top), `scale` px each, on a white quiet zone."""


class CardLayoutError(ValueError):
    """The card cannot be laid out (e.g. the QR symbol is too large for the card)."""


@dataclass(frozen=True, slots=True)
class CardFace:
    """Everything printed on a card, as plain values (dates as `date`, text in any Unicode form)."""

    name: str
    birth_date: date
    member_number: str
    union_name: str
    province_name: str
    valid_from: date
    valid_until: date
    serial: str
    issuer_name: str
    qr_text: str
    sex: str | None = None
    emergency: str | None = None


def _dmy(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def card_texts(face: CardFace) -> tuple[str, ...]:
    """Every string that the front and back of this card draw (for glyph-coverage checks)."""
    texts = [HEADER_TOP, HEADER_MAIN, TITLE, *QR_CAPTION, *LABELS.values()]
    texts += [CLINIC_HEADING, *CLINIC_NOTES, LOST_HEADING, *LOST_NOTES, BACK_FOOTER, "•", "…"]
    texts += [nfc(face.name).upper(), face.member_number, face.union_name, face.province_name]
    texts += [_dmy(face.birth_date), _validity(face), face.serial, face.issuer_name]
    texts += [t for t in (face.sex, face.emergency) if t]
    return tuple(nfc(t) for t in texts)


def _validity(face: CardFace) -> str:
    return f"{_dmy(face.valid_from)} – {_dmy(face.valid_until)}"


# ---------------------------------------------------------------------------------------------
# Static artwork: the same on every card (the PNG renderer draws it once and copies it).


def _emblem(canvas: Canvas, cx: int, cy: int, r: int) -> None:
    """An abstract mark (a white cogwheel around a red disc and a gold star); no real logo."""
    teeth = 12
    points = []
    for i in range(teeth * 4):
        # Each tooth: two points on the outer radius, then two in the gap between teeth.
        rad = r if i % 4 in (1, 2) else r * 0.84
        a = 2 * math.pi * (i - 0.5) / (teeth * 4)
        points.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    canvas.polygon(points, WHITE)
    inner = r * 0.66
    canvas.disc(cx, cy, inner, RED)
    outer, core = inner * 0.78, inner * 0.31
    star = []
    for i in range(10):
        rad = outer if i % 2 == 0 else core
        a = -math.pi / 2 + i * math.pi / 5
        star.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    canvas.polygon(star, (255, 214, 0))


def _guilloche(canvas: Canvas, cx: int, cy: int, top: int) -> None:
    """Faint concentric arcs as a background security pattern."""
    for r in range(60, 900, 18):
        canvas.ring(cx, cy, r, 2, PALE)
    canvas.rect((0, 0, W, top), WHITE)


def draw_front_static(canvas: Canvas) -> None:
    """The front's artwork that every card shares: bands, emblem, header, background."""
    _guilloche(canvas, -120, H + 160, _BAND)
    canvas.rect((0, 0, W, _BAND), NAVY)
    canvas.rect((0, _BAND, W, _BAND + _STRIPE), RED)
    canvas.rect((0, H - _FOOT, W, H), NAVY)
    _emblem(canvas, _MARGIN + 38, _BAND // 2, 38)
    x = _MARGIN + 96
    canvas.text(x, 44, HEADER_TOP, font(_MIN_TEXT), (198, 214, 240))
    canvas.text(x, 88, HEADER_MAIN, font(42, "bold"), WHITE)


# ---------------------------------------------------------------------------------------------
# Text layout helpers.


def _draw_lines(canvas: Canvas, x: float, top: float, fitted: FittedText, fill: Colour) -> float:
    """Draw fitted lines from `top`; return the y just below the last line."""
    ascent, _ = fitted.face.getmetrics()
    y = top + ascent
    for line in fitted.lines:
        canvas.text(x, y, line, fitted.face, fill)
        y += fitted.line_height
    return top + fitted.height


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    value: str
    weight: Weight = "regular"
    max_lines: int = 1
    fill: Colour = INK
    aside: tuple[str, str] | None = None  # a second label and value on the same line


def _front_rows(face: CardFace, split_sex: bool) -> list[_Row]:
    birth = _dmy(face.birth_date)
    rows = [_Row(LABELS["birth_date"], birth)]
    if face.sex and split_sex:
        rows.append(_Row(LABELS["sex"], face.sex))
    elif face.sex:
        rows[0] = _Row(LABELS["birth_date"], birth, aside=(LABELS["sex"], face.sex))
    rows += [
        _Row(LABELS["member_number"], face.member_number, "bold", fill=NAVY),
        _Row(LABELS["union_name"], face.union_name, max_lines=2),
        _Row(LABELS["province_name"], face.province_name),
        _Row(LABELS["validity"], _validity(face)),
    ]
    return rows


@dataclass(frozen=True, slots=True)
class _Level:
    """One step of the shrink ladder tried until the front's text column fits."""

    name_sizes: tuple[int, ...]
    name_lines: int
    value_size: int
    row_gap: int
    wrap_lines: int  # cap on lines for multi-line rows


_LEVELS = (
    _Level((44, 42, 40, 38, 36), 1, 34, 6, 2),
    _Level((44, 42, 40, 38, 36, 34), 2, 32, 4, 2),
    _Level((36, 34, 32, 30), 2, _MIN_TEXT, 2, 2),
    _Level((36, 34, 32, 30), 2, _MIN_TEXT, 2, 1),  # the name keeps two lines longest
    _Level((36, 34, 32, 30), 1, _MIN_TEXT, 2, 1),
)
_ASIDE_GAP = 36


@dataclass(frozen=True, slots=True)
class _FrontPlan:
    name: FittedText
    label_w: float
    rows: tuple[tuple[_Row, FittedText], ...]
    emergency: FittedText | None
    row_gap: int
    height: int


def _plan_front(face: CardFace, level: _Level, right: int) -> _FrontPlan:
    """Fit the front's text column (from the margin to `right`) at one shrink level."""
    col = right - _MARGIN
    name = fit_text(nfc(face.name).upper(), level.name_sizes, col, level.name_lines, "bold")
    label_face = font(_MIN_TEXT)
    sizes = tuple(range(level.value_size, _MIN_TEXT - 1, -2))
    for split_sex in (False, True):
        rows = _front_rows(face, split_sex)
        label_w = max(label_face.getlength(r.label) for r in rows) + 18
        fitted_rows: list[tuple[_Row, FittedText]] = []
        height = name.height + 10
        fits = True
        for row in rows:
            lines = min(row.max_lines, level.wrap_lines)
            fitted = fit_text(row.value, sizes, col - label_w, lines, row.weight)
            if row.aside is not None:
                aside_w = label_face.getlength(f"{row.aside[0]} ") + fitted.face.getlength(
                    nfc(row.aside[1])
                )
                used = fitted.face.getlength(fitted.lines[0])
                fits = used + _ASIDE_GAP + aside_w <= col - label_w and not fitted.truncated
            fitted_rows.append((row, fitted))
            height += fitted.height + level.row_gap
        if fits:
            break
    emergency = None
    if face.emergency:
        text = f"{LABELS['emergency']}: {face.emergency}"
        emergency = fit_text(text, (_MIN_TEXT,), col - 30, 2, "bold")
        height += emergency.height + 22
    return _FrontPlan(name, label_w, tuple(fitted_rows), emergency, level.row_gap, height)


def check_qr(face: CardFace, qr: QrSymbol | None) -> QrSymbol:
    """The face's QR symbol: `qr` if it encodes `face.qr_text`, else a new one.

    Raises:
        QrError: `face.qr_text` cannot be encoded.
        ValueError: `qr` encodes another text.
    """
    if qr is None:
        return make_qr(face.qr_text)
    if qr.text != face.qr_text:
        raise ValueError("the QR symbol does not encode this card's qr_text")
    return qr


def module_px(qr: QrSymbol) -> int:
    """Pixels per module on the card: the largest integer (at most 5) that fits the QR box.

    Raises:
        CardLayoutError: even 4 px per module does not fit (the text is too long for a card).
    """
    scale = min(_MAX_MODULE_PX, _QR_BOX // qr.size)
    if scale < MIN_MODULE_PX:
        raise CardLayoutError(
            f"a version {qr.version} QR needs {qr.size * MIN_MODULE_PX} px at "
            f"{MIN_MODULE_PX} px per module; the card has room for {_QR_BOX} px"
        )
    return scale


def draw_front(canvas: Canvas, face: CardFace, qr: QrSymbol) -> None:
    """The front's own content over `draw_front_static`: QR, title, name and rows.

    Raises:
        CardLayoutError: the QR symbol is too large for the card.
    """
    scale = module_px(qr)

    # QR, top-right: the dark modules align with the right margin, the quiet zone is white.
    visible = qr.size * scale
    qr_left = _QR_RIGHT - visible
    canvas.qr(qr, qr_left, _QR_TOP, scale)
    caption = font(_MIN_TEXT)
    caption_y = _QR_TOP + visible + 48
    for line in QR_CAPTION:
        canvas.text(qr_left + visible / 2, caption_y, line, caption, MUTED, anchor="ms")
        caption_y += 36

    # Title, then the text column, shrinking step by step until it fits.
    canvas.text(_MARGIN, 176, TITLE, font(50, "bold"), RED)
    right = qr_left - _QR_GAP
    top = 196
    for level in _LEVELS:
        plan = _plan_front(face, level, right)
        if top + plan.height <= _TEXT_BOTTOM:
            break
    y = _draw_lines(canvas, _MARGIN, top, plan.name, NAVY) + 10
    label_face = font(_MIN_TEXT)
    for row, fitted in plan.rows:
        ascent, _ = fitted.face.getmetrics()
        baseline = y + ascent
        canvas.text(_MARGIN, baseline, row.label, label_face, MUTED)
        x = _MARGIN + plan.label_w
        end = _draw_lines(canvas, x, y, fitted, row.fill)
        if row.aside is not None:
            x += fitted.face.getlength(fitted.lines[0]) + _ASIDE_GAP
            label = f"{row.aside[0]} "
            canvas.text(x, baseline, label, label_face, MUTED)
            x += label_face.getlength(label)
            canvas.text(x, baseline, nfc(row.aside[1]), fitted.face, row.fill)
        y = end + plan.row_gap
    if plan.emergency is not None:
        box_top = y + 8
        box_bottom = box_top + plan.emergency.height + 12
        canvas.rect((_MARGIN, box_top, right, box_bottom), (253, 236, 238))
        canvas.rect((_MARGIN, box_top, _MARGIN + 8, box_bottom), RED)
        _draw_lines(canvas, _MARGIN + 22, box_top + 6, plan.emergency, (150, 10, 30))


_BACK_TOP = 104
_BACK_LABEL_W = 18 + max(font(_MIN_TEXT).getlength(LABELS[k]) for k in ("serial", "issuer_name"))


def _back_identity(face: CardFace) -> tuple[FittedText, FittedText]:
    col = W - 2 * _MARGIN - _BACK_LABEL_W
    serial = fit_text(face.serial, (32, _MIN_TEXT), col, 1, "bold")
    issuer = fit_text(face.issuer_name, (32, _MIN_TEXT), col, 2)
    return serial, issuer


def identity_height(face: CardFace) -> int:
    """Height in px of the back's serial and issuer rows (the notes start below them)."""
    serial, issuer = _back_identity(face)
    return serial.height + issuer.height + 8


def back_static_band(height: int) -> tuple[int, int]:
    """Rows [top, bottom) of the back that hold the serial and issuer; all others are static."""
    # 12 px of slack above and below the band: glyphs may overhang their line box.
    return _BACK_TOP - 12, min(H, _BACK_TOP + height + 12)


def draw_back_static(canvas: Canvas, height: int) -> None:
    """The back without serial and issuer; the notes start below `height` px of those rows."""
    _guilloche(canvas, W + 120, H + 160, 80)
    canvas.rect((0, 0, W, 80), NAVY)
    canvas.rect((0, 80, W, 80 + _STRIPE), RED)
    canvas.rect((0, H - _FOOT, W, H), NAVY)
    canvas.text(_MARGIN, 54, TITLE, font(36, "bold"), WHITE)
    canvas.text(W - _MARGIN, 54, HEADER_MAIN, font(_MIN_TEXT), (198, 214, 240), anchor="rs")
    col = W - 2 * _MARGIN
    bullet = font(_MIN_TEXT)
    indent = 30
    y = float(_BACK_TOP + height + 12)
    for heading, notes, colour in (
        (CLINIC_HEADING, CLINIC_NOTES, NAVY),
        (LOST_HEADING, LOST_NOTES, RED),
    ):
        y = _draw_lines(canvas, _MARGIN, y, fit_text(heading, (32,), col, 1, "bold"), colour) + 2
        for note in notes:
            ascent, _ = bullet.getmetrics()
            canvas.text(_MARGIN + 6, y + ascent, "•", bullet, colour)
            fitted = fit_text(note, (_MIN_TEXT,), col - indent, 2)
            y = _draw_lines(canvas, _MARGIN + indent, y, fitted, INK)
        y += 10
    canvas.text(W / 2, H - _FOOT - 18, BACK_FOOTER, font(_MIN_TEXT), MUTED, anchor="ms")


def draw_back(canvas: Canvas, face: CardFace) -> None:
    """The back's own content over `draw_back_static(canvas, identity_height(face))`."""
    serial, issuer = _back_identity(face)
    label_face = font(_MIN_TEXT)
    y: float = _BACK_TOP
    for key, fitted in (("serial", serial), ("issuer_name", issuer)):
        ascent, _ = fitted.face.getmetrics()
        canvas.text(_MARGIN, y + ascent, LABELS[key], label_face, MUTED)
        y = _draw_lines(canvas, _MARGIN + _BACK_LABEL_W, y, fitted, INK) + 4
