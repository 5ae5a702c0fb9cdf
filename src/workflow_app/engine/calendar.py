"""Working-day arithmetic on the Chinese calendar, in Asia/Shanghai.

Deadlines in the plan are dates ("整改时限"): a deadline date means "by the end of that
day, Shanghai time". The functions here are exposed to timer expressions in the BPMN,
so the escalation policy reads on the diagram as, e.g.,
``working_days_before(rectification_deadline, 3)``.

Which days are holidays is data, not code: a `WorkingCalendar` from the source the
application installs with `use_calendar` (the holiday table the office keeps, through
services/holiday_calendar.py); with none installed, the chinese_calendar package's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE_HOUR = time(9, 0)
"""Reminders and escalations go out at the start of a working day."""


@dataclass(frozen=True)
class WorkingCalendar:
    """The days that differ from Monday to Friday, for the years whose official schedule is known.

    The State Council's yearly notice (国务院办公厅关于某年部分节假日安排的通知) makes some
    weekdays holidays (放假) and some weekend days working days (调休上班). A year not in
    `years` has no such data: it counts Monday to Friday (services/holidays.py flags it).
    """

    years: frozenset[int] = frozenset()
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        """A working weekend day (调休上班) works, a holiday rests, otherwise Monday to Friday."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def library_calendar() -> WorkingCalendar:
    """The schedule the `chinese_calendar` package ships (its years only): the seed of the holiday table."""
    years = frozenset(day.year for day in chinese_calendar.holidays)
    return WorkingCalendar(years, frozenset(d for d in chinese_calendar.holidays if d.weekday() < 5),
                           frozenset(d for d in chinese_calendar.workdays if d.weekday() >= 5))


CalendarSource = Callable[[], WorkingCalendar]
_source: list[CalendarSource] = [functools.cache(library_calendar)]


def use_calendar(source: CalendarSource) -> None:
    """Make `source` what every working-day computation asks (the application installs the holiday table's)."""
    _source[0] = source


def current_calendar() -> WorkingCalendar:
    """The calendar working days are counted on now: the installed source's, else the package's own."""
    return _source[0]()


def is_working_day(day: date) -> bool:
    """Statutory holidays and adjusted working days where known, else Monday to Friday."""
    return current_calendar().is_working_day(day)


MAX_WORKING_DAYS = 1_000
"""Furthest a deadline may be shifted (about four years): models call these helpers with their own numbers."""


def shift_working_days(day: date, count: int) -> date:
    """The working day `count` working days after (count > 0) or before (< 0) `day`."""
    if abs(count) > MAX_WORKING_DAYS:
        raise ValueError(f"{count} working days is beyond the {MAX_WORKING_DAYS} a deadline may be shifted")
    working = current_calendar().is_working_day
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    current = day
    while remaining:
        current += timedelta(days=step)
        if working(current):
            remaining -= 1
    return current


def as_date(value: date | str) -> date:
    """Accept a date or its ISO text, as stored in process data."""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def deadline_passed_at(deadline: date | str) -> str:
    """The instant a deadline date is missed: midnight after it, Shanghai time (ISO)."""
    end = datetime.combine(as_date(deadline) + timedelta(days=1), time(0, 0), SHANGHAI)
    return end.isoformat()


def working_days_before(deadline: date | str, count: int) -> str:
    """09:00 Shanghai on the working day `count` working days before the deadline."""
    day = shift_working_days(as_date(deadline), -count)
    return datetime.combine(day, NOTICE_HOUR, SHANGHAI).isoformat()


def working_days_after(deadline: date | str, count: int) -> str:
    """09:00 Shanghai on the working day `count` working days after the deadline."""
    day = shift_working_days(as_date(deadline), count)
    return datetime.combine(day, NOTICE_HOUR, SHANGHAI).isoformat()


def at_notice_hour(day: date | str) -> str:
    """09:00 Shanghai on `day`, or on the next working day if it is not one (ISO)."""
    current = as_date(day)
    while not is_working_day(current):
        current += timedelta(days=1)
    return datetime.combine(current, NOTICE_HOUR, SHANGHAI).isoformat()


def weekly_dispatch_at(start: date | str, week: int) -> str:
    """When the `week`-th weekly dispatch (周调度) goes out, counting from 0 at `start`."""
    return at_notice_hour(as_date(start) + timedelta(weeks=int(week)))


def week_monday(start: date | str, week: int) -> date:
    """The Monday of the `week`-th dispatch week (0 = the Monday-to-Sunday week `start` falls in)."""
    first = as_date(start)
    return first - timedelta(days=first.weekday()) + timedelta(weeks=int(week))


def weekly_due_on(start: date | str, week: int, days: int, previous: date | str | None, *taken: date | str) -> str:
    """The due date (ISO) of the `week`-th weekly table: `days` working days after its dispatch, but always
    after the previous week's due date and never on another due date of the same units (`taken`).

    A dispatch day that is a holiday moves to the next working day, so two dispatches can go out together
    (2023: the ones of 29 September and 6 October both on Saturday 7 October); without the rule their
    tables would both be due on 9 October.
    """
    due = shift_working_days(as_date(weekly_dispatch_at(start, week)), int(days))
    floor = as_date(previous) if previous else None
    busy = {as_date(day) for day in taken if day}
    while (floor is not None and due <= floor) or due in busy:
        due = shift_working_days(due, 1)
    return due.isoformat()


def more_weeks(start: date | str, week: int, until: date | str) -> bool:
    """Whether the `week`-th dispatch still falls on or before the date `until`."""
    return as_date(weekly_dispatch_at(start, week)) <= as_date(until)


def monthly_bulletin_at(start: date | str, month: int) -> str:
    """The first working day of the `month`-th month after the one `start` falls in (月通报)."""
    first = as_date(start).replace(day=1)
    index = first.month - 1 + int(month) + 1
    return at_notice_hour(first.replace(year=first.year + index // 12, month=index % 12 + 1))


def bulletin_period(start: date | str, month: int) -> str:
    """The month (YYYY-MM) the `month`-th bulletin reports on: the one before it goes out."""
    first = as_date(start).replace(day=1)
    index = first.month - 1 + int(month)
    return f"{first.year + index // 12:04d}-{index % 12 + 1:02d}"


def more_months(start: date | str, month: int, until: date | str) -> bool:
    """Whether the `month`-th bulletin still falls on or before the date `until`."""
    return as_date(monthly_bulletin_at(start, month)) <= as_date(until)


SCRIPT_FUNCTIONS = {
    "at_notice_hour": at_notice_hour,
    "weekly_dispatch_at": weekly_dispatch_at,
    "more_weeks": more_weeks,
    "weekly_due_on": weekly_due_on,
    "monthly_bulletin_at": monthly_bulletin_at,
    "more_months": more_months,
    "bulletin_period": bulletin_period,
    "deadline_passed_at": deadline_passed_at,
    "working_days_before": working_days_before,
    "working_days_after": working_days_after,
}
"""What timer expressions and script tasks in our models may call."""
