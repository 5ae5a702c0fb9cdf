"""Figures per town and per department over a period, from the hazard records.

Counts are grouped by enterprise in the database and rolled up to towns (territory) and
departments here, so one pass serves both views. An enterprise several departments supervise
counts under its lead department only, as under its one town, so the departments' figures add
up to the zone's total as the towns' do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.models import Hazard, Organisation, SelfInspection, SelfInspectionAnswer, Supervision

FIGURES = ("found", "major", "closed", "overdue", "inspected", "items_checked")
"""`inspected`: enterprises with a self-inspection signed in the period; `items_checked`: its checklist items."""
OPEN_EXCLUDED = ("closed", "rejected")


@dataclass
class UnitFigures:
    """One unit's figures for the period, and found in the period before (week over week)."""

    name: str
    figures: Counter[str] = field(default_factory=Counter)
    found_before: int = 0

    @property
    def change(self) -> int:
        return self.figures["found"] - self.found_before


@dataclass
class PeriodStatistics:
    """Figures for a period: the whole zone, each town, each department."""

    start: date
    end: date  # exclusive
    total: Counter[str]
    towns: list[UnitFigures]
    departments: list[UnitFigures]


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in Asia/Shanghai."""
    return datetime.combine(day, time(0, 0), SHANGHAI)


def _by_enterprise(session: Session, *conditions: object) -> Counter[int]:
    query = select(Hazard.enterprise_id, func.count(Hazard.id)).where(*conditions).group_by(Hazard.enterprise_id)
    return Counter({enterprise_id: count for enterprise_id, count in session.execute(query)})


def period_statistics(session: Session, start: date, end: date) -> PeriodStatistics:
    """Found / major / closed in [start, end), overdue at `end`; found in the period of equal length before.

    Each enterprise counts under its town and its lead department only, so either list adds up to the total.
    """
    since, until = start_of_day(start), start_of_day(end)
    previous = start_of_day(start - (end - start))
    per_enterprise = {
        "found": _by_enterprise(session, Hazard.reported_at >= since, Hazard.reported_at < until),
        "major": _by_enterprise(session, Hazard.reported_at >= since, Hazard.reported_at < until,
                                Hazard.level == "major"),
        "closed": _by_enterprise(session, Hazard.closed_at >= since, Hazard.closed_at < until),
        "overdue": _by_enterprise(session, (Hazard.rectification_deadline < end) | (Hazard.overdue_since < until),
                                  Hazard.status.not_in(OPEN_EXCLUDED)),
    }
    signed = (SelfInspection.signed_at >= since, SelfInspection.signed_at < until)
    per_enterprise["inspected"] = Counter(dict.fromkeys(session.scalars(
        select(SelfInspection.enterprise_id).where(*signed).distinct()), 1))
    per_enterprise["items_checked"] = Counter(dict(session.execute(
        select(SelfInspection.enterprise_id, func.count(SelfInspectionAnswer.id))
        .join(SelfInspectionAnswer, SelfInspectionAnswer.self_inspection_id == SelfInspection.id)
        .where(*signed).group_by(SelfInspection.enterprise_id)).all()))
    found_before = _by_enterprise(session, Hazard.reported_at >= previous, Hazard.reported_at < since)
    enterprises = list(session.execute(select(Organisation.id, Organisation.town_id, Supervision.department_id)
                                       .outerjoin(Supervision, (Supervision.enterprise_id == Organisation.id)
                                                  & Supervision.is_lead.is_(True))
                                       .where(Organisation.kind == "enterprise")))
    names = {org_id: name for org_id, name in session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.kind.in_(("town", "department"))))}
    kinds = {org_id: kind for org_id, kind in session.execute(
        select(Organisation.id, Organisation.kind).where(Organisation.kind.in_(("town", "department"))))}
    units = {org_id: UnitFigures(names[org_id]) for org_id in sorted(names)}
    total: Counter[str] = Counter()
    for enterprise_id, town_id, lead_department_id in enterprises:
        targets = [u for u in (town_id, lead_department_id) if u in units]
        for figure in FIGURES:
            count = per_enterprise[figure][enterprise_id]
            total[figure] += count
            for unit in targets:
                units[unit].figures[figure] += count
        for unit in targets:
            units[unit].found_before += found_before[enterprise_id]
    return PeriodStatistics(start, end, total,
                            [u for i, u in units.items() if kinds[i] == "town"],
                            [u for i, u in units.items() if kinds[i] == "department"])


def week_of(day: date) -> tuple[date, date]:
    """Monday of `day`'s week and the Monday after."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def month_of(month: str) -> tuple[date, date]:
    """First day of `YYYY-MM` and the first day of the month after."""
    first = date.fromisoformat(f"{month}-01")
    return first, (first + timedelta(days=32)).replace(day=1)


def iso_week(day: date) -> str:
    """`YYYY-Www` of the ISO week `day` falls in."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
