"""Tests for cards.qr: version, error level, mode, mask choice, PNG and SVG output."""

from __future__ import annotations

import io
import random
import re
import xml.etree.ElementTree as ET

import pytest
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cards.qr import ALPHANUMERIC, QUIET_ZONE, QrError, QrSymbol, make_qr, penalty

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def uc1_text(length: int, seed: int = 1) -> str:
    """A random UC1-looking text of exactly `length` characters."""
    rng = random.Random(seed)
    return "UC1:" + "".join(rng.choice(BASE45) for _ in range(length - 4))


uc1_texts = st.text(alphabet=BASE45, min_size=0, max_size=500).map(lambda s: "UC1:" + s)


def segno_symbol(text: str, mask: int) -> tuple[bytes, ...]:
    qr = segno.make_qr(text, error="m", mode="alphanumeric", mask=mask, boost_error=False)
    return tuple(bytes(row) for row in qr.matrix)


def decode(image: Image.Image) -> zxingcpp.Barcode:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, "expected exactly one QR code"
    return results[0]


def test_alphabet_is_base45() -> None:
    assert ALPHANUMERIC == frozenset(BASE45)


@pytest.mark.parametrize(("length", "version"), [(300, 10), (311, 10), (312, 11), (360, 11)])
def test_smallest_version_at_level_m_in_alphanumeric_mode(length: int, version: int) -> None:
    # v10-M holds 311 alphanumeric characters (ISO/IEC 18004 Table 7) but only 213 bytes, so
    # these versions also prove alphanumeric mode.
    qr = make_qr(uc1_text(length))
    assert qr.version == version
    assert qr.size == 17 + 4 * version
    assert qr.error == "M"


@pytest.mark.parametrize("length", [300, 360])
def test_independent_decoder_reads_text_version_level_and_mask(length: int) -> None:
    text = uc1_text(length, seed=length)
    qr = make_qr(text)
    barcode = decode(qr.image(scale=4))
    assert barcode.text == text
    assert barcode.ec_level == "M"
    assert barcode.extra["Version"] == str(qr.version)
    assert barcode.extra["DataMask"] == qr.mask


@settings(max_examples=40, deadline=None)
@given(uc1_texts)
def test_symbol_is_exactly_segnos_symbol_for_the_chosen_mask(text: str) -> None:
    qr = make_qr(text)
    assert qr.modules == segno_symbol(text, qr.mask)


@settings(max_examples=25, deadline=None)
@given(uc1_texts)
def test_chosen_mask_has_the_lowest_penalty(text: str) -> None:
    qr = make_qr(text)
    scores = [penalty(segno_symbol(text, k)) for k in range(8)]
    assert scores[qr.mask] == min(scores)
    assert qr.mask == scores.index(min(scores))


def reference_penalty(rows: tuple[bytes, ...]) -> int:
    """ISO/IEC 18004 §7.8.3.1 written out plainly; outside the symbol counts as light."""
    n = len(rows)
    lines = [list(r) for r in rows] + [[rows[i][j] for i in range(n)] for j in range(n)]
    score = 0
    for line in lines:
        run = 1
        for j in range(1, n + 1):
            if j < n and line[j] == line[j - 1]:
                run += 1
                continue
            if run >= 5:
                score += 3 + run - 5
            run = 1
        for j in range(n - 6):
            if line[j : j + 7] == [1, 0, 1, 1, 1, 0, 1]:
                before = line[max(0, j - 4) : j]
                after = line[j + 7 : j + 11]
                if not any(before) or not any(after):
                    score += 40
    for i in range(n - 1):
        for j in range(n - 1):
            if rows[i][j] == rows[i][j + 1] == rows[i + 1][j] == rows[i + 1][j + 1]:
                score += 3
    dark = sum(sum(r) for r in rows)
    percent = dark * 100 / (n * n)
    score += 10 * int(abs(percent - 50) // 5)
    return score


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=25).flatmap(
    lambda n: st.lists(st.binary(min_size=n, max_size=n).map(lambda b: bytes(x & 1 for x in b)),
                       min_size=n, max_size=n)
))  # fmt: skip
def test_penalty_matches_the_plain_reference(rows: list[bytes]) -> None:
    assert penalty(tuple(rows)) == reference_penalty(tuple(rows))


def test_penalty_known_values() -> None:
    # All light 5x5: N1 = 10 lines x 3, N2 = 16 blocks x 3, N4 = 10 x 10 (0 % dark).
    light = tuple(bytes(5) for _ in range(5))
    assert penalty(light) == 30 + 48 + 100
    # A finder-like row with light beyond both edges scores N3 once per direction it is found.
    row = bytes([1, 0, 1, 1, 1, 0, 1])
    assert reference_penalty((row,) * 7) == penalty((row,) * 7)


def test_png_is_pixel_exact_with_quiet_zone() -> None:
    qr = make_qr(uc1_text(300))
    scale = 5
    img = Image.open(io.BytesIO(qr.png(scale=scale)))
    side = (qr.size + 2 * QUIET_ZONE) * scale
    assert img.size == (side, side)
    grey = img.convert("L")
    for r in range(qr.size + 2 * QUIET_ZONE):
        for c in range(qr.size + 2 * QUIET_ZONE):
            end = qr.size + QUIET_ZONE
            inside = QUIET_ZONE <= r < end and QUIET_ZONE <= c < end
            dark = inside and qr.modules[r - QUIET_ZONE][c - QUIET_ZONE] == 1
            block = grey.crop((c * scale, r * scale, (c + 1) * scale, (r + 1) * scale))
            assert block.getextrema() == ((0, 0) if dark else (255, 255))


def test_svg_paths_redraw_the_modules() -> None:
    qr = make_qr(uc1_text(120))
    doc = ET.fromstring(qr.svg(scale=3))
    ns = "{http://www.w3.org/2000/svg}"
    side = qr.size + 2 * QUIET_ZONE
    assert doc.get("viewBox") == f"0 0 {side} {side}"
    assert doc.get("width") == str(side * 3)
    path = doc.find(f"{ns}path")
    assert path is not None
    drawn = [bytearray(qr.size) for _ in range(qr.size)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.get("d", "")):
        for dx in range(int(w)):
            drawn[int(y) - QUIET_ZONE][int(x) - QUIET_ZONE + dx] = 1
    assert tuple(bytes(r) for r in drawn) == qr.modules


def test_image_scale_one_decodes() -> None:
    qr = make_qr("UC1:HELLO")
    assert decode(qr.image(scale=3)).text == "UC1:HELLO"
    assert qr.image(scale=1).size == (qr.size + 8, qr.size + 8)


@pytest.mark.parametrize("text", ["", "uc1:lower", "UC1:ÀB", "UC1:A\n"])
def test_rejects_text_outside_the_alphanumeric_alphabet(text: str) -> None:
    with pytest.raises(QrError):
        make_qr(text)


def test_rejects_text_beyond_version_40() -> None:
    with pytest.raises(QrError, match="version 40"):
        make_qr("A" * 3400)


@pytest.mark.parametrize(("scale", "border"), [(0, 4), (4, -1)])
def test_rejects_bad_geometry(scale: int, border: int) -> None:
    with pytest.raises(ValueError):
        make_qr("UC1:A").png(scale=scale, border=border)


def test_symbol_is_immutable() -> None:
    qr = make_qr("UC1:A")
    assert isinstance(qr, QrSymbol)
    with pytest.raises(AttributeError):
        qr.version = 2  # type: ignore[misc]
