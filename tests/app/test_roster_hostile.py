"""Hostile and untruthful XLSX files: a lying <dimension>, zip bombs, huge shared strings."""

from __future__ import annotations

import gc
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from app.services.registry.roster import Limits, RosterInvalid, open_roster
from tests.app.roster_fixtures import EN_HEADERS, VI_HEADERS, people

UNION = "CDCS-24-QUEVO1"


def workbook(path: Path, rows: int) -> Path:
    """A real XLSX written by openpyxl with a header and ``rows`` members."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(VI_HEADERS)
    for row in people(rows, UNION):
        ws.append([row[f] for f in EN_HEADERS])
    wb.save(path)
    wb.close()
    return path


def rewrite(source: Path, target: Path, parts: dict[str, bytes | None]) -> Path:
    """Copy an XLSX zip, replacing (or, with None, dropping) some of its parts."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w",
                                                         zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename in parts:
                continue
            out.writestr(info, src.read(info))
        for name, data in parts.items():
            if data is not None:
                out.writestr(name, data)
    return target


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def test_every_row_is_read_when_the_dimension_understates_them(tmp_path: Path) -> None:
    real = workbook(tmp_path / "real.xlsx", 8)
    with zipfile.ZipFile(real) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:I9"' in sheet
    lying = rewrite(real, tmp_path / "lying.xlsx", {
        "xl/worksheets/sheet1.xml": sheet.replace(b'ref="A1:I9"', b'ref="A1:E2"')})
    with zipfile.ZipFile(lying) as archive:
        assert b'<dimension ref="A1:E2"' in archive.read("xl/worksheets/sheet1.xml")
    with open_roster(lying) as roster:
        rows = list(roster.rows())
    assert [r.number for r in rows] == list(range(2, 10))
    assert {r.values["personal_id"] for r in rows} == {p["personal_id"]
                                                       for p in people(8, UNION)}
    assert all("union_code" in r.values for r in rows)  # columns beyond E are read too


def test_rows_are_read_when_the_dimension_is_missing(tmp_path: Path) -> None:
    real = workbook(tmp_path / "real.xlsx", 3)
    with zipfile.ZipFile(real) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    bare = rewrite(real, tmp_path / "bare.xlsx", {
        "xl/worksheets/sheet1.xml": re.sub(rb"<dimension [^>]*/>", b"", sheet)})
    with open_roster(bare) as roster:
        assert len(list(roster.rows())) == 3


def test_a_header_only_sheet_with_a_lying_dimension_has_no_data_rows(tmp_path: Path) -> None:
    real = workbook(tmp_path / "real.xlsx", 0)
    with zipfile.ZipFile(real) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    lying = rewrite(real, tmp_path / "lying.xlsx", {
        "xl/worksheets/sheet1.xml": re.sub(rb'ref="[^"]*"', b'ref="A1:I50"', sheet)})
    with pytest.raises(RosterInvalid, match="no data rows"):
        open_roster(lying)


_SST = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def declare_shared_strings(base: Path, path: Path, name: str = "xl/sharedStrings.xml") -> Path:
    """A copy of ``base`` that declares a shared-strings part ``name`` (not yet written)."""
    with zipfile.ZipFile(base) as archive:
        types = archive.read("[Content_Types].xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    types = types.replace("</Types>", f'<Override PartName="/{name}" ContentType="{_SST}"/>'
                                      "</Types>")
    rels = rels.replace("</Relationships>", f'<Relationship Id="rIdS" Type="{_SST_REL}" '
                        f'Target="/{name}"/></Relationships>')
    return rewrite(base, path, {"[Content_Types].xml": types.encode(),
                                "xl/_rels/workbook.xml.rels": rels.encode()})


def _hostile_shared_strings(path: Path, base: Path, count: int,
                            name: str = "xl/sharedStrings.xml") -> Path:
    """The attack of issue 9 item 5: millions of distinct shared strings in a small file."""
    declare_shared_strings(base, path, name)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive, \
            archive.open(name, "w", force_zip64=True) as part:
        part.write(b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                   b'openxmlformats.org/spreadsheetml/2006/main" uniqueCount="%d">' % count)
        step = 100_000
        for start in range(0, count, step):
            part.write(b"".join(b"<si><t>%d</t></si>" % i
                                for i in range(start, min(count, start + step))))
        part.write(b"</sst>")
    return path


