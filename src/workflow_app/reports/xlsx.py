"""Write a table as the plan prints it: a merged title row, a bold header row, widths, frozen header.

The rows stream through `xlsx_writer` (constant memory, one pass), which makes every text cell an
inert string cell: a table of 200,000 rows is written without holding it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import IO, Any

from .xlsx_writer import Book, Style


def write_table(out: IO[bytes], title: str, columns: Sequence[tuple[str, int]], rows: Iterable[Sequence[Any]],
                sheet: str = "Sheet1") -> int:
    """Write `rows` under `columns` ((header, width) pairs) to `out`; return the number of rows."""
    with Book(out) as book:
        table = book.sheet(sheet, [width for _, width in columns], frozen_rows=2)
        if len(columns) > 1:
            table.merge(0, 0, 0, len(columns) - 1)
        table.append([title, *[None] * (len(columns) - 1)], Style.TITLE)
        table.append([header for header, _ in columns], Style.HEADER)
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
    with Book(out) as book:
        for name, rows in sheets:
            table = book.sheet(name, frozen_rows=1)
            for row in rows:
                table.append(row)
    return out.getvalue()
