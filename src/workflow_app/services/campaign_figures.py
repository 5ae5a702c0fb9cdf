"""The figures of a unit's weekly table (附表1/2), this week (本周) and since the campaign began (累计).

A campaign week is Monday to Sunday in Asia/Shanghai: W01 is the week the first weekly
dispatch (`dispatch_start`) falls in, W02 the next, and so on (engine.calendar.week_monday).
What the system knows is prefilled: the unit's enterprises checked, their hazards, and the
enforcement columns 执法检查 and 行政处罚, which are counted from the inspection and penalty
records. A unit may type another value there only with a reason; the submission keeps both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select, union
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI, deadline_passed_at, week_monday
from ..store.models import Campaign, Hazard, Inspection, Organisation, Penalty, SelfInspection
from .errors import InvalidInputError
from .roles import supervised_by

FIGURES = ("enterprises_covered", "hazards_found", "major_found", "rectified", "overdue", "inspections", "penalties",
           "trained")
"""The columns of 附表1/2, each filed for the week (`<figure>_week`) and in total (`<figure>_total`)."""
SPANS = ("week", "total")
COUNTED = ("inspections", "penalties")
"""Counted from enforcement records, not typed: a typed value that differs needs `override_reason`."""


@dataclass(frozen=True)
class WeekWindow:
    """A campaign week: 累计 counts from `since`, 本周 from `week_from`; both until `until` (exclusive)."""

    since: datetime
    week_from: datetime
    until: datetime


def week_window(campaign: Campaign, period: str) -> WeekWindow:
    """The Monday-to-Sunday week (Shanghai) of the campaign's period `W01` …, and the campaign's start."""
    try:
        index = int(period.upper().removeprefix("W")) - 1
    except ValueError:
        raise InvalidInputError(f"a weekly period looks like W01, not {period!r}") from None
    if index < 0:
        raise InvalidInputError(f"a weekly period looks like W01, not {period!r}")
    week_from = datetime.combine(week_monday(campaign.params["dispatch_start"], index), time(0), SHANGHAI)
    return WeekWindow(min(campaign.started_at, week_from), week_from, week_from + timedelta(days=7))


def _enterprises(unit: Organisation) -> Select[Any]:
    """A town's territory, or every enterprise a department supervises (as lead or not)."""
    if unit.kind == "town":
        return select(Organisation.id).where(Organisation.town_id == unit.id)
    return supervised_by(unit.id)


def _days(since: datetime, until: datetime) -> tuple[date, date]:
    """The days (Shanghai) of a window of instants: the first, and the one after the last."""
    return since.astimezone(SHANGHAI).date(), until.astimezone(SHANGHAI).date()


def weekly_figures(session: Session, unit: Organisation, since: datetime,
                   until: datetime | None = None) -> dict[str, int]:
    """What the system knows of a unit's 附表1/2 figures between `since` and `until` (open-ended if None).

    排查企业数 counts the unit's enterprises with a check on record: a hazard reported, a
    self-inspection signed by the principal or an enforcement inspection. 已整改 counts hazards
    closed, 逾期未整改 hazards that fell overdue and are still open, in the window.
    """
    enterprises = _enterprises(unit)
    first = since.astimezone(SHANGHAI).date()
    last = until.astimezone(SHANGHAI).date() if until else date.max

    def within(column: Any) -> tuple[Any, ...]:
        return (column >= since, column < until) if until else (column >= since,)

    of_unit = Hazard.enterprise_id.in_(enterprises)
    hazards = select(func.count(Hazard.id)).where(of_unit, *within(Hazard.reported_at))
    checked = union(
        select(Hazard.enterprise_id).where(of_unit, *within(Hazard.reported_at)),
        select(SelfInspection.enterprise_id).where(SelfInspection.enterprise_id.in_(enterprises),
                                                   *within(SelfInspection.signed_at)),
        select(Inspection.enterprise_id).where(Inspection.enterprise_id.in_(enterprises),
                                               Inspection.inspected_on >= first, Inspection.inspected_on < last))
    figures = {
        "enterprises_covered": session.scalar(select(func.count()).select_from(checked.subquery())) or 0,
        "hazards_found": session.scalar(hazards) or 0,
        "major_found": session.scalar(hazards.where(Hazard.level == "major")) or 0,
        "rectified": session.scalar(select(func.count(Hazard.id)).where(
            of_unit, Hazard.status == "closed", *within(Hazard.closed_at))) or 0,
        "overdue": session.scalar(select(func.count(Hazard.id)).where(
            of_unit, Hazard.status != "closed", *within(Hazard.overdue_since))) or 0,
    }
    return figures | enforcement_counts(session, unit, first, last)


