"""Working-day arithmetic on the Chinese calendar, in Asia/Shanghai.

Deadlines in the plan are dates ("整改时限"): a deadline date means "by the end of that
day, Shanghai time". The functions here are exposed to timer expressions in the BPMN,
so the escalation policy reads on the diagram as, e.g.,
``working_days_before(rectification_deadline, 3)``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE_HOUR = time(9, 0)
"""Reminders and escalations go out at the start of a working day."""


def is_working_day(day: date) -> bool:
    """Statutory holidays and adjusted working days where known, else Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package has no schedule for yet
        return day.weekday() < 5


def shift_working_days(day: date, count: int) -> date:
    """The working day `count` working days after (count > 0) or before (< 0) `day`."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    current = day
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current):
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


SCRIPT_FUNCTIONS = {
    "deadline_passed_at": deadline_passed_at,
    "working_days_before": working_days_before,
    "working_days_after": working_days_after,
}
"""What timer expressions and script tasks in our models may call."""
