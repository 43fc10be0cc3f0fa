"""Activation letters as a PDF: one A4 page per member, in Vietnamese, with her one-time
activation code, the portal's activation address and a QR code to it (the project's DejaVu
faces, real text; the QR as filled rectangles). Framework-free like the rest of ``cards``."""

from __future__ import annotations

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


def _qr(pdf: FPDF, text: str, left: float, top: float, side: float) -> None:
    """A QR code (level M, byte mode for a URL) as dark rectangles in white quiet zone."""
    code = segno.make(text, error="m", boost_error=False)
    matrix = [bytes(row) for row in code.matrix]
    modules = len(matrix) + 8
    unit = side / modules
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(left, top, side, side, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(left + (start + 4) * unit, top + (r + 4) * unit,
                         (c - start) * unit, unit, style="F")
            else:
                c += 1


def _line(pdf: FPDF, text: str, size: float, *, bold: bool = False, gap: float = 2.0) -> None:
    pdf.set_font(_FAMILY, "B" if bold else "", size)
    pdf.multi_cell(A4_MM[0] - 2 * _MARGIN, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(gap)


def _letter(pdf: FPDF, letter: Letter) -> None:
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
    _qr(pdf, letter.portal_url, _MARGIN, top, _QR_MM)
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
        for letter in letters:
            _letter(pdf, letter)
        return bytes(pdf.output())
