"""The server-side SVG charts: well-formed, escaped, scaled, and nothing a CSP would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.web.charts import Series, _nice_max, bars, lines

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_scaled_escaped_and_described() -> None:
    svg = bars("Phủ <thẻ>", ["Bắc Ninh", 'A "quoted" & <odd> union'],
               [Series("Đoàn viên", [40, 10]), Series("Có thẻ", [20, 0])])
    root = ET.fromstring(str(svg))  # well-formed XML whatever the names hold
    assert root.find(f"{SVG}title").text == "Phủ <thẻ>"  # type: ignore[union-attr]
    assert "Bắc Ninh: Đoàn viên 40, Có thẻ 20" in root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    widths = [float(r.get("width", 0)) for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title")
              is not None]
    assert widths[0] == 2 * widths[1]  # 40 against 20 on the same axis
    assert widths[3] == 0
    assert "style" not in str(svg) and "<script" not in str(svg)


def test_lines_have_one_point_per_label_per_series() -> None:
    svg = lines("Theo tháng", ["01/26", "02/26", "03/26"],
                [Series("Thẻ", [0, 5, 12]), Series("Liên kết", [0, 1, 2])])
    root = ET.fromstring(str(svg))
    assert len(list(root.iter(f"{SVG}circle"))) == 6
    assert len(list(root.iter(f"{SVG}polyline"))) == 2


def test_axis_maximum_is_a_round_number() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 12, 60, 101, 2400)] == [
        1, 1, 5, 10, 20, 100, 200, 5000]