def test_three_million_shared_strings_are_refused_fast_without_memory(tmp_path: Path) -> None:
    base = workbook(tmp_path / "base.xlsx", 2)
    hostile = _hostile_shared_strings(tmp_path / "hostile.xlsx", base, 3_000_000)
    assert hostile.stat().st_size < 20 * 1024 * 1024  # within the upload limit
    gc.collect()
    before = rss_bytes()
    started = time.monotonic()
    with pytest.raises(RosterInvalid, match="shared strings"):
        open_roster(hostile)
    elapsed = time.monotonic() - started
    gc.collect()
    grown = rss_bytes() - before
    print(f"hostile XLSX ({hostile.stat().st_size:,} bytes, 3,000,000 shared strings): refused "
          f"in {elapsed:.2f} s, RSS {before / 2**20:.0f} MB -> "
          f"{(before + grown) / 2**20:.0f} MB")
    assert elapsed < 5
    assert grown < 20 * 1024 * 1024
    started = time.monotonic()  # counted, when the size alone would pass
    with pytest.raises(RosterInvalid, match="more than 1,200,000 shared strings"):
        open_roster(hostile, Limits(max_shared_strings_bytes=10**9))
    elapsed = time.monotonic() - started
    gc.collect()
    grown = rss_bytes() - before
    print(f"counted: refused in {elapsed:.2f} s, RSS growth {grown / 2**20:.0f} MB")
    assert elapsed < 5
    assert grown < 20 * 1024 * 1024


def test_shared_strings_size_and_zip_ratio_are_bounded(tmp_path: Path) -> None:
    base = workbook(tmp_path / "base.xlsx", 2)
    hostile = _hostile_shared_strings(tmp_path / "hostile.xlsx", base, 200_000)
    with pytest.raises(RosterInvalid, match="shared strings unpack to"):
        open_roster(hostile, Limits(max_shared_strings_bytes=1_000_000))
    with pytest.raises(RosterInvalid, match="more than 1,000 shared strings"):
        open_roster(hostile, Limits(max_shared_strings=1_000))
    with zipfile.ZipFile(base) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    padded = sheet.replace(b"</worksheet>", b"<!--" + b" " * (8 * 1024 * 1024) + b"-->"
                           b"</worksheet>")
    bomb = rewrite(base, tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": padded})
    with pytest.raises(RosterInvalid, match="possible zip bomb"):
        open_roster(bomb)


def test_shared_strings_under_another_name_are_bounded_too(tmp_path: Path) -> None:
    base = workbook(tmp_path / "base.xlsx", 2)
    moved = _hostile_shared_strings(tmp_path / "moved.xlsx", base, 10, name="xl/other.xml")
    with pytest.raises(RosterInvalid, match="more than 3 shared strings"):
        open_roster(moved, Limits(max_shared_strings=3))
    with open_roster(moved) as roster:  # a declared, bounded shared-strings part is fine
        assert len(list(roster.rows())) == 2


def test_cells_and_time_are_bounded(tmp_path: Path) -> None:
    path = workbook(tmp_path / "r.xlsx", 30)
    with open_roster(path, Limits(max_cells=100)) as roster, \
            pytest.raises(RosterInvalid, match="more than 100 cells"):
        list(roster.rows())
    with pytest.raises(RosterInvalid, match="longer than 0 s"):
        open_roster(path, Limits(open_seconds=0))


def test_a_damaged_shared_strings_part_is_a_roster_error(tmp_path: Path) -> None:
    base = workbook(tmp_path / "base.xlsx", 2)
    path = _hostile_shared_strings(tmp_path / "bad.xlsx", base, 1000)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/sharedStrings.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + 20  # inside its data
    data[start:start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(RosterInvalid, match="damaged"):
        open_roster(path)
