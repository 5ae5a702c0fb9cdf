"""The dashboard's figures: the last weeks' found / closed / overdue, overdue by unit, the risk colours of the
enterprises by town (四色 stacked bars) and a map of them, the most violated items.

Every chart is an SVG drawn here (no JavaScript), with its title, its totals and its figures as a table, in the
words of `words` (flask_babel's gettext on the web; the Chinese message ids themselves by default). The weekly
and overdue charts count the whole zone, as the weekly statistics do; the risk colours and the map show the
active enterprises the viewer may see (`visible_by_enterprise`: a town its territory, a department those it
supervises, the office all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..services.roles import visible_by_enterprise
from ..store.counting import count_where
from ..store.models import Hazard, HazardJudgedItem, Organisation, Sector, Standard, StandardItem, User
from .charts import Dot, Segment, bar_chart, dot_map, stacked_bars
from .statistics import OPEN_EXCLUDED, PeriodStatistics, period_statistics, start_of_day, week_of

RISK_COLOURS = {"red": ("重大风险（红）", "#c92a2a", "#fff"), "orange": ("较大风险（橙）", "#e8590c", "#000"),
                "yellow": ("一般风险（黄）", "#f59f00", "#000"), "blue": ("低风险（蓝）", "#1971c2", "#fff")}
NO_COLOUR = "none"
UNGRADED = ("未评定", "#adb5bd", "#000")
GRADES = (*RISK_COLOURS, NO_COLOUR)
"""The segments of a town's bar, in order: the four colours, then the enterprises not graded yet."""
SERIES_COLOURS = ("#1d3557", "#2b8a3e", "#c92a2a")
TOP_ITEMS = 5
TOP_ITEMS_DAYS = 365
LISTED = 50
"""How many enterprises a list below the map names (the count says how many more)."""

Words = Callable[..., str]


def _same(message: str, **values: Any) -> str:
    return message % values if values else message


@dataclass(frozen=True)
class ViolatedItem:
    """An item of a standard and how many hazards of a sector were judged against it."""

    standard: str
    number: str
    text: str
    hazards: int


@dataclass(frozen=True)
class Chart:
    """A chart as the page shows it: title, totals under it, the SVG, a legend, and its figures as a table."""

    name: str  # the section's id
    title: str
    svg: str
    totals: list[tuple[str, int]]
    columns: list[str]
    rows: list[list[str | int]]
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour class, words)


@dataclass(frozen=True)
class Place:
    """An enterprise named in a list beside the map, with its link (None: no link)."""

    name: str
    href: str | None
    open_major: int = 0


@dataclass(frozen=True)
class MapLists:
    """What the map cannot show, and what it shows that a keyboard should reach: first LISTED of each."""

    unplaced: list[Place]
    unplaced_count: int
    with_major: list[Place]
    with_major_count: int


@dataclass
class Dashboard:
    """The charts (SVG, in page order) and the week they end on."""

    week_start: date
    charts: list[Chart]
    map_lists: MapLists
    this_week: PeriodStatistics
    violated_items: dict[str, list[ViolatedItem]]  # sector name → its most violated items, most first


