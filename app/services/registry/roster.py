"""Reading roster files (CSV in UTF-8/UTF-16, or XLSX) into rows of member fields, streamed."""

from __future__ import annotations

import codecs
import csv
import io
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from app.services.errors import RosterInvalid, RostersBusy
from app.services.registry.identity import FieldProblem, transliterate
from app.services.registry.members import REQUIRED_FIELDS

#: The template's headers: Vietnamese first (as printed in docs/roster-template.*), then English.
TEMPLATE_HEADERS: dict[str, tuple[str, str]] = {
    "full_name": ("Họ và tên", "full_name"),
    "birth_date": ("Ngày sinh", "birth_date"),
    "sex": ("Giới tính", "sex"),
    "personal_id": ("Số CCCD", "personal_id"),
    "insurance_number": ("Mã số BHXH", "insurance_number"),
    "phone": ("Số điện thoại", "phone"),
    "union_code": ("Mã công đoàn cơ sở", "union_code"),
    "join_date": ("Ngày vào công đoàn", "join_date"),
    "member_number": ("Mã đoàn viên", "member_number"),
}
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "full_name": ("Họ tên", "full name", "name"),
    "birth_date": ("date of birth", "birth date", "dob"),
    "sex": ("gender", "giới"),
    "personal_id": ("CCCD", "Số căn cước", "Số căn cước công dân", "Số định danh cá nhân",
                    "personal id", "national id"),
    "insurance_number": ("Số BHXH", "Mã BHXH", "insurance number", "social insurance number"),
    "phone": ("Điện thoại", "SĐT", "phone number", "mobile"),
    "union_code": ("Mã CĐCS", "union code", "union"),
    "join_date": ("Ngày kết nạp", "join date", "joined"),
    "member_number": ("Số thẻ đoàn viên", "member number", "member no"),
}
#: Columns that spreadsheets commonly carry and that are accepted and ignored.
IGNORED_HEADERS = ("STT", "Số thứ tự", "No", "No.", "#", "Ghi chú", "notes", "note")
#: Fields whose values are digit strings that Excel turns into numbers, losing leading zeros.
_DIGIT_WIDTHS = {"personal_id": 12, "insurance_number": 10}
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DELIMITERS = (",", ";", "\t")
_SHARED_STRINGS_TYPE = (b"application/vnd.openxmlformats-officedocument.spreadsheetml."
                        b"sharedStrings+xml")
_PART_NAME = re.compile(rb'PartName="/?([^"]+)"[^>]*ContentType="([^"]+)"'
                        rb'|ContentType="([^"]+)"[^>]*PartName="/?([^"]+)"')
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_RATIO_FLOOR = 1024 * 1024
_SEPARATORS = re.compile(r"[\s_\-.:/*()]+")