def enforcement_counts(session: Session, unit: Organisation, first: date, last: date) -> dict[str, int]:
    """执法检查 (inspections) and 行政处罚 (penalty cases) of a unit on the days `first` to before `last`.

    A department counts the inspections it carried out and the penalties it decided; a town
    those of the enterprises on its territory, by whichever department. Penalties are counted
    in cases (起): 一案双罚, the fine on the unit and on its principal, is two linked records
    of one case with one case number (案号), so it counts once; the case, not the person
    fined, is what the tables and the statistics of administrative enforcement count.
    """
    inspections = select(func.count(Inspection.id)).where(Inspection.inspected_on >= first,
                                                          Inspection.inspected_on < last)
    cases = select(Penalty.department_id, Penalty.case_number).where(
        Penalty.decided_on >= first, Penalty.decided_on < last).distinct()
    if unit.kind == "town":
        territory = _enterprises(unit)
        inspections = inspections.where(Inspection.enterprise_id.in_(territory))
        cases = cases.where(Penalty.enterprise_id.in_(territory))
    else:
        inspections = inspections.where(Inspection.department_id == unit.id)
        cases = cases.where(Penalty.department_id == unit.id)
    return {"inspections": session.scalar(inspections) or 0,
            "penalties": session.scalar(select(func.count()).select_from(cases.subquery())) or 0}


def form_figures(session: Session, unit: Organisation, window: WeekWindow) -> dict[str, int]:
    """The prefill of a weekly table: every known figure as `<figure>_week` and `<figure>_total`."""
    week = weekly_figures(session, unit, window.week_from, window.until)
    total = weekly_figures(session, unit, window.since, window.until)
    return {**{f"{k}_week": v for k, v in week.items()}, **{f"{k}_total": v for k, v in total.items()}}


def counted_values(session: Session, unit: Organisation, window: WeekWindow) -> dict[str, int]:
    """The enforcement columns as counted from records (`inspections_week` … `penalties_total`)."""
    week = enforcement_counts(session, unit, *_days(window.week_from, window.until))
    total = enforcement_counts(session, unit, *_days(window.since, window.until))
    return {**{f"{k}_week": v for k, v in week.items()}, **{f"{k}_total": v for k, v in total.items()}}


def overridden(typed: Mapping[str, Any], counted: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """The counted fields whose typed value differs: field → (counted, typed). Unreadable values are left
    to the form's own validation."""
    differs = {}
    for field_id, value in counted.items():
        try:
            number = int(str(typed.get(field_id, value)))
        except ValueError:
            continue
        if number != value:
            differs[field_id] = (value, number)
    return differs


def totals_below_week(typed: Mapping[str, Any]) -> list[str]:
    """The figures whose typed 累计 is less than their 本周 (a total includes its week)."""
    below = []
    for figure in FIGURES:
        try:
            week, total = int(str(typed[f"{figure}_week"])), int(str(typed[f"{figure}_total"]))
        except (KeyError, ValueError):
            continue
        if total < week:
            below.append(figure)
    return below


def reporting_ends_at(campaign: Campaign) -> datetime:
    """The instant a campaign's period ends (the end of its summary phase's last day, Asia/Shanghai): hazards
    reported from its start until then are the campaign's (running counts, 附表3, the reward rule)."""
    return datetime.fromisoformat(deadline_passed_at(campaign.params["summary_end"]))