def dashboard(session: Session, today: date, viewer: User | None = None, weeks: int = 8, words: Words = _same,
              enterprise_url: Callable[[int], str] | None = None) -> Dashboard:
    """The dashboard for `viewer` (None: the whole zone, as the office sees it); `enterprise_url(id)` links an
    enterprise's file (None: no links)."""
    monday, _ = week_of(today)
    starts = [monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    current = period_statistics(session, monday, monday + timedelta(days=7))
    charts = [_weekly_chart(session, starts, viewer, words),
              _overdue_chart("towns", words("各镇街逾期未整改"), words("镇街"), current.towns, words),
              _overdue_chart("departments", words("各部门逾期未整改"), words("监管部门"), current.departments, words),
              _risk_chart(risk_by_town(session, viewer), words)]
    places = map_places(session, viewer)
    charts.append(_map_chart(places, words, enterprise_url))
    return Dashboard(monday, charts, _map_lists(places, enterprise_url), current,
                     most_violated_items(session, monday - timedelta(days=TOP_ITEMS_DAYS)))


def _weekly_chart(session: Session, starts: list[date], viewer: User | None, words: Words) -> Chart:
    totals = weekly_totals(session, starts, viewer)
    labels = [f"{s.month}/{s.day}" for s in starts]
    series = {words("发现"): [t["found"] for t in totals], words("销号"): [t["closed"] for t in totals],
              words("逾期"): [t["overdue"] for t in totals]}
    title = words("每周隐患发现、销号与逾期")
    found, closed = sum(t["found"] for t in totals), sum(t["closed"] for t in totals)
    overdue = totals[-1]["overdue"] if totals else 0
    summary = words("%(title)s：%(weeks)s 周共发现 %(found)s 项，销号 %(closed)s 项；本周逾期 %(overdue)s 项",
                    title=title, weeks=len(starts), found=found, closed=closed, overdue=overdue)
    return Chart("weekly", title, bar_chart(summary, labels, series, SERIES_COLOURS),
                 [(words("合计发现"), found), (words("合计销号"), closed), (words("本周逾期"), overdue)],
                 [words("周（周一）"), *series],
                 [[f"{s.isoformat()}", t["found"], t["closed"], t["overdue"]] for s, t in zip(starts, totals,
                                                                                              strict=True)])


def _overdue_chart(name: str, title: str, unit_word: str, units: list[Any], words: Words) -> Chart:
    figures = [u.figures["overdue"] for u in units]
    total = sum(figures)
    summary = words("%(title)s：合计 %(count)s 项", title=title, count=total)
    return Chart(name, title, bar_chart(summary, [u.name for u in units], {words("逾期"): figures}, ("#c92a2a",)),
                 [(words("合计"), total)], [unit_word, words("逾期")],
                 [[u.name, f] for u, f in zip(units, figures, strict=True)])


@dataclass(frozen=True)
class TownColours:
    """The active enterprises of a town (name None: those of no town) by risk colour (NO_COLOUR: not graded)."""

    name: str | None
    counts: Counter[str]


def risk_by_town(session: Session, viewer: User | None) -> list[TownColours]:
    """The viewer's active enterprises counted by town and risk colour, in one grouped query; towns in the
    order of their codes (the zone's own order), enterprises of no town last."""
    town = aliased(Organisation)
    query = (select(town.code, town.name, Organisation.risk_colour, func.count(Organisation.id))
             .select_from(Organisation).outerjoin(town, town.id == Organisation.town_id)
             .where(Organisation.kind == "enterprise", Organisation.status == "active")
             .group_by(town.code, town.name, Organisation.risk_colour))
    if viewer is not None:
        query = visible_by_enterprise(query, viewer, Organisation.id)
    towns: dict[str | None, TownColours] = {}
    for code, name, colour, count in session.execute(query):
        row = towns.setdefault(code, TownColours(name, Counter()))
        row.counts[colour if colour in RISK_COLOURS else NO_COLOUR] += count
    return [towns[code] for code in sorted(towns, key=lambda c: (c is None, c or ""))]


def _grade_name(grade: str, words: Words) -> str:
    return words(RISK_COLOURS[grade][0] if grade in RISK_COLOURS else UNGRADED[0])


def _risk_chart(towns: list[TownColours], words: Words) -> Chart:
    title = words("各镇街企业风险四色分布")
    names = [_grade_name(g, words) for g in GRADES]
    segments = [Segment(name, *(RISK_COLOURS.get(g) or UNGRADED)[1:]) for name, g in zip(names, GRADES, strict=True)]
    labels = [t.name if t.name is not None else words("未分镇街") for t in towns]
    rows = [(label, [t.counts[g] for g in GRADES]) for label, t in zip(labels, towns, strict=True)]
    by_grade = [sum(t.counts[g] for t in towns) for g in GRADES]
    total = sum(by_grade)
    summary = words("%(title)s：%(figures)s；合计 %(count)s 家", title=title, count=total, figures=words("，").join(
        words("%(name)s %(count)s 家", name=n, count=c) for n, c in zip(names, by_grade, strict=True)))
    svg = stacked_bars(summary, rows, segments, lambda n: words("%(count)s 家", count=n))
    return Chart("risk", title, svg, [(words("合计"), total)], [words("镇街"), *names, words("合计")],
                 [[label, *counts, sum(counts)] for label, counts in rows] + [[words("合计"), *by_grade, total]],
                 [(g, n) for g, n in zip(GRADES, names, strict=True)])


@dataclass(frozen=True)
class MapPoint:
    """An active enterprise the viewer may see: where it is (None: not recorded), its colour, its open majors."""

    id: int
    name: str
    latitude: float | None
    longitude: float | None
    colour: str | None
    open_major: int


def map_places(session: Session, viewer: User | None) -> list[MapPoint]:
    """The viewer's active enterprises by name, in one query of columns: each with its coordinates, colour and
    how many major hazards of it are not closed (rejected reports aside)."""
    open_major = (select(Hazard.enterprise_id, func.count(Hazard.id).label("hazards"))
                  .where(Hazard.level == "major", Hazard.status.not_in(OPEN_EXCLUDED))
                  .group_by(Hazard.enterprise_id).subquery())
    query = (select(Organisation.id, Organisation.name, Organisation.latitude, Organisation.longitude,
                    Organisation.risk_colour, open_major.c.hazards)
             .outerjoin(open_major, open_major.c.enterprise_id == Organisation.id)
             .where(Organisation.kind == "enterprise", Organisation.status == "active")
             .order_by(Organisation.name, Organisation.id))
    if viewer is not None:
        query = visible_by_enterprise(query, viewer, Organisation.id)
    return [MapPoint(row.id, row.name, None if row.latitude is None else float(row.latitude),
                     None if row.longitude is None else float(row.longitude), row.risk_colour, row.hazards or 0)
            for row in session.execute(query)]


def _placed(point: MapPoint) -> bool:
    """Whether the point has coordinates to draw (the forms and the roster refuse others; a stray value in the
    database is listed apart rather than drawn off the map)."""
    return (point.latitude is not None and point.longitude is not None and abs(point.latitude) <= 90
            and abs(point.longitude) <= 180)


def _map_chart(points: list[MapPoint], words: Words, enterprise_url: Callable[[int], str] | None) -> Chart:
    title = words("企业分布图")
    placed = [p for p in points if _placed(p)]
    dots = []
    for p in placed:
        grade = p.colour if p.colour in RISK_COLOURS else NO_COLOUR
        tooltip = f"{p.name} · {_grade_name(grade, words)}"
        if p.open_major:
            tooltip += " · " + words("未销号重大事故隐患 %(count)s 项", count=p.open_major)
        dots.append(Dot(p.latitude or 0.0, p.longitude or 0.0, tooltip, (RISK_COLOURS.get(grade) or UNGRADED)[1],
                        p.open_major > 0, enterprise_url(p.id) if enterprise_url else None))
    marked = sum(1 for p in placed if p.open_major)
    summary = words("%(title)s：标注 %(placed)s 家企业，其中 %(marked)s 家有未销号的重大事故隐患；"
                    "%(unplaced)s 家未标注坐标", title=title, placed=len(placed), marked=marked,
                    unplaced=len(points) - len(placed))
    grades = Counter(p.colour if p.colour in RISK_COLOURS else NO_COLOUR for p in placed)
    majors = Counter(p.colour if p.colour in RISK_COLOURS else NO_COLOUR for p in placed if p.open_major)
    unplaced = Counter(p.colour if p.colour in RISK_COLOURS else NO_COLOUR for p in points if not _placed(p))
    names = [_grade_name(g, words) for g in GRADES]
    return Chart("map", title, dot_map(summary, dots),
                 [(words("图上企业"), len(placed)), (words("有未销号重大事故隐患"), marked),
                  (words("未标注坐标"), len(points) - len(placed))],
                 [words("风险等级"), words("图上企业"), words("有未销号重大事故隐患"), words("未标注坐标")],
                 [[n, grades[g], majors[g], unplaced[g]] for n, g in zip(names, GRADES, strict=True)]
                 + [[words("合计"), len(placed), marked, len(points) - len(placed)]],
                 [(g, n) for g, n in zip(GRADES, names, strict=True)] + [("marked", words("有未销号重大事故隐患"))])


def _map_lists(points: list[MapPoint], enterprise_url: Callable[[int], str] | None) -> MapLists:
    unplaced = [p for p in points if not _placed(p)]
    with_major = [p for p in points if _placed(p) and p.open_major]

    def place(p: MapPoint) -> Place:
        return Place(p.name, enterprise_url(p.id) if enterprise_url else None, p.open_major)

    return MapLists([place(p) for p in unplaced[:LISTED]], len(unplaced),
                    [place(p) for p in with_major[:LISTED]], len(with_major))


def weekly_totals(session: Session, starts: list[date], viewer: User | None = None) -> list[Counter[str]]:
    """Found, closed and overdue of each week, as `period_statistics` counts them, in one pass over the hazards
    the viewer oversees (None: the whole zone).

    The chart needs totals only; one statistics run per week read the table six times a week.
    """
    sums = []
    for start in starts:
        end = start + timedelta(days=7)
        since, until = start_of_day(start), start_of_day(end)
        sums += [count_where(and_(Hazard.reported_at >= since, Hazard.reported_at < until)),
                 count_where(and_(Hazard.closed_at >= since, Hazard.closed_at < until)),
                 count_where(and_(or_(Hazard.rectification_deadline < end, Hazard.overdue_since < until),
                                Hazard.status.not_in(OPEN_EXCLUDED)))]
    query = select(*sums).select_from(Hazard)
    if viewer is not None:
        query = visible_by_enterprise(query, viewer, Hazard.enterprise_id)
    row = session.execute(query).one()
    return [Counter({"found": row[3 * n], "closed": row[3 * n + 1], "overdue": row[3 * n + 2]})
            for n in range(len(starts))]


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
