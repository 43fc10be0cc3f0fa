"""Benchmark card issuance output on one core: QR generation, card PNGs, print sheets, QR versions.

Run: `.venv/bin/python scripts/bench/cards_render.py [--seconds 2]`.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import qrcode  # noqa: E402
import segno  # noqa: E402
from PIL import Image  # noqa: E402

from cards.printing import (  # noqa: E402
    CardFace,
    png_bytes,
    render_back,
    render_card,
    render_front,
    sheet_pdf,
)
from cards.qr import make_qr  # noqa: E402
from cards.testing import random_uc1_text, reference_face  # noqa: E402


def uc1_text(length: int) -> str:
    """A random text over the base45 alphabet, `UC1:` prefixed, `length` characters long."""
    return random_uc1_text(length, seed=length)


def face(text: str) -> CardFace:
    """A realistic card with the given QR text."""
    return reference_face(text)  # type: ignore[no-any-return]


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, after one warm-up call."""
    fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def issue(text: str) -> None:
    """What issuance produces: qr.png, card front PNG and card back PNG."""
    qr = make_qr(text)
    qr.png()
    card = render_card(face(text), qr)
    card.front_png()
    card.back_png()


def pillow_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(300, 300))
    return buf.getvalue()


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    seconds = parser.parse_args().seconds
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    t300, t360 = uc1_text(300), uc1_text(360)
    card = face(t300)
    qr = make_qr(t300)
    front = render_front(card, qr)
    back = render_card(card, qr)

    def qrcode_make() -> None:
        q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        q.add_data(t300)
        q.make(fit=True)

    batch = [face(random_uc1_text(300, seed=n)) for n in range(100)]  # a batch's sheet file

    rows = [
        ("issuance: QR PNG + front PNG + back PNG", rate(lambda: issue(t300), seconds), "cards/s"),
        ("QR: cards.qr.make_qr (segno + fast masks)", rate(lambda: make_qr(t300), seconds), "/s"),
        ("QR: segno.make_qr (own mask evaluation)", rate(
            lambda: segno.make_qr(t300, error="m", boost_error=False), seconds), "/s"),
        ("QR: qrcode.QRCode.make(fit=True)", rate(qrcode_make, seconds), "/s"),
        ("QR PNG (5 px/module)", rate(lambda: qr.png(scale=5), seconds), "/s"),
        ("render_front (no encode)", rate(lambda: render_front(card, qr), seconds), "/s"),
        ("render_back (no encode)", rate(lambda: render_back(card), seconds), "/s"),
        ("card side PNG (cards.printing.png)", rate(lambda: png_bytes(front), seconds), "/s"),
        ("card back PNG (static rows reused)", rate(back.back_png, seconds), "/s"),
        ("card side PNG (Pillow, for comparison)", rate(lambda: pillow_png(front), seconds), "/s"),
        ("print sheet PDF, 100 cards (A4, vector)", len(batch) * rate(
            lambda: sheet_pdf(batch), seconds), "cards/s"),
    ]
    print(f"{'measurement (one core, 300-char UC1)':46} {'rate':>10}")
    for label, value, unit in rows:
        print(f"{label:46} {value:10.1f} {unit}")
    print(f"{'QR version, 300 characters (M)':46} {make_qr(t300).version:10d}")
    print(f"{'QR version, 360 characters (M)':46} {make_qr(t360).version:10d}")
    print(f"{'card side PNG size (cards.printing.png)':46} {len(png_bytes(front)) // 1024:10d} KiB")
    per_card = len(sheet_pdf(batch)) / len(batch) / 1024
    print(f"{'print sheet PDF size per card (100-card file)':46} {per_card:10.1f} KiB")


if __name__ == "__main__":
    main()
