"""Charts as server-side SVG: grouped horizontal bars and lines, drawn with presentation
attributes only (no script, no inline style, so the pages' Content-Security-Policy holds),
each with a title and a description for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from xml.sax.saxutils import escape

from markupsafe import Markup

#: Series colours, distinguishable by people with the common colour-vision deficiencies
#: (Okabe-Ito), each dark enough against white.
COLOURS = ("#0b3d91", "#d55e00", "#009e73", "#cc79a7")
#: Each line's width and dash pattern: equal series are drawn one on top of the other, so
#: the first is the widest and solid and each later one narrower and dashed, and the one
#: beneath still shows on both sides and between the dashes of the one above.
LINE_STYLES = ((7.0, ""), (4.0, "10 5"), (2.0, "3 3"), (1.5, "1 3"))
#: A category label longer than this many characters is wrapped onto the next line.
LABEL_CHARS = 28
_ids = count(1)


@dataclass(frozen=True)
class Series:
    """A named row of values, one per category."""

    name: str
    values: Sequence[float]


def _attr(value: object) -> str:
    return escape(str(value), {'"': "&quot;"})


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 <= value:
        scale *= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale  # pragma: no cover - the loop always returns


def _dash(i: int) -> str:
    width, dash = LINE_STYLES[i % len(LINE_STYLES)]
    return f'stroke-width="{width}"' + (f' stroke-dasharray="{dash}"' if dash else "")


def _legend(series: Sequence[Series], x: float, y: float, width: float, *,
            as_lines: bool = False) -> tuple[list[str], float]:
    """The legend's parts, wrapped to ``width``, and the height it takes (``as_lines``: each
    series' sample drawn as its line is, width and dashes included)."""
    parts = []
    left, top = x, y
    swatch = 28 if as_lines else 12
    for i, s in enumerate(series):
        size = swatch + 6 + 7.5 * len(s.name) + 24  # about 7.5 px a character at 13 px
        if left > x and left + size > x + width:
            left, top = x, top + 20
        colour = COLOURS[i % len(COLOURS)]
        sample = (f'<line x1="{left:.0f}" y1="{top - 4}" x2="{left + swatch:.0f}" '
                  f'y2="{top - 4}" stroke="{colour}" {_dash(i)}/>' if as_lines else
                  f'<rect x="{left:.0f}" y="{top - 10}" width="12" height="12" '
                  f'fill="{colour}"/>')
        parts.append(f'{sample}<text x="{left + swatch + 6:.0f}" y="{top}" font-size="13" '
                     f'fill="#1b2430">{escape(s.name)}</text>')
        left += size
    return parts, top - y + 20


def wrap_label(text: str, limit: int = LABEL_CHARS) -> list[str]:
    """A category label as lines of at most ``limit`` characters, broken between words (a
    word longer than that is cut onto the next line): nothing of a name is left out."""
    lines: list[str] = []
    for word in text.split():
        while len(word) > limit:
            lines.append(word[:limit])
            word = word[limit:]
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _marker(i: int, x: float, y: float, colour: str, title: str) -> str:
    """A point of series ``i``: a circle, a square, a diamond or a triangle, each smaller
    than the last, so equal points of several series all show."""
    shape = i % 4
    inner = f"<title>{title}</title>"
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}">{inner}</circle>'
    if shape == 1:
        return (f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" '
                f'fill="{colour}" stroke="#ffffff" stroke-width="1">{inner}</rect>')
    if shape == 2:
        return (f'<polygon points="{x:.1f},{y - 3.5:.1f} {x + 3.5:.1f},{y:.1f} {x:.1f},'
                f'{y + 3.5:.1f} {x - 3.5:.1f},{y:.1f}" fill="{colour}" stroke="#ffffff" '
                f'stroke-width="0.75">{inner}</polygon>')
    return (f'<polygon points="{x:.1f},{y - 2.5:.1f} {x + 2.5:.1f},{y + 2:.1f} '
            f'{x - 2.5:.1f},{y + 2:.1f}" fill="{colour}">{inner}</polygon>')


