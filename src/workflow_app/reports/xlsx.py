"""Write a table as the plan prints it: a merged title row, a header row, widths, frozen header.

XlsxWriter writes in constant-memory mode: a row goes to the file as soon as the next one
starts, so rows must come in order (they do: `_Sheet.append` numbers them) and a table of
200,000 rows takes some 25 MB. Its cell writer is most of an export's time still (about
7 µs a cell, a fifth less than openpyxl's write-only mode; bench/reports.py).

Every cell goes through `_Sheet.append`, never XlsxWriter's `write()` (which turns text
starting with "=" into a formula and text looking like a URL into a link): text is written
with `write_string`, so it is a string cell whatever it looks like, after `_text` made it
safe. Numbers and dates keep their type.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from .cells import inert

OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
           "strings_to_urls": False}
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters an XLSX cell cannot hold as text (as openpyxl's ILLEGAL_CHARACTERS_RE)."""
HEADER = {"bold": True, "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1,
          "border_color": "#999999"}
TITLE = {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter", "text_wrap": True}


def _text(value: str) -> str:
    """Text as a cell holds it: without control characters XLSX cannot hold, inert, line breaks as Excel's (LF).

    The control characters go first, so that one in front of "=" cannot hide a formula from `inert`;
    CR becomes LF after `inert` saw it (XlsxWriter would write it as `_x000D_`, which openpyxl reads as such).
    """
    if value.isprintable():
        return inert(value)
    return inert(ILLEGAL.sub("", value)).replace("\r\n", "\n").replace("\r", "\n")


class _Sheet:
    """A worksheet filled row after row, each cell written by its type."""

    def __init__(self, book: Workbook, name: str):
        self.ws: Worksheet = book.add_worksheet(name[:31])
        self.row = 0
        self.day = book.add_format({"num_format": "yyyy-mm-dd"})
        self.moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})

    def append(self, values: Iterable[Any], style: Format | None = None) -> None:
        ws, row = self.ws, self.row
        for column, value in enumerate(values):
            kind = type(value)
            if kind is str:
                self._string(column, _text(value), style)
            elif kind is int or kind is float:
                ws.write_number(row, column, value, style)
            elif kind is Decimal:
                ws.write_number(row, column, float(value), style)
            elif kind is bool:
                ws.write_boolean(row, column, value, style)
            elif isinstance(value, datetime):
                ws.write_datetime(row, column, value, style or self.moment)
            elif isinstance(value, date):
                ws.write_datetime(row, column, value, style or self.day)
            elif value is not None:
                self._string(column, _text(str(value)), style)
            elif style is not None:
                ws.write_blank(row, column, None, style)
        self.row += 1

    def _string(self, column: int, text: str, style: Format | None) -> None:
        if text.startswith("<r>") and text.endswith("</r>"):
            # In constant-memory mode XlsxWriter takes a string of this shape for its own rich-string XML
            # and puts it into the sheet unescaped: typed text could add cells, formulas among them.
            # As a rich string of three runs it is escaped like any text and reads back the same.
            self.ws.write_rich_string(self.row, column, text[0], text[1], text[2:], *([style] if style else []))
        else:
            self.ws.write_string(self.row, column, text, style)


def write_table(out: IO[bytes], title: str, columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[Any]],
                sheet: str = "Sheet1") -> int:
    """Write `rows` under `columns` ((header, width) pairs) to `out`; return the number of rows."""
    with Workbook(out, OPTIONS) as book:
        table = _Sheet(book, sheet)
        for index, (_, width) in enumerate(columns):
            table.ws.set_column(index, index, width)
        table.ws.freeze_panes(2, 0)
        title_style = book.add_format(TITLE)
        if len(columns) > 1:
            table.ws.merge_range(0, 0, 0, len(columns) - 1, "", title_style)
        table.append([title], title_style)  # over the merged range's first cell, as a string cell
        table.append([header for header, _ in columns], book.add_format(HEADER))
        count = 0
        for row in rows:
            table.append(row)
            count += 1
    return count


def sheet_bytes(rows: Iterable[Sequence[Any]], sheet: str) -> bytes:
    """`rows` as the bytes of a plain one-sheet workbook (no title row), e.g. a list in an import format."""
    return workbook_bytes([(sheet, rows)])


def workbook_bytes(sheets: Iterable[tuple[str, Iterable[Sequence[Any]]]]) -> bytes:
    """Plain sheets ((name, rows) each, the header first) as the bytes of one workbook: a file in an import format."""
    out = io.BytesIO()
    with Workbook(out, OPTIONS) as book:
        for name, rows in sheets:
            table = _Sheet(book, name)
            table.ws.freeze_panes(1, 0)
            for row in rows:
                table.append(row)
    return out.getvalue()
