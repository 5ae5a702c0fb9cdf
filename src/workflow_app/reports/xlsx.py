"""Write a table as the plan prints it: a merged title row, a header row, widths, frozen header."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

THIN = Side(style="thin", color="999999")


def write_table(out: IO[bytes], title: str, columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[Any]],
                sheet: str = "Sheet1") -> int:
    """Write `rows` under `columns` ((header, width) pairs) to `out`; return the number of rows."""
    book = Workbook(write_only=False)
    ws = book.active
    ws.title = sheet[:31]
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    ws["A1"].font = Font(size=14, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([header for header, _ in columns])
    for index, (_, width) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
        cell = ws.cell(row=2, column=index)
        cell.font, cell.border = Font(bold=True), Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    count = 0
    for row in rows:
        ws.append(list(row))
        count += 1
    ws.freeze_panes = "A3"
    book.save(out)
    return count
