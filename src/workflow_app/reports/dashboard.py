"""The dashboard's figures: the last weeks' found / closed / overdue, overdue by unit, risk colours."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..store.models import Hazard, HazardJudgedItem, Organisation, Sector, Standard, StandardItem
from .charts import bar_chart
from .statistics import OPEN_EXCLUDED, PeriodStatistics, period_statistics, start_of_day, week_of

RISK_COLOURS = {"red": ("重大风险", "#c92a2a"), "orange": ("较大风险", "#e8590c"), "yellow": ("一般风险", "#f59f00"),
                "blue": ("低风险", "#1c7ed6")}
SERIES_COLOURS = ("#1d3557", "#2b8a3e", "#c92a2a")
TOP_ITEMS = 5
TOP_ITEMS_DAYS = 365


@dataclass(frozen=True)
class ViolatedItem:
    """An item of a standard and how many hazards of a sector were judged against it."""

    standard: str
    number: str
    text: str
    hazards: int


@dataclass
class Dashboard:
    """The charts (SVG) and the week they end on."""

    week_start: date
    weekly_chart: str
    towns_chart: str
    departments_chart: str
    risk_chart: str
    this_week: PeriodStatistics
    violated_items: dict[str, list[ViolatedItem]]  # sector name → its most violated items, most first


def dashboard(session: Session, today: date, weeks: int = 8) -> Dashboard:
    monday, _ = week_of(today)
    starts = [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    totals = weekly_totals(session, starts)
    labels = [f"{s.month}/{s.day}" for s in starts]
    weekly = bar_chart("每周隐患发现、销号与逾期", labels,
                       {"发现": [t["found"] for t in totals], "销号": [t["closed"] for t in totals],
                        "逾期": [t["overdue"] for t in totals]}, SERIES_COLOURS)
    current = period_statistics(session, monday, monday + timedelta(days=7))
    towns = bar_chart("各镇街逾期未整改", [u.name for u in current.towns],
                      {"逾期": [u.figures["overdue"] for u in current.towns]}, ("#c92a2a",))
    departments = bar_chart("各部门逾期未整改", [u.name for u in current.departments],
                            {"逾期": [u.figures["overdue"] for u in current.departments]}, ("#c92a2a",))
    counts = dict(session.execute(select(Organisation.risk_colour, func.count(Organisation.id))
                                  .where(Organisation.kind == "enterprise").group_by(Organisation.risk_colour)).all())
    grades = list(RISK_COLOURS)  # one series per colour, so each bar wears its own colour
    risk = bar_chart("企业安全风险四色分布", [RISK_COLOURS[g][0] for g in grades],
                     {RISK_COLOURS[g][0]: [counts.get(g, 0) if g == other else 0 for other in grades] for g in grades},
                     [RISK_COLOURS[g][1] for g in grades])
    return Dashboard(monday, weekly, towns, departments, risk, current,
                     most_violated_items(session, monday - timedelta(days=TOP_ITEMS_DAYS)))


def weekly_totals(session: Session, starts: list[date]) -> list[Counter[str]]:
    """Found, closed and overdue of each week, as `period_statistics` counts them, in one pass over the hazards.

    The chart needs zone totals only; one statistics run per week read the table six times a week.
    """
    sums = []
    for start in starts:
        end = start + timedelta(days=7)
        since, until = start_of_day(start), start_of_day(end)
        sums += [_count_if(and_(Hazard.reported_at >= since, Hazard.reported_at < until)),
                 _count_if(and_(Hazard.closed_at >= since, Hazard.closed_at < until)),
                 _count_if(and_(or_(Hazard.rectification_deadline < end, Hazard.overdue_since < until),
                                Hazard.status.not_in(OPEN_EXCLUDED)))]
    row = session.execute(select(*sums)).one()
    return [Counter({"found": row[3 * n] or 0, "closed": row[3 * n + 1] or 0, "overdue": row[3 * n + 2] or 0})
            for n in range(len(starts))]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def most_violated_items(session: Session, since: date, limit: int = TOP_ITEMS) -> dict[str, list[ViolatedItem]]:
    """Per sector, the items most hazards found since `since` were judged against (rejected reports left out);
    a hazard counts under its enterprise's main sector, as the statistics count enterprises."""
    count = func.count(Hazard.id)
    rows = session.execute(
        select(Sector.name, Standard.title, StandardItem.number, StandardItem.text, count)
        .select_from(Hazard).join(Organisation, Organisation.id == Hazard.enterprise_id)
        .join(Sector, Sector.code == Organisation.sector_code)
        .join(HazardJudgedItem, HazardJudgedItem.hazard_id == Hazard.id)
        .join(StandardItem, StandardItem.id == HazardJudgedItem.item_id).join(Standard)
        .where(Hazard.found_on >= since, Hazard.status != "rejected")
        .group_by(Sector.name, Standard.title, StandardItem.id, StandardItem.number, StandardItem.text)
        .order_by(Sector.name, count.desc(), StandardItem.id))
    by_sector: dict[str, list[ViolatedItem]] = {}
    for sector, standard, number, text, hazards in rows:
        top = by_sector.setdefault(sector, [])
        if len(top) < limit:
            top.append(ViolatedItem(standard, number, text, hazards))
    return by_sector
