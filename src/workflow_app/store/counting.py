"""Conditional counts for figures read in one pass over a table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func


def count_where(condition: ColumnElement[bool]) -> Any:
    """COUNT(*) FILTER (WHERE condition): both databases (SQLite ≥ 3.30) read it in the same pass as the other
    figures of the query, and it is 0, not NULL, when no row matches."""
    return func.count().filter(condition)
