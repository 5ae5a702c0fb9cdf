"""The holiday table (节假日): where working days come from, its import, and the yearly routine.

Working days follow the State Council's yearly notice on holiday arrangements (国务院办公厅
关于某年部分节假日安排的通知): its days off (放假) and its weekend working days (调休上班).
`calendar_days` holds the days that differ from Monday to Friday and `calendar_years` the
years whose schedule is complete. init-db seeds the years the chinese_calendar package knows;
the office imports each new year from the notice (CSV, services/holiday_csv.py), and an import
replaces the years in its file whole. A year with no data counts Monday to Friday, and says
so: on the pages that show a deadline in it, in /healthz, and in December in a notice asking
the office to import next year's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI, library_calendar
from ..store.models import CalendarDay, CalendarYear, Notice, Organisation, User
from . import audit
from .errors import ConflictError, PermissionDeniedError
from .holiday_csv import HolidayRow
from .notices import channels_of

LIBRARY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}
DEADLINE_REACH = timedelta(days=10)
"""How far around a deadline the models count working days: reminders 2-3 working days before it,
escalation 5 after (bpmn/*.bpmn); ten calendar days either side covers them, New Year included."""
REMINDER_MONTH = 12
"""From 1 December the office is asked for next year's schedule (the notice usually comes out in
November), and /healthz reports it missing."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: the years replaced, and how many days off and working weekend days."""

    years: list[int]
    holidays: int
    workdays: int


def seed(session: Session, now: datetime) -> list[int]:
    """Fill in, from the chinese_calendar package, each year it knows that the table has not (never an import)."""
    library = library_calendar()
    have = set(session.scalars(select(CalendarYear.year)))
    years = sorted(library.years - have)
    if not years:
        return []
    days = [CalendarDay(day=day, kind=kind, name=_library_name(day), source="library", imported_at=now)
            for kind, chosen in (("holiday", library.holidays), ("workday", library.workdays))
            for day in sorted(chosen) if day.year in years]
    session.add_all(days)
    session.add_all(CalendarYear(year=year, source="library", imported_at=now, token=secrets.token_hex(16))
                    for year in years)
    session.flush()
    return years


def _library_name(day: date) -> str:
    _, name = chinese_calendar.get_holiday_detail(day)
    return LIBRARY_NAMES.get(str(name), str(name or "")) + ("调休" if day.weekday() >= 5 else "")


def require_office(actor: User) -> None:
    """The holiday table is the office's: others neither see its page nor import."""
    if actor.role != "office":
        raise PermissionDeniedError("节假日安排由安委办维护")


def import_rows(session: Session, actor: User, rows: list[HolidayRow], now: datetime) -> ImportSummary:
    """Replace every year the rows name with exactly those rows (office only; audited with a summary).

    The rows were checked whole by holiday_csv.read_rows; the caller's transaction makes the
    replacement all or nothing. Two imports of one year at once: the years' rows are locked, so
    the second waits and then replaces the first whole; a year both add anew refuses the second.
    """
    require_office(actor)
    years = sorted({row.day.year for row in rows})
    entries = {entry.year: entry for entry in session.scalars(
        select(CalendarYear).where(CalendarYear.year.in_(years)).with_for_update())}
    replaced = 0
    for year in years:
        replaced += session.connection().execute(delete(CalendarDay).where(_in_year(year))).rowcount
        entry = entries.get(year) or CalendarYear(year=year)
        entry.source, entry.imported_at, entry.imported_by_id = "import", now, actor.id
        entry.token = secrets.token_hex(16)
        session.add(entry)
    session.add_all(CalendarDay(day=row.day, kind=row.kind, name=row.name, source="import", imported_at=now,
                                imported_by_id=actor.id) for row in rows)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError("节假日安排刚被他人导入，未导入任何内容；请刷新后重试") from None
    summary = ImportSummary(years, sum(r.kind == "holiday" for r in rows), sum(r.kind == "workday" for r in rows))
    audit.record(session, actor, "import_holidays", "calendar", ",".join(map(str, years)),
                 {"years": years, "holidays": summary.holidays, "workdays": summary.workdays,
                  "replaced_days": replaced}, now)
    return summary


def known_years(session: Session) -> list[CalendarYear]:
    """The years with a complete schedule, newest first."""
    return list(session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc())))


def days_of(session: Session, year: int) -> list[CalendarDay]:
    """The table's days of `year`, in date order."""
    return list(session.scalars(select(CalendarDay).where(_in_year(year)).order_by(CalendarDay.day)))


def _in_year(year: int) -> ColumnElement[bool]:
    return CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))


def missing_years(session: Session, *years: int) -> list[int]:
    """Which of `years` have no schedule (their working days count Monday to Friday)."""
    have = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(set(years)))))
    return sorted(set(years) - have)


def missing_around(session: Session, *deadlines: date | None) -> list[int]:
    """The years without a schedule that the working days counted around these deadlines reach."""
    years = {(day + offset).year for day in deadlines if day is not None
             for offset in (-DEADLINE_REACH, timedelta(0), DEADLINE_REACH)}
    return missing_years(session, *years) if years else []


def years_due(session: Session, now: datetime) -> list[int]:
    """The years that should be in the table by now: this year, and from 1 December the next, if missing."""
    today = now.astimezone(SHANGHAI).date()
    wanted = [today.year] + ([today.year + 1] if today.month >= REMINDER_MONTH else [])
    return missing_years(session, *wanted)


def health_warning(session: Session, now: datetime) -> str | None:
    """/healthz's line on the holiday table, e.g. "holiday calendar for 2027 missing"; None when complete."""
    missing = years_due(session, now)
    return f"holiday calendar for {', '.join(map(str, missing))} missing" if missing else None


def remind_office(session: Session, now: datetime) -> int:
    """In December, ask the office once (per year and channel) to import next year's schedule; notices queued."""
    today = now.astimezone(SHANGHAI).date()
    year = today.year + 1
    office = session.scalar(select(Organisation).where(Organisation.kind == "office").limit(1))
    if today.month < REMINDER_MONTH or office is None or not missing_years(session, year):
        return 0
    subject = f"请导入 {year} 年节假日安排"
    body = (f"{subject}\n系统尚无 {year} 年的放假和调休上班安排，届时整改时限等将按周一至周五计算。\n"
            f"请依据国务院办公厅关于 {year} 年部分节假日安排的通知，在“节假日”页面或用 "
            "workflow-app holidays import 导入。")
    queued = 0
    for channel in channels_of(office):
        key = f"holidays:{year}:{office.id}:{channel}"
        if session.scalar(select(Notice.id).where(Notice.idempotency_key == key)) is None:
            delivered = channel == "in_app"
            session.add(Notice(idempotency_key=key, channel=channel, kind="holiday_calendar",
                               recipient_org_id=office.id, subject=subject, body=body, created_at=now,
                               status="sent" if delivered else "pending", sent_at=now if delivered else None))
            queued += 1
    return queued