def _frame(title: str, description: str, width: float, height: float,
           body: list[str]) -> Markup:
    n = next(_ids)
    return Markup(  # noqa: S704 - every text and attribute above is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" aria-labelledby="chart{n}t chart{n}d">'
        f'<title id="chart{n}t">{escape(title)}</title>'
        f'<desc id="chart{n}d">{escape(description)}</desc>'
        f'<rect width="100%" height="100%" fill="#ffffff"/>{"".join(body)}</svg>')


def bars(title: str, categories: Sequence[str], series: Sequence[Series], *,
         width: int = 760, label_width: int = 230) -> Markup:
    """Grouped horizontal bars: one group per category, one bar per series; each category's
    name whole, wrapped onto as many lines as it needs (the group grows to hold them)."""
    bar, gap = 12, 10
    wrapped = [wrap_label(c) for c in categories]
    group = max([bar * len(series) + gap] + [14 * len(w) + gap for w in wrapped])
    body, legend_height = _legend(series, 10, 22, width - 20)
    top, bottom = 20 + legend_height, 30
    height = top + group * max(1, len(categories)) + bottom
    plot = width - label_width - 40
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    for tick in range(5):
        value = top_value * tick / 4
        x = label_width + plot * tick / 4
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - bottom}" '
                    f'stroke="#d0d7e2" stroke-width="1"/>'
                    f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="11" '
                    f'text-anchor="middle" fill="#3b4656">{_number(value)}</text>')
    descriptions = []
    for c, category in enumerate(categories):
        y0 = top + c * group
        parts = wrapped[c]
        first = y0 + group / 2 - 7 * (len(parts) - 1) + 4
        body.append(f'<text x="{label_width - 8}" y="{first:.1f}" font-size="12" '
                    f'text-anchor="end" fill="#1b2430"><title>{escape(category)}</title>'
                    + "".join(f'<tspan x="{label_width - 8}" y="{first + 14 * k:.1f}">'
                              f'{escape(part)}</tspan>' for k, part in enumerate(parts))
                    + '</text>')
        for i, s in enumerate(series):
            value = s.values[c]
            length = plot * value / top_value
            y = y0 + i * bar
            body.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" '
                        f'height="{bar - 2}" fill="{COLOURS[i % len(COLOURS)]}">'
                        f'<title>{escape(category)}: {escape(s.name)} {_number(value)}'
                        f'</title></rect>')
        descriptions.append(category + ": " + ", ".join(
            f"{s.name} {_number(s.values[c])}" for s in series))
    return _frame(title, "; ".join(descriptions), width, height, body)


def lines(title: str, labels: Sequence[str], series: Sequence[Series], *,
          width: int = 720, height: int = 300) -> Markup:
    """Lines over time: one point per label (e.g. month), one line per series."""
    body, legend_height = _legend(series, 10, 22, width - 20, as_lines=True)
    left, right, top, bottom = 60, 20, 20 + legend_height, 40
    total_height = height + legend_height
    plot_w, plot_h = width - left - right, total_height - top - bottom
    top_value = _nice_max(max((v for s in series for v in s.values), default=0))
    steps = max(1, len(labels) - 1)
    for tick in range(5):
        value = top_value * tick / 4
        y = top + plot_h - plot_h * tick / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                    f'stroke="#d0d7e2" stroke-width="1"/>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                    f'fill="#3b4656">{_number(value)}</text>')
    for i, label in enumerate(labels):
        x = left + plot_w * i / steps
        body.append(f'<text x="{x:.1f}" y="{total_height - bottom + 18}" font-size="11" '
                    f'text-anchor="middle" fill="#3b4656">{escape(label)}</text>')
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        points = [(left + plot_w * j / steps, top + plot_h - plot_h * v / top_value)
                  for j, v in enumerate(s.values)]
        body.append(f'<polyline fill="none" stroke="{colour}" {_dash(i)} '
                    f'stroke-linejoin="round" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        for (x, y), label, value in zip(points, labels, s.values, strict=True):
            body.append(_marker(i, x, y, colour,
                                f"{escape(label)}: {escape(s.name)} {_number(value)}"))
    description = "; ".join(f"{s.name}: " + ", ".join(
        f"{label} {_number(v)}" for label, v in zip(labels, s.values, strict=True)) for s in series)
    return _frame(title, description, width, total_height, body)
