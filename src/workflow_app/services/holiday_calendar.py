"""The holiday table as the engine's working calendar, cached per process.

engine/ knows nothing of SQL, so it asks a calendar source (engine.calendar.use_calendar)
for a `WorkingCalendar`; this module is that source. Deadlines are computed inside engine
steps, i.e. inside a transaction the services opened, so the check for a newer table runs
on that transaction's own connection (a second connection would wait on SQLite's write
lock): `follow(factory)` notes each transaction's connection as it begins, and the first
working-day computation of a transaction reads `calendar_years` (a handful of rows: each
year's token changes when the year is written). Only when a token differs are the days
loaded again. A transaction that counts no working days pays nothing; one that does pays
one small query; every process sees an import at its next transaction.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from ..engine.calendar import WorkingCalendar, library_calendar, use_calendar
from ..store.models import CalendarDay, CalendarYear

_unchecked: ContextVar[Connection | None] = ContextVar("holiday_calendar_unchecked", default=None)
"""The connection of the transaction running in this context, until its calendar has been checked."""
_lock = threading.Lock()
_cached: dict[str, Any] = {"key": None, "calendar": library_calendar()}
"""Until a transaction has read the table: the package's own calendar, as engine/ uses without a source."""


def follow(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Make working days in this factory's transactions come from the holiday table; returns `factory`."""
    if not event.contains(factory, "after_begin", _began):
        event.listen(factory, "after_begin", _began)
        event.listen(factory, "after_transaction_end", _ended)
    use_calendar(current)
    return factory


def _began(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    if transaction.parent is None:
        _unchecked.set(connection)


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        _unchecked.set(None)


def current() -> WorkingCalendar:
    """The holiday table's calendar, checked once per transaction (outside one: the last one read)."""
    connection = _unchecked.get()
    if connection is not None:
        _unchecked.set(None)
        key = tuple(connection.execute(select(CalendarYear.year, CalendarYear.token)
                                       .order_by(CalendarYear.year)).all())
        if key != _cached["key"]:
            calendar = load(connection, frozenset(year for year, _ in key))
            with _lock:
                _cached.update(key=key, calendar=calendar)
    return _cached["calendar"]  # type: ignore[no-any-return]


def load(connection: Connection | Session, years: frozenset[int]) -> WorkingCalendar:
    """The calendar of the table's complete `years` (days of other years are not trusted)."""
    rows = connection.execute(select(CalendarDay.day, CalendarDay.kind)).all()
    holidays = frozenset(day for day, kind in rows if kind == "holiday" and day.year in years)
    workdays = frozenset(day for day, kind in rows if kind == "workday" and day.year in years)
    return WorkingCalendar(years, holidays, workdays)


def forget() -> None:
    """Drop the cached calendar (the next transaction that counts working days reads the table)."""
    with _lock:
        _cached.update(key=None, calendar=library_calendar())
