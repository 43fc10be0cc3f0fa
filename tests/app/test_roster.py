"""Reading roster files: encodings, delimiters, XLSX, headers, limits and file-level errors."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from app.services.registry.roster import Limits, RosterInvalid, match_header, open_roster
from tests.app.roster_fixtures import EN_HEADERS, VI_HEADERS, people, to_csv

UNION = "CDCS-24-QUEVO1"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, limits: Limits | None = None) -> tuple[list, dict, str, str]:
    with open_roster(path, limits) as roster:
        rows = list(roster.rows())
        return rows, roster.headers, roster.encoding, roster.delimiter


@pytest.mark.parametrize(("encoding", "delimiter", "expected"), [
    ("utf-8", ",", "utf-8"),
    ("utf-8-sig", ",", "utf-8-sig"),
    ("utf-8", ";", "utf-8"),
    ("utf-16-le-bom", "\t", "utf-16"),   # Excel "Unicode Text"
    ("utf-16-be-bom", "\t", "utf-16"),
])
def test_csv_encodings_and_delimiters(tmp_path: Path, encoding: str, delimiter: str,
                                      expected: str) -> None:
    text = to_csv(people(3, UNION), delimiter=delimiter)
    if encoding == "utf-16-le-bom":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    elif encoding == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    rows, headers, enc, delim = read_all(write(tmp_path, "r.csv", data))
    assert (enc, delim) == (expected, delimiter)
    assert headers["full_name"] == "Họ và tên" and headers["personal_id"] == "Số CCCD"
    assert [r.number for r in rows] == [2, 3, 4]
    expected_first = people(3, UNION)[0]
    assert rows[0].values["full_name"] == expected_first["full_name"]
    assert rows[0].values["personal_id"] == expected_first["personal_id"]
    assert rows[0].values["member_number"] is None


def test_english_headers_and_header_matching_ignores_case_diacritics_spaces(
        tmp_path: Path) -> None:
    rows, headers, _, _ = read_all(write(
        tmp_path, "r.csv", to_csv(people(2, UNION), EN_HEADERS).encode()))
    assert headers["birth_date"] == "birth_date" and len(rows) == 2
    assert match_header("  HỌ  VÀ   TÊN ") == "full_name"
    assert match_header("ho va ten") == "full_name"
    assert match_header("Ngay Vao Cong Doan") == "join_date"
    assert match_header("Số CCCD*") == "personal_id"
    assert match_header("Personal ID") == "personal_id"
    assert match_header("stt") == ""  # accepted and ignored
    assert match_header("Quê quán") is None


def test_xlsx_streams_rows_with_date_cells_and_text_dates(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["STT", *VI_HEADERS])
    ws.append([1, "Nguyễn Thị Kim Yến", datetime(1990, 5, 17), "Nữ", "001190123456",
               "0123456789", "0912345678", UNION, "01/03/2012", None])
    ws.append([])  # blank rows are skipped but keep the numbering
    ws.append([2, "Trần Văn Đức", "1985-12-01", "Nam", 1085654321, 123456789, 912345679,
               UNION, date(2010, 1, 1), "24000000999"])
    wb.save(path)
    wb.close()
    rows, headers, _, _ = read_all(path)
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values["birth_date"] == date(1990, 5, 17)
    assert rows[0].values["join_date"] == "01/03/2012"
    # numbers typed into Excel lose their leading zeros: restored, with warnings
    assert rows[1].values["personal_id"] == "001085654321"
    assert rows[1].values["insurance_number"] == "0123456789"
    assert rows[1].values["phone"] == "0912345679"
    assert {p.field for p in rows[1].problems} == {"personal_id", "insurance_number", "phone"}
    assert all(p.severity == "warning" for p in rows[1].problems)
    assert "STT" not in headers.values()


def test_unknown_columns_are_a_file_level_error(tmp_path: Path) -> None:
    data = to_csv(people(1, UNION)).replace("Mã đoàn viên", "Quê quán").encode()
    with pytest.raises(RosterInvalid, match="Unknown column.*'Quê quán' \\(column 9\\)"):
        open_roster(write(tmp_path, "r.csv", data))


def test_missing_required_columns(tmp_path: Path) -> None:
    data = "Họ và tên,Ngày sinh,Giới tính\nA,01/01/1990,Nam\n".encode()
    with pytest.raises(RosterInvalid, match=r"Missing required column\(s\): Số CCCD "
                                            r"\(personal_id\), Mã công đoàn cơ sở"):
        open_roster(write(tmp_path, "r.csv", data))


def test_repeated_column(tmp_path: Path) -> None:
    data = "Họ và tên,full_name,Ngày sinh\n".encode()
    with pytest.raises(RosterInvalid, match="both hold full_name"):
        open_roster(write(tmp_path, "r.csv", data))


def test_legacy_encoding_is_named(tmp_path: Path) -> None:
    data = to_csv(people(2, UNION), EN_HEADERS).replace("Nguyễn", "Nguyên").encode("latin-1",
                                                                                   "replace")
    data = data.replace(b"Nguy", b"Nguy\xea")  # a latin-1/cp1258 byte, invalid as UTF-8
    with pytest.raises(RosterInvalid, match="not valid UTF-8 .*Windows-1258 or Latin-1"):
        open_roster(write(tmp_path, "r.csv", data))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty"),
    ("Họ và tên,Ngày sinh,Giới tính,Số CCCD,Mã công đoàn cơ sở\n".encode(), "no data rows"),
    (b"%PDF-1.7\n...", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"\.xls"),
    (b"\x00\x01\x02binary", "not a CSV or XLSX"),
    (b"PK\x03\x04garbage", "damaged"),
])
def test_not_a_roster(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(RosterInvalid, match=message):
        open_roster(write(tmp_path, "r.csv", data))


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "r.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(RosterInvalid, match="not an Excel .xlsx"):
        open_roster(path)


def test_limits_size_rows_and_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", to_csv(people(20, UNION)).encode())
    with pytest.raises(RosterInvalid, match="the limit is 100"):
        open_roster(path, Limits(max_bytes=100))
    with pytest.raises(RosterInvalid, match="more than 10 rows"):
        open_roster(path, Limits(max_rows=10))
    rows, *_ = read_all(path, Limits(max_cell=10))
    problems = [p for p in rows[0].problems if p.severity == "error"]
    assert any("longer than 10 characters" in p.message for p in problems)


def test_xlsx_row_limit(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(VI_HEADERS)
    for row in people(12, UNION):
        ws.append([row[f] for f in EN_HEADERS])
    wb.save(path)
    wb.close()
    with pytest.raises(RosterInvalid, match="more than 5 rows"):
        open_roster(path, Limits(max_rows=5))


def test_row_with_more_cells_than_headers_is_flagged(tmp_path: Path) -> None:
    text = to_csv(people(1, UNION)).rstrip("\r\n") + ",extra\r\n"
    rows, *_ = read_all(write(tmp_path, "r.csv", text.encode()))
    assert any("more cells than the header" in p.message for p in rows[0].problems)
