"""Text on cards: the shipped DejaVu Sans faces, NFC normalisation, wrap, shrink, ellipsize."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from PIL import ImageFont

__all__ = ["FittedText", "Weight", "fit_text", "font", "font_bytes", "nfc", "wrap"]

Weight = Literal["regular", "bold"]

_FILES: dict[Weight, str] = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
_ELLIPSIS = "…"


@lru_cache(maxsize=None)
def font_bytes(weight: Weight = "regular") -> bytes:
    """The TrueType file of the regular or bold face, read from the package."""
    return resources.files("cards").joinpath("fonts", _FILES[weight]).read_bytes()


@lru_cache(maxsize=256)
def font(size: int, weight: Weight = "regular") -> ImageFont.FreeTypeFont:
    """The shipped face at `size` pixels per em (cached)."""
    return ImageFont.truetype(io.BytesIO(font_bytes(weight)), size)


def nfc(text: str) -> str:
    """Text in Unicode NFC, so each Vietnamese letter is one precomposed glyph of the font."""
    return unicodedata.normalize("NFC", text)


def _break_word(word: str, face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Cut a word wider than `width` into pieces that each fit (at least one character)."""
    pieces: list[str] = []
    while word and face.getlength(word) > width:
        cut = len(word) - 1
        while cut > 1 and face.getlength(word[:cut]) > width:
            cut -= 1
        pieces.append(word[:cut])
        word = word[cut:]
    if word:
        pieces.append(word)
    return pieces


def wrap(text: str, face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap of `text` into lines no wider than `width` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if face.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _break_word(word, face, width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current:
        lines.append(current)
    return lines


def _ellipsize(text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    """Shorten `text` and end it with an ellipsis so it fits `width`."""
    text = text.rstrip()
    while text and face.getlength(text + _ELLIPSIS) > width:
        text = text[:-1].rstrip()
    return text + _ELLIPSIS


@dataclass(frozen=True, slots=True)
class FittedText:
    """Text fitted to a box: the face chosen, its lines, and whether anything was cut."""

    face: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    truncated: bool

    @property
    def line_height(self) -> int:
        """Baseline-to-baseline distance in pixels (ascent + descent of the face)."""
        ascent, descent = self.face.getmetrics()
        return int(ascent + descent)

    @property
    def height(self) -> int:
        """Total height of the lines in pixels."""
        return self.line_height * len(self.lines)


def fit_text(
    text: str, sizes: tuple[int, ...], width: float, max_lines: int, weight: Weight = "regular"
) -> FittedText:
    """Fit `text` into `width` px: fewest lines first, then the largest size, ellipsis last.

    `sizes` runs from the preferred size down to the smallest allowed one; the result never
    exceeds `width` or `max_lines`.
    """
    text = " ".join(nfc(text).split())
    for n in range(1, max_lines + 1):
        for size in sizes:
            face = font(size, weight)
            lines = wrap(text, face, width)
            if len(lines) <= n:
                return FittedText(face, tuple(lines), truncated=False)
    face = font(sizes[-1], weight)
    lines = wrap(text, face, width)
    kept = lines[: max_lines - 1]
    rest = " ".join(lines[max_lines - 1 :])
    kept.append(_ellipsize(rest, face, width))
    return FittedText(face, tuple(kept), truncated=True)
