"""The one CSV writer of the service and CLI: UTF-8 with a BOM, formula cells neutralised.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab or
a carriage return) as a formula: a member named ``=HYPERLINK(...)`` or a union renamed
``=cmd|' /C calc'!A`` would run in the officer's Excel. Following the OWASP CSV injection
guidance, every *text* cell that begins with one of those characters is written with a single
quote in front, which spreadsheets show as text. That includes text that looks like a number,
such as a phone number ``+84912345678`` (Excel would otherwise drop its ``+``) or ``-5`` typed in
a roster: text is prefixed, whatever it looks like. Only numbers the service itself writes
(Python ``int``, ``float``, ``Decimal``: row numbers, counts) stay as they are, since a number
cannot carry a formula. The prefix is not removed when a file is read back, and a cell that
already begins with a quote is left alone, so writing a file read back from this writer does not
add a second quote.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TextIO

#: The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(value: Any) -> Any:
    """The cell as written: text beginning with a formula trigger gets a ``'`` in front;
    numbers and ``None`` (an empty cell) are unchanged."""
    if value is None or isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def starts_like_a_formula(text: str) -> bool:
    """Whether a name would be read as a formula by a spreadsheet (refused at registration)."""
    return text.startswith(FORMULA_TRIGGERS)


class CsvOut:
    """Writes the BOM and a header line on creation, then rows, every cell neutralised."""

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        out.write(BOM)
        self._writer = csv.writer(out, lineterminator="\r\n")
        self._writer.writerow([neutralise(c) for c in self.columns])

    def row(self, values: Iterable[Any]) -> None:
        """One line from values in column order."""
        self._writer.writerow([neutralise(v) for v in values])

    def record(self, mapping: Mapping[str, Any]) -> None:
        """One line from a mapping, by column name (other keys ignored, missing ones empty)."""
        self.row(mapping.get(column) for column in self.columns)
