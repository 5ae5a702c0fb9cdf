"""The one rule for spreadsheet cells that leave the system: text is never a formula.

A cell whose text starts with = + - @, a tab or a carriage return is run as a formula by
Excel, WPS or LibreOffice (CSV injection, OWASP): `=HYPERLINK(...)` typed as a hazard's
title would become a live link in the office's ledger. Such text gets a leading `'`, the
spreadsheet convention for "this is text"; numbers and dates stay as they are, so a
negative number is still a number. Both writers (csv_file.py, xlsx.py) pass every cell
through `inert`, and an import of our own export takes the `'` off again (`restored`).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def inert(value: Any) -> Any:
    """`value` as a cell no spreadsheet will run: formula-like text gets a leading `'`, anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARK + value
    return value


def restored(text: str) -> str:
    """Text read back from a cell, without the `'` that `inert` put in front of formula-like text."""
    if text.startswith(TEXT_MARK) and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
