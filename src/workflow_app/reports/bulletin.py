"""The monthly bulletin (月通报) as a PDF with an embedded CJK font (reports/pdf_text.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import IO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..services import spot_checks, supervision_listings
from ..services.errors import InvalidInputError
from ..store.models import Hazard, InboxTask
from .pdf_text import FONT, paragraph, register_font
from .pdf_text import style as _style
from .statistics import OPEN_EXCLUDED, PeriodStatistics, month_of, period_statistics, start_of_day

LISTED_AT_MOST = 100
HEADERS = ["排查隐患", "重大隐患", "销号", "逾期未整改"]
WIDTHS = [50, 28, 28, 28, 30]


def _table(header: list[str], rows: list[list[object]], widths: list[float]) -> Table:
    table = Table([header, *rows], colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                               ("ALIGN", (1, 1), (-1, -1), "RIGHT")]))
    return table


def _unit_rows(units: list) -> list[list[object]]:  # type: ignore[type-arg]
    return [[u.name, u.figures["found"], u.figures["major"], u.figures["closed"], u.figures["overdue"]]
            for u in units]


def _listing_section(listings: supervision_listings.BulletinListings, body: ParagraphStyle,
                     small: ParagraphStyle) -> list[object]:
    """五: the hazards listed for supervision at the month's end (supervising unit, deadline, 停产), and those
    delisted in the month."""
    heading = f"五、挂牌督办的重大事故隐患（{listings.listed_total} 项）"
    story: list[object] = [Spacer(1, 4 * mm), paragraph(heading, body)]
    for listing in listings.listed:
        hazard, unit = listing.hazard, listing.supervising_unit
        stop = "，停产停业整改" if listing.stop_production else ""
        story.append(paragraph(f"{hazard.code} {hazard.enterprise.name} {hazard.title}（督办单位 "
                               f"{unit.name if unit else '—'}，督办时限 {listing.deadline}{stop}）", small))
    if not listings.listed:
        story.append(paragraph("无。", small))
    if listings.delisted:
        story.append(paragraph(f"本月摘牌 {len(listings.delisted)} 项：", small))
        for listing in listings.delisted:
            hazard, on = listing.hazard, listing.delisted_at.astimezone(SHANGHAI).date() if listing.delisted_at else ""
            story.append(paragraph(f"{hazard.code} {hazard.enterprise.name} {hazard.title}（{on} 摘牌）", small))
    return story


def monthly_bulletin(session: Session, month: str, out: IO[bytes],
                     title: str = "重大事故隐患专项排查整治") -> PeriodStatistics:
    """Write the bulletin for `month` (YYYY-MM) to `out` and return the figures it shows."""
    register_font()
    try:
        start, end = month_of(month)
    except ValueError:
        raise InvalidInputError(f"月份应为 YYYY-MM：{month!r}") from None
    stats = period_statistics(session, start, end)
    overdue_total, overdue_major = overdue_major_steps(session, end, LISTED_AT_MOST)
    listings = supervision_listings.for_bulletin(session, start_of_day(start), start_of_day(end), LISTED_AT_MOST)
    total = stats.total
    body, small = _style(11), _style(9)
    story = [paragraph(f"{start.year}年{start.month}月 {title} 月通报", _style(16)), Spacer(1, 6 * mm),
             paragraph(f"一、总体情况：本月排查隐患 {total['found']} 项，其中重大事故隐患 {total['major']} 项；"
                       f"本月销号 {total['closed']} 项；截至月末逾期未整改 {total['overdue']} 项。", body),
             Spacer(1, 4 * mm), paragraph("二、各镇街进展", body),
             _table(["镇街", *HEADERS], _unit_rows(stats.towns), WIDTHS),
             Spacer(1, 4 * mm), paragraph("三、各部门进展", body),
             _table(["部门", *HEADERS], _unit_rows(stats.departments), WIDTHS),
             Spacer(1, 4 * mm),
             paragraph(f"四、逾期的重大事故隐患（{overdue_total} 项，列出逾期环节及其时限）", body)]
    story += [paragraph(f"{h.code} {h.enterprise.name} {h.title}：" + "；".join(
        f"{step}（时限 {due}）" for step, due in steps), small)
              for h, steps in overdue_major] or [paragraph("无。", small)]
    story += _listing_section(listings, body, small)
    checked = spot_checks.figures(session, start_of_day(start), start_of_day(end))
    story += [Spacer(1, 4 * mm), paragraph(
        f"六、抽检销号：本月复核抽检 {checked.checked} 项，合格 {checked.passed} 项，"
        f"不合格重新整改 {checked.failed} 项。", body)]
    story += _rewards_section(session, start, end, body, small)
    SimpleDocTemplate(out, pagesize=A4, title=f"{month} 月通报", leftMargin=18 * mm, rightMargin=18 * mm).build(story)
    return stats


def _rewards_section(session: Session, start: date, end: date, body: ParagraphStyle,
                     small: ParagraphStyle) -> list[Flowable]:
    """Rewards granted in the month for reports of major hazards: hazard, enterprise, amount, and the count and
    total. Never the reporter: a bulletin is read widely, and the reward rule promises confidentiality."""
    granted = (Hazard.rewarded_at >= start_of_day(start), Hazard.rewarded_at < start_of_day(end))
    count, total = session.execute(select(func.count(Hazard.id), func.sum(Hazard.reward_amount)).where(*granted)).one()
    listed = session.scalars(select(Hazard).where(*granted).order_by(Hazard.rewarded_at, Hazard.code)
                             .limit(LISTED_AT_MOST))
    summary = f"七、举报奖励：本月兑现举报重大事故隐患奖励 {count} 项，合计 {Decimal(total or 0):,.2f} 元。"
    return [Spacer(1, 4 * mm), paragraph(summary, body),
            *([paragraph(f"{h.code} {h.enterprise.name} 奖励 {Decimal(h.reward_amount or 0):,.2f} 元", small)
               for h in listed] or [paragraph("无。", small)])]


def overdue_major_steps(session: Session, end: date,
                        limit: int) -> tuple[int, list[tuple[Hazard, list[tuple[str, date]]]]]:
    """How many open major hazards are overdue at any step before `end`, and the first `limit` of them (earliest
    first), each with its late steps (name, due): a step still open after its due date, or one done after it
    (once overdue, a hazard stays listed until closed, as its overdue_since does)."""
    rows = session.execute(
        select(InboxTask.hazard_id, InboxTask.name, InboxTask.due_on, InboxTask.completed_at)
        .join(Hazard, Hazard.id == InboxTask.hazard_id)
        .where(Hazard.level == "major", Hazard.status.not_in(OPEN_EXCLUDED), InboxTask.due_on < end)
        .order_by(InboxTask.due_on, InboxTask.id))
    late: dict[int, list[tuple[str, date]]] = {}
    for row in rows:
        if row.completed_at is None or row.completed_at.astimezone(SHANGHAI).date() > row.due_on:
            late.setdefault(row.hazard_id, []).append((row.name, row.due_on))
    listed = list(late)[:limit]
    hazards = {h.id: h for h in session.scalars(select(Hazard).where(Hazard.id.in_(listed)))} if listed else {}
    return len(late), [(hazards[hazard_id], late[hazard_id]) for hazard_id in listed]


def previous_month(today: date) -> str:
    """The month a bulletin published `today` reports on."""
    last_month = today.replace(day=1) - timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"