@dataclass(frozen=True)
class Limits:
    """Bounds on an uploaded roster."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 200_000
    max_cell: int = 500
    #: An .xlsx is a zip: its uncompressed size is bounded too (a zip bomb is rejected).
    max_unzipped_bytes: int = 400 * 1024 * 1024
    #: No part of an .xlsx may unpack to more than this many times its packed size (above 1 MB).
    max_zip_ratio: int = 200
    #: The shared-strings part (every distinct text of a workbook, held in memory by openpyxl)
    #: is bounded before the workbook is opened: its unpacked size and its number of strings.
    max_shared_strings_bytes: int = 64 * 1024 * 1024
    max_shared_strings: int = 1_200_000
    #: Cells read in all (a row may hold up to 16,384 cells).
    max_cells: int = 6_000_000
    #: Seconds that opening and checking a file may take.
    open_seconds: float = 20.0


@dataclass(frozen=True)
class Column:
    """A column of the file: its position, its header as written, and the field it holds."""

    index: int
    header: str
    field: str | None  # None: an accepted column that is ignored (e.g. STT)


@dataclass
class RosterRow:
    """One data row: its row number in the file, its values by field, and reader findings."""

    number: int
    values: dict[str, Any]
    problems: list[FieldProblem] = field(default_factory=list)


def header_key(text: str) -> str:
    """Header comparison form: no case, diacritics, punctuation or extra spaces."""
    return _SEPARATORS.sub(" ", transliterate(text)).strip()


def _build_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, (vietnamese, english) in TEMPLATE_HEADERS.items():
        for alias in (vietnamese, english, name, *_EXTRA_ALIASES.get(name, ())):
            aliases[header_key(alias)] = name
    for alias in IGNORED_HEADERS:
        aliases[header_key(alias)] = ""
    return aliases


ALIASES = _build_aliases()


def match_header(text: str) -> str | None:
    """The field a header names; ``""`` for an ignored column; None when unknown."""
    return ALIASES.get(header_key(text))


def _accepted_headers() -> str:
    return ", ".join(f"{vi} / {en}" for vi, en in TEMPLATE_HEADERS.values())


def resolve_columns(headers: list[str]) -> list[Column]:
    """Map the header row to fields.

    Raises:
        RosterInvalid: an unknown, unnamed or repeated column, or a required one missing.
    """
    while headers and not headers[-1].strip():
        headers = headers[:-1]  # spreadsheets often carry empty trailing header cells
    if not headers:
        raise RosterInvalid("The first row must hold the column headers; it is empty.")
    columns: list[Column] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(headers):
        header = raw.strip()
        if not header:
            unknown.append(f"column {index + 1} has no header")
            continue
        name = match_header(header)
        if name is None:
            unknown.append(f"{header!r} (column {index + 1})")
            continue
        if name and name in seen:
            raise RosterInvalid(f"The columns {seen[name]!r} and {header!r} both hold "
                                f"{name}; keep one.")
        if name:
            seen[name] = header
        columns.append(Column(index, header, name or None))
    if unknown:
        raise RosterInvalid("Unknown column(s): " + "; ".join(unknown) + ". Accepted headers: "
                            + _accepted_headers() + " (and STT / Ghi chú, which are ignored).")
    missing = [f"{TEMPLATE_HEADERS[name][0]} ({name})" for name in REQUIRED_FIELDS
               if name not in seen]
    if missing:
        raise RosterInvalid("Missing required column(s): " + ", ".join(missing) + ".")
    return columns


def _restore_digits(name: str, value: str) -> tuple[str, FieldProblem | None]:
    """Put back the leading zeros Excel drops from digit strings it took for numbers."""
    width = _DIGIT_WIDTHS.get(name)
    if width and value.isdigit() and width - 3 <= len(value) < width:
        return value.zfill(width), FieldProblem(
            name, "The value had lost its leading zero(s) (stored as a number); restored.",
            "warning")
    if name == "phone" and value.isdigit() and len(value) == 9 and value[0] in "35789":
        return "0" + value, FieldProblem(
            name, "The phone had lost its leading 0 (stored as a number); restored.", "warning")
    return value, None


def _cell_text(value: Any) -> str | date | None:
    """A cell as text (or a date), None when empty."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


#: Workbooks open at once in this process: openpyxl holds a workbook's shared strings in memory
#: (up to a few hundred MB within the limits) while it is open, so more would multiply that.
XLSX_AT_ONCE = 2
_XLSX_SLOTS = threading.BoundedSemaphore(XLSX_AT_ONCE)
#: Seconds an upload is asked to wait when every workbook slot is taken.
XLSX_RETRY_AFTER = 30


