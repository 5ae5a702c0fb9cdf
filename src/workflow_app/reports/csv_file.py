"""CSV files as the office opens them: UTF-8 with a BOM (Excel then reads Chinese), every cell inert."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import IO, Any

from .cells import inert


def write_csv(out: IO[bytes], headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write `headers` and `rows` to `out`, each cell through `cells.inert`; return the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow([inert(header) for header in headers])
    count = 0
    for row in rows:
        writer.writerow([inert(value) for value in row])
        count += 1
    text.flush()
    text.detach()
    return count


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    """`rows` (the header first) as the bytes of a CSV file."""
    out = io.BytesIO()
    write_csv(out, rows[0], rows[1:])
    return out.getvalue()
