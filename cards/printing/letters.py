"""Activation letters as a PDF: one A4 page per member, in Vietnamese, with her one-time
activation code, the portal's activation address and a QR code to it (the project's DejaVu
faces, real text; the QR code as one image the pages share). Framework-free like the rest of ``cards``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import segno
from fpdf import FPDF

from cards.printing.pdf import A4_MM, _document

__all__ = ["Letter", "letters_pdf"]

_FAMILY = "DejaVu"
_MARGIN = 20.0
_QR_MM = 40.0


@dataclass(frozen=True, slots=True)
class Letter:
    """One member's activation letter."""

    full_name: str
    member_number: str
    union_name: str
    card_serial: str
    activation_code: str
    #: The portal's activation page, absolute (the QR code points there).
    portal_url: str
    #: The last day the code works, when known.
    valid_until: date | None = None


def _qr_png(text: str) -> bytes:
    """A QR code (level M, byte mode for a URL) as a 1-bit PNG with its quiet zone: the same
    for every letter of a document, so the PDF embeds it once."""
    out = io.BytesIO()
    segno.make(text, error="m", boost_error=False).save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def _line(pdf: FPDF, text: str, size: float, *, bold: bool = False, gap: float = 2.0) -> None:
    pdf.set_font(_FAMILY, "B" if bold else "", size)
    width = A4_MM[0] - 2 * _MARGIN
    if pdf.get_string_width(text) <= width:  # one line: no line breaking to work out
        pdf.cell(width, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(width, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(gap)


def _letter(pdf: FPDF, letter: Letter, qr: bytes) -> None:
    pdf.add_page()
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_xy(_MARGIN, _MARGIN)
    pdf.set_text_color(0, 0, 0)
    _line(pdf, "CÔNG ĐOÀN VIỆT NAM — THẺ ĐOÀN VIÊN", 10, gap=6)
    _line(pdf, "Thư kích hoạt tài khoản đoàn viên", 18, bold=True, gap=6)
    _line(pdf, f"Kính gửi: {letter.full_name}", 12, bold=True)
    _line(pdf, f"Số đoàn viên: {letter.member_number}", 12)
    _line(pdf, f"Công đoàn cơ sở: {letter.union_name}", 12)
    _line(pdf, f"Số thẻ: {letter.card_serial}", 12, gap=6)
    _line(pdf, "Mã kích hoạt của bạn (chỉ dùng một lần):", 12)
    _line(pdf, letter.activation_code, 22, bold=True, gap=2)
    if letter.valid_until is not None:
        _line(pdf, f"Mã có hiệu lực đến hết ngày {letter.valid_until:%d/%m/%Y}.", 11)
    pdf.ln(4)
    _line(pdf, "Cách kích hoạt tài khoản:", 12, bold=True)
    _line(pdf, f"1. Mở trang {letter.portal_url} hoặc quét mã QR dưới đây bằng điện thoại.", 11)
    _line(pdf, "2. Nhập số đoàn viên, mã kích hoạt và ngày sinh của bạn.", 11)
    _line(pdf, "3. Đặt mật khẩu (ít nhất 12 ký tự) và mã PIN 6 chữ số.", 11, gap=4)
    top = pdf.get_y() + 2
    pdf.image(io.BytesIO(qr), x=_MARGIN, y=top, w=_QR_MM, h=_QR_MM)
    pdf.set_xy(_MARGIN, top + _QR_MM + 4)
    _line(pdf, "Giữ kín mã kích hoạt; cán bộ công đoàn và cơ sở y tế không bao giờ hỏi mã này. "
               "Nếu mất mã hoặc quên mật khẩu hay mã PIN, hãy liên hệ công đoàn để nhận mã "
               "kích hoạt mới; thẻ của bạn vẫn dùng được.", 10)


def letters_pdf(letters: Sequence[Letter]) -> bytes:
    """The letters, one A4 page each, in the order given.

    Raises:
        ValueError: no letters.
    """
    if not letters:
        raise ValueError("no activation letters to print")
    with _document("Thư kích hoạt tài khoản đoàn viên", A4_MM) as pdf:
        codes: dict[str, bytes] = {}
        for letter in letters:
            if letter.portal_url not in codes:
                codes[letter.portal_url] = _qr_png(letter.portal_url)
            _letter(pdf, letter, codes[letter.portal_url])
        return bytes(pdf.output())
