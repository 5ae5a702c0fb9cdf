"""Write a table as the plan prints it: a merged title row, a header row, widths, frozen header.

The workbook is written in openpyxl's write-only mode: rows stream to the file, so a table
of tens of thousands of rows takes seconds and little memory. Every cell goes through
`_cell`: text is inert (cells.py), so stored as a string, never as a formula, and loses the
control characters XLSX cannot hold (one typed into a title would otherwise fail the export).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from .cells import inert

THIN = Side(style="thin", color="999999")


def _cell(value: Any) -> Any:
    """`value` as a cell: numbers and dates as they are, text inert and without characters XLSX cannot hold.

    Inert text never starts with "=", so openpyxl stores it as a string, never as a formula;
    plain values (not a cell object each) keep a 450,000-cell export fast.
    """
    value = inert(value)
    if isinstance(value, str) and not value.isprintable():  # the rare text with control characters
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _styled(ws: WriteOnlyWorksheet, value: str, font: Font, border: Border | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_cell(value))
    cell.font = font
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    if border is not None:
        cell.border = border
    return cell


def write_table(out: IO[bytes], title: str, columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[Any]],
                sheet: str = "Sheet1") -> int:
    """Write `rows` under `columns` ((header, width) pairs) to `out`; return the number of rows."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    for index, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A3"
    ws.merged_cells.add(f"A1:{get_column_letter(len(columns))}1")
    ws.append([_styled(ws, title, Font(size=14, bold=True))])
    box = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
    ws.append([_styled(ws, header, Font(bold=True), box) for header, _ in columns])
    count = 0
    for row in rows:
        ws.append([_cell(value) for value in row])
        count += 1
    book.save(out)
    return count


def sheet_bytes(rows: Iterable[Sequence[Any]], sheet: str) -> bytes:
    """`rows` as the bytes of a plain one-sheet workbook (no title row), e.g. a list in an import format."""
    return workbook_bytes([(sheet, rows)])


def workbook_bytes(sheets: Iterable[tuple[str, Iterable[Sequence[Any]]]]) -> bytes:
    """Plain sheets ((name, rows) each, the header first) as the bytes of one workbook: a file in an import format."""
    book = Workbook(write_only=True)
    for sheet, rows in sheets:
        ws = book.create_sheet(sheet[:31])
        ws.freeze_panes = "A2"
        for row in rows:
            ws.append([_cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