class Roster:
    """An opened roster file: format, encoding, columns and a stream of its data rows."""

    def __init__(self, path: Path, limits: Limits, *, wait_seconds: float = 0) -> None:
        self.path = path
        self._wait_seconds = wait_seconds
        self._slot = False
        self.limits = limits
        self.format = ""
        self.encoding = ""
        self.delimiter = ""
        self.columns: list[Column] = []
        self.total_rows = 0  # data rows (non-blank); an upper bound for XLSX
        self._workbook: Any = None
        self._handle: IO[bytes] | None = None
        self._deadline = time.monotonic() + limits.open_seconds
        try:
            self._inspect()
        except BaseException:
            self.close()
            raise

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> Roster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the workbook, if any, and its slot."""
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._slot:
            self._slot = False
            _XLSX_SLOTS.release()

    @property
    def headers(self) -> dict[str, str]:
        """Each field's header as written in the file."""
        return {c.field: c.header for c in self.columns if c.field}

    # -- inspection (file-level checks, before anything is written) -------------------------
    def _inspect(self) -> None:
        size = self.path.stat().st_size
        if size == 0:
            raise RosterInvalid("The file is empty.")
        if size > self.limits.max_bytes:
            raise RosterInvalid(f"The file has {size:,} bytes; the limit is "
                                f"{self.limits.max_bytes:,}. Split the roster into several files.")
        with self.path.open("rb") as fh:
            head = fh.read(4096)
        if head.startswith(_XLSX_MAGIC):
            self._inspect_xlsx()
        elif head.startswith(_OLE_MAGIC):
            raise RosterInvalid("This is an old Excel 97-2003 (.xls) workbook; save it as "
                                ".xlsx or as CSV UTF-8 and upload that.")
        else:
            self._inspect_csv(head)
        if self.total_rows == 0:
            raise RosterInvalid("The file has a header row but no data rows.")
        if self.total_rows > self.limits.max_rows:
            raise RosterInvalid(f"The file has more than {self.limits.max_rows:,} rows (the "
                                f"limit); it has {self.total_rows:,} or more. "
                                "Split the roster into several files.")

    def _inspect_csv(self, head: bytes) -> None:
        self.format = "csv"
        if head.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig"
        elif head.startswith(codecs.BOM_UTF16_LE):
            self.encoding = "utf-16"
        elif head.startswith(codecs.BOM_UTF16_BE):
            self.encoding = "utf-16"
        elif b"\x00" in head:
            raise RosterInvalid("This is not a CSV or XLSX file (it holds binary data; UTF-16 "
                                "text needs its byte-order mark, as Excel writes it).")
        elif head.startswith(b"%PDF"):
            raise RosterInvalid("This is a PDF, not a CSV or XLSX file.")
        else:
            self.encoding = "utf-8"
        with self._open_text() as text:
            reader: Any = None
            count = 0
            try:
                first = text.readline()
                self.delimiter = self._pick_delimiter(first)
                text.seek(0)
                reader = csv.reader(text, delimiter=self.delimiter)
                header = next(reader)
                self.columns = resolve_columns(header)
                for record in reader:
                    if any(cell.strip() for cell in record):
                        count += 1
                        if count > self.limits.max_rows:
                            break
                        if count % 10_000 == 0:
                            self._check_time()
            except UnicodeDecodeError as exc:
                raise RosterInvalid(
                    f"The file is not valid {self._encoding_name()} text (byte "
                    f"0x{exc.object[exc.start]:02X} near row {self._line(reader) + 1}); it may be "
                    "saved in a legacy code page such as Windows-1258 or Latin-1. Save it from "
                    "Excel as 'CSV UTF-8 (Comma delimited)' or as .xlsx.") from None
            except csv.Error as exc:
                raise RosterInvalid(f"The CSV is malformed near row {self._line(reader)}: "
                                    f"{exc}.") from None
        self.total_rows = count

    @staticmethod
    def _line(reader: Any) -> int:
        return int(reader.line_num) if reader is not None else 0

    def _encoding_name(self) -> str:
        return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}[self.encoding]

    def _open_text(self) -> IO[str]:
        return io.TextIOWrapper(self.path.open("rb"), encoding=self.encoding, errors="strict",
                                newline="")

    @staticmethod
    def _pick_delimiter(first_line: str) -> str:
        """The delimiter that splits the header row into the most known columns."""
        best, best_known = ",", -1
        for delimiter in _DELIMITERS:
            cells = next(csv.reader([first_line], delimiter=delimiter), [])
            known = sum(1 for c in cells if match_header(c) is not None)
            if known > best_known:
                best, best_known = delimiter, known
        return best

    def _check_time(self) -> None:
        """Refuse a file that takes longer than the budget to open and check."""
        if time.monotonic() > self._deadline:
            raise RosterInvalid(f"The file took longer than {self.limits.open_seconds:g} s to "
                                "open and check; split the roster into several files.")

    def _inspect_xlsx(self) -> None:
        import openpyxl

        self.format = "xlsx"
        try:
            with zipfile.ZipFile(self.path) as archive:
                self._check_zip(archive)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
            # damaged data, an unsupported compression method, an encrypted part
            raise RosterInvalid("The file looks like a zip/XLSX but is damaged.") from None
        self._check_time()
        got = (_XLSX_SLOTS.acquire(timeout=self._wait_seconds) if self._wait_seconds > 0
               else _XLSX_SLOTS.acquire(blocking=False))
        if not got:
            raise RostersBusy(f"{XLSX_AT_ONCE} workbooks are being read already; send the file "
                              "again in a little while (CSV files are not limited this way).",
                              retry_after=XLSX_RETRY_AFTER)
        self._slot = True
        # a file object: openpyxl judges a path by its extension, and uploads are stored bare
        self._handle = self.path.open("rb")
        try:
            self._workbook = openpyxl.load_workbook(self._handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds on damaged workbooks
            reason = exc.strerror if isinstance(exc, OSError) else exc  # no server path
            raise RosterInvalid(f"The workbook cannot be read: {reason}.") from None
        self._check_time()
        sheet = self._workbook.worksheets[0]
        hinted = sheet.max_row if hasattr(sheet, "reset_dimensions") else None
        if hasattr(sheet, "reset_dimensions"):
            # read-only mode stops at the sheet's recorded <dimension>, which may be wrong (a
            # file saying A1:E2 and holding 8 rows): read every row that is there instead
            sheet.reset_dimensions()
        rows = sheet.iter_rows(min_row=1, values_only=True)
        first = next(rows, ())
        self.columns = resolve_columns(["" if v is None else str(v) for v in first])
        for raw in rows:  # at least one data row (blank rows are skipped)
            if any(_cell_text(v) is not None for v in raw):
                break
            self._check_time()
        else:
            raise RosterInvalid("The file has a header row but no data rows.")
        # the recorded dimension is only a hint here: the row limit is enforced while reading
        self.total_rows = max(1, (hinted or 0) - 1)

    def _check_zip(self, archive: zipfile.ZipFile) -> None:
        """Bound what the workbook unpacks to before openpyxl reads any of it.

        Raises:
            RosterInvalid: not a workbook, too large unpacked, too compressed, or too many or
                too large shared strings.
        """
        infos = {info.filename: info for info in archive.infolist()}
        if "xl/workbook.xml" not in infos:
            raise RosterInvalid("This zip file is not an Excel .xlsx workbook.")
        unzipped = sum(info.file_size for info in infos.values())
        if unzipped > self.limits.max_unzipped_bytes:
            raise RosterInvalid(f"The workbook unpacks to {unzipped:,} bytes; the limit is "
                                f"{self.limits.max_unzipped_bytes:,}.")
        for info in infos.values():
            if (info.file_size > _RATIO_FLOOR
                    and info.file_size > self.limits.max_zip_ratio * max(info.compress_size, 1)):
                raise RosterInvalid(f"The workbook part {info.filename[-80:]!r} unpacks to more "
                                    f"than {self.limits.max_zip_ratio} times its size; it is "
                                    "refused as a possible zip bomb.")
        for name in self._shared_string_parts(archive, infos):
            self._check_shared_strings(archive, infos[name])

    def _shared_string_parts(self, archive: zipfile.ZipFile,
                             infos: Mapping[str, zipfile.ZipInfo]) -> set[str]:
        """The shared-strings parts the workbook declares (and the usual name)."""
        parts = {"xl/sharedStrings.xml"}
        types = infos.get("[Content_Types].xml")
        if types is not None and types.file_size <= _RATIO_FLOOR:
            text = archive.read(types)
            for match in _PART_NAME.finditer(text):
                name, kind = (match[1], match[2]) if match[1] else (match[4], match[3])
                if kind.strip() == _SHARED_STRINGS_TYPE:
                    parts.add(name.decode("utf-8", "replace"))
        return {name for name in parts if name in infos}

    def _check_shared_strings(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        limit = self.limits.max_shared_strings
        if info.file_size > self.limits.max_shared_strings_bytes:
            raise RosterInvalid(
                f"The workbook's shared strings unpack to {info.file_size:,} bytes; the limit "
                f"is {self.limits.max_shared_strings_bytes:,}. Split the roster into several "
                "files.")
        count, tail = 0, b""
        with archive.open(info) as part:
            for chunk in iter(lambda: part.read(1 << 20), b""):
                data = tail + chunk
                # count each match once: those starting in the carried tail were counted before
                count += sum(1 for m in _SHARED_STRING.finditer(data) if m.start() >= len(tail))
                tail = data[-32:]
                if count > limit:
                    raise RosterInvalid(
                        f"The workbook holds more than {limit:,} shared strings (distinct "
                        "texts); the limit keeps an upload from exhausting the server's "
                        "memory. Split the roster into several files.")
                self._check_time()

    # -- rows -------------------------------------------------------------------------------
    def rows(self) -> Iterator[RosterRow]:
        """Stream the data rows (blank rows skipped), numbered as in the file (header = 1)."""
        if self.format == "xlsx":
            sheet = self._workbook.worksheets[0]
            raw_rows: Iterator[tuple[Any, ...]] = sheet.iter_rows(min_row=2, values_only=True)
            yield from self._rows(raw_rows)
            return
        with self._open_text() as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            next(reader)
            yield from self._rows(reader)

    def _rows(self, raw_rows: Any) -> Iterator[RosterRow]:
        width = max(c.index for c in self.columns) + 1
        count = cells_read = 0
        for number, raw in enumerate(raw_rows, start=2):
            cells_read += len(raw)
            if cells_read > self.limits.max_cells:
                raise RosterInvalid(f"The file has more than {self.limits.max_cells:,} cells.")
            cells = [_cell_text(v) for v in raw]
            if not any(v is not None for v in cells):
                continue
            count += 1
            if count > self.limits.max_rows:
                raise RosterInvalid(f"The file has more than {self.limits.max_rows:,} rows.")
            yield self._row(number, cells, width)

    def _row(self, number: int, cells: list[Any], width: int) -> RosterRow:
        row = RosterRow(number, {})
        for column in self.columns:
            if column.field is None or column.index >= len(cells):
                continue
            value = cells[column.index]
            if isinstance(value, str):
                if len(value) > self.limits.max_cell:
                    row.problems.append(FieldProblem(
                        column.field, f"The value is longer than {self.limits.max_cell} "
                                      "characters."))
                    value = value[:self.limits.max_cell]
                value, note = _restore_digits(column.field, value)
                if note is not None:
                    row.problems.append(note)
            row.values[column.field] = value
        if any(v is not None for v in cells[width:]):
            row.problems.append(FieldProblem(
                "", "The row has more cells than the header row (an unquoted comma or "
                    "semicolon inside a value?)."))
        return row


def open_roster(path: str | Path, limits: Limits | None = None, *,
                wait_seconds: float = 0) -> Roster:
    """Open and check a roster file (use it as a context manager). A workbook takes one of the
    process's ``XLSX_AT_ONCE`` slots while it is open, waiting up to ``wait_seconds`` for one.

    Raises:
        RosterInvalid: empty, too large, too many rows, not CSV/XLSX, wrong encoding, unknown or
            missing columns.
        RostersBusy: a workbook, and no slot came free in time.
    """
    return Roster(Path(path), limits or Limits(), wait_seconds=wait_seconds)
