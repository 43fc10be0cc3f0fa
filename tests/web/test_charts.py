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
    points = [e for e in root.iter() if e.tag in (f"{SVG}circle", f"{SVG}rect", f"{SVG}polygon")
              and e.find(f"{SVG}title") is not None]
    assert len(points) == 6
    assert len(list(root.iter(f"{SVG}polyline"))) == 2


def test_equal_lines_both_show() -> None:
    """A series equal to another (every card's record linked) is not hidden under it: the
    first line is the widest and solid, the next narrower and dashed, their points differ in
    shape, and the legend draws each line as it is drawn."""
    svg = lines("Theo tháng", ["01/26", "02/26"],
                [Series("Thẻ", [3, 5]), Series("Liên kết", [3, 5]), Series("Khám", [3, 5])])
    root = ET.fromstring(str(svg))
    polylines = list(root.iter(f"{SVG}polyline"))
    widths = [float(p.get("stroke-width", 0)) for p in polylines]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3
    assert polylines[0].get("stroke-dasharray") is None
    assert polylines[1].get("stroke-dasharray") and polylines[2].get("stroke-dasharray")
    shapes = {e.tag for e in root.iter() if e.find(f"{SVG}title") is not None
              and e.tag != f"{SVG}svg"}
    assert shapes == {f"{SVG}circle", f"{SVG}rect", f"{SVG}polygon"}
    legend = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(legend) >= 2  # the legend's samples are dashed like their lines


def test_long_union_names_are_wrapped_never_cut() -> None:
    name = "CĐCS Công ty TNHH Điện tử Samsung Electro-Mechanics Việt Nam (KCN Yên Phong)"
    svg = bars("Phủ", [name, "Ngắn"], [Series("Đoàn viên", [40, 10])])
    root = ET.fromstring(str(svg))
    label = next(t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None)
    shown = [span.text or "" for span in label.iter(f"{SVG}tspan")]
    assert len(shown) > 1 and all(len(line) <= 28 for line in shown)
    assert " ".join(shown) == name and "…" not in str(svg)


def test_axis_maximum_is_a_round_number() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 12, 60, 101, 2400)] == [
        1, 1, 5, 10, 20, 100, 200, 5000]
