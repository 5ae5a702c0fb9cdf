"""Services the shipped models call from their service tasks (see engine/service_tasks.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ..engine import register_service
from ..engine.calendar import SHANGHAI, shift_working_days, working_days_before

PERMIT_VALIDITY_HOURS = {("hot_work", "special"): 8, ("hot_work", "first"): 8, ("hot_work", "second"): 72,
                         ("confined_space", None): 24}
"""GB 30871-2022: special and first-grade hot work permits last at most 8 h, second-grade 72 h,
a confined-space permit 24 h. For the other operations the standard ties the permit to the
job; we close them after 24 h unless renewed."""
DEFAULT_VALIDITY_HOURS = 24


@register_service("permit_validity")
def permit_validity(data: Mapping[str, Any], now: datetime, params: Mapping[str, str]) -> dict[str, Any]:
    """When an approved permit stops being valid: `valid_until` (UTC ISO text) and `valid_hours`."""
    kind, grade = data["operation_kind"], data.get("grade")
    hours = PERMIT_VALIDITY_HOURS.get((kind, grade), PERMIT_VALIDITY_HOURS.get((kind, None),
                                                                               DEFAULT_VALIDITY_HOURS))
    return {"valid_hours": hours, "valid_until": (now + timedelta(hours=hours)).isoformat()}


@register_service("working_day_deadline")
def working_day_deadline(data: Mapping[str, Any], now: datetime, params: Mapping[str, str]) -> dict[str, Any]:
    """A date `working_days` working days after today (Chinese calendar, Asia/Shanghai).

    `working_days` comes from the task's property, else the data, else 5; the result goes
    into the variable the property `output` names (default `deadline`).
    """
    days = int(params.get("working_days") or data.get("working_days", 5))
    if not 0 < days <= 365:
        raise ValueError(f"working_days must be between 1 and 365, got {days}")
    return {params.get("output", "deadline"): shift_working_days(now.astimezone(SHANGHAI).date(), days).isoformat()}


@register_service("opening_ahead")
def opening_ahead(data: Mapping[str, Any], now: datetime, params: Mapping[str, str]) -> dict[str, Any]:
    """When a unit's report opens: 09:00 Shanghai `working_days` working days before the date in `due_field`.

    The result (ISO text) goes into the variable the property `output` names (default `opens_at`).
    """
    days = int(params.get("working_days") or 10)
    if not 0 <= days <= 365:
        raise ValueError(f"working_days must be between 0 and 365, got {days}")
    return {params.get("output", "opens_at"): working_days_before(data[params["due_field"]], days)}
