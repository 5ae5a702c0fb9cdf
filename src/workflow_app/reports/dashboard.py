"""The dashboard's figures: the last weeks' found / closed / overdue, overdue by unit, risk colours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import Hazard, Organisation, Sector, Standard, StandardItem
from .charts import bar_chart
from .statistics import PeriodStatistics, period_statistics, week_of

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
    stats = [period_statistics(session, start, start + timedelta(days=7)) for start in starts]
    labels = [f"{s.month}/{s.day}" for s in starts]
    weekly = bar_chart("每周隐患发现、销号与逾期", labels,
                       {"发现": [s.total["found"] for s in stats], "销号": [s.total["closed"] for s in stats],
                        "逾期": [s.total["overdue"] for s in stats]}, SERIES_COLOURS)
    current = stats[-1]
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


def most_violated_items(session: Session, since: date, limit: int = TOP_ITEMS) -> dict[str, list[ViolatedItem]]:
    """Per sector, the items most hazards found since `since` were judged against (rejected reports left out)."""
    count = func.count(Hazard.id)
    rows = session.execute(
        select(Sector.name, Standard.title, StandardItem.number, StandardItem.text, count)
        .select_from(Hazard).join(Organisation, Organisation.id == Hazard.enterprise_id)
        .join(Sector, Sector.code == Organisation.sector_code)
        .join(StandardItem, StandardItem.id == Hazard.judged_item_id).join(Standard)
        .where(Hazard.found_on >= since, Hazard.status != "rejected")
        .group_by(Sector.name, Standard.title, StandardItem.id, StandardItem.number, StandardItem.text)
        .order_by(Sector.name, count.desc(), StandardItem.id))
    by_sector: dict[str, list[ViolatedItem]] = {}
    for sector, standard, number, text, hazards in rows:
        top = by_sector.setdefault(sector, [])
        if len(top) < limit:
            top.append(ViolatedItem(standard, number, text, hazards))
    return by_sector
