"""The plan's attached tables (附表1–4) and the ledger as rows with the plan's headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI, as_date, week_monday
from ..services.campaign_figures import FIGURES, SPANS, overridden, reporting_ends_at
from ..services.errors import InvalidInputError, NotFoundError
from ..services.roles import UNCONFIRMED_STATUSES, source_shown_to
from ..services.vocabulary import LEVELS, SOURCES, STATUSES
from ..store.models import (
    Campaign,
    CampaignSubmission,
    Hazard,
    HazardJudgedItem,
    Organisation,
    Sector,
    Standard,
    StandardItem,
    Supervision,
    SupervisionListing,
    User,
)

LEDGER_COLUMNS = [("隐患编号", 16), ("企业名称", 26), ("所属镇街", 12), ("行业领域", 14), ("隐患名称", 28),
                  ("隐患部位", 16), ("隐患等级", 12), ("隐患来源", 10), ("状态", 12), ("发现日期", 12),
                  ("整改时限", 12), ("销号日期", 12), ("判定依据", 28)]
TABLE3_COLUMNS = [("序号", 6), ("企业名称", 26), ("所属镇街", 12), ("行业领域", 14), ("监管部门", 16),
                  ("隐患部位", 16), ("隐患描述", 36), ("隐患等级", 12), ("发现日期", 12), ("隐患来源", 10),
                  ("整改责任人", 12), ("整改措施", 30), ("整改资金（万元）", 12), ("整改时限", 12),
                  ("应急预案及防范措施", 30), ("整改状态", 12), ("挂牌督办", 22), ("销号日期", 12), ("判定依据", 28)]
FIGURE_HEADERS = ("排查企业数（家）", "排查隐患数（项）", "其中重大事故隐患（项）", "已整改（项）", "逾期未整改（项）",
                  "执法检查（次）", "行政处罚（起）", "培训人数（人）")
"""附表1/2's figure columns, in the order of `campaign_figures.FIGURES`; each is shown 本周 and 累计."""
WEEKLY_FIELDS = tuple(f"{figure}_{span}" for figure in FIGURES for span in SPANS)
SPAN_WORDS = {"week": "本周", "total": "累计"}
WEEKLY_COLUMNS = [("单位", 24), *((f"{header}{SPAN_WORDS[span]}", 11) for header in FIGURE_HEADERS for span in SPANS),
                  ("报送时间", 18), ("备注", 40)]
CONTACT_COLUMNS = [("单位", 24), ("联络员姓名", 12), ("职务", 14), ("联系电话", 16), ("行动方案要点", 40),
                   ("报送时间", 18)]
TITLES = {
    "table1": "{zone}重大事故隐患专项排查整治行动进展情况调度表{period}",
    "table2": "{zone}有关部门重大事故隐患专项排查整治行动进展情况调度表{period}",
    "table3": "{zone}重大事故隐患问题清单",
    "table4": "{zone}重大事故隐患专项排查整治行动联系人回执",
}
"""The tables' titles in the plan's words (its list of 附表), with the zone's name from the campaign file."""
ZONE_FALLBACK = "本辖区"
"""The zone's name in the titles of a campaign started from a file without `zone` (before it was asked for)."""
LISTING_SHOWN = ("listed", "delisted")
"""The 挂牌督办 states 附表3 shows: a proposal, or one the office refused, is no listing."""


class Names:
    """Organisation and sector names and the items hazards were judged against, loaded once per export,
    and the sources as the user the export is for may be told them."""

    def __init__(self, session: Session, viewer: User):
        self.viewer = viewer
        self.orgs = {o.id: o for o in session.scalars(select(Organisation))}
        self.sectors = {s.code: s.name for s in session.scalars(select(Sector))}
        self.items: dict[int, list[str]] = {}
        for hazard_id, doc_number, number in session.execute(
                select(HazardJudgedItem.hazard_id, Standard.doc_number, StandardItem.number)
                .join(StandardItem, StandardItem.id == HazardJudgedItem.item_id).join(Standard)
                .order_by(HazardJudgedItem.hazard_id, StandardItem.id)):
            self.items.setdefault(hazard_id, []).append(f"{doc_number} {number}")

    def item(self, hazard: Hazard | Row[Any]) -> str:
        """The items a hazard was judged against: each standard's document number and the item's number."""
        return "；".join(self.items.get(hazard.id, ()))

    def source(self, hazard: Hazard | Row[Any]) -> str:
        """The hazard's source as the viewer is told it (an enterprise never learns of a report)."""
        code = source_shown_to(self.viewer, hazard)
        return SOURCES.get(code, code)

    def town(self, enterprise: Organisation) -> str:
        town = self.orgs.get(enterprise.town_id) if enterprise.town_id else None
        return town.name if town else ""

    def sector(self, enterprise: Organisation) -> str:
        return self.sectors.get(enterprise.sector_code or "", "")


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return value.isoformat() if value else ""


LEDGER_FIELDS = (Hazard.id, Hazard.code, Hazard.enterprise_id, Hazard.title, Hazard.location, Hazard.level,
                 Hazard.source, Hazard.status, Hazard.found_on, Hazard.rectification_deadline, Hazard.closed_at)
"""What the ledger's export reads of each hazard (`ledger_records`: plain rows, not ORM objects)."""


def ledger_row(hazard: Row[Any], names: Names) -> list[Any]:
    """A row of LEDGER_FIELDS as the ledger's export prints it."""
    enterprise = names.orgs[hazard.enterprise_id]
    return [hazard.code, enterprise.name, names.town(enterprise), names.sector(enterprise), hazard.title,
            hazard.location, LEVELS.get(hazard.level, hazard.level), names.source(hazard),
            STATUSES.get(hazard.status, hazard.status), _day(hazard.found_on), _day(hazard.rectification_deadline),
            _day(hazard.closed_at), names.item(hazard)]


TABLE3_FIELDS = (Hazard.id, Hazard.enterprise_id, Hazard.level, Hazard.source, Hazard.location, Hazard.description,
                 Hazard.found_on, Hazard.responsible_person, Hazard.rectification_measures,
                 Hazard.rectification_funds, Hazard.rectification_deadline, Hazard.emergency_plan, Hazard.status,
                 Hazard.closed_at)
"""What 附表3 reads of each hazard (`ledger_records`: plain rows, not ORM objects)."""


def table3_conditions(campaign: Campaign) -> tuple[ColumnElement[bool], ...]:
    """附表3's hazards: the campaign's confirmed major hazards, those reported from its start to the end of its
    summary phase, not a report triage has not accepted (or rejected)."""
    return (Hazard.level == "major", Hazard.status.not_in(UNCONFIRMED_STATUSES),
            Hazard.reported_at >= campaign.started_at,
            Hazard.reported_at < reporting_ends_at(campaign))


def lead_departments(session: Session) -> dict[int, str]:
    """Each enterprise's lead supervising department (监管部门) by name."""
    return dict(session.execute(select(Supervision.enterprise_id, Organisation.name)
                                .join(Organisation, Organisation.id == Supervision.department_id)
                                .where(Supervision.is_lead)).all())


def listings(session: Session, campaign: Campaign) -> dict[int, str]:
    """附表3's 挂牌督办 column for each hazard of the campaign listed for supervision, in one query: 已挂牌 with
    the deadline, or 已摘牌; a hazard's latest decision counts (it may be listed again after delisting)."""
    shown: dict[int, str] = {}
    for hazard_id, status, deadline in session.execute(
            select(SupervisionListing.hazard_id, SupervisionListing.status, SupervisionListing.deadline)
            .join(Hazard, Hazard.id == SupervisionListing.hazard_id)
            .where(SupervisionListing.status.in_(LISTING_SHOWN), *table3_conditions(campaign))
            .order_by(SupervisionListing.id)):
        if status == "delisted":
            shown[hazard_id] = "已摘牌"
        else:
            shown[hazard_id] = f"已挂牌（督办期限 {deadline.isoformat()}）" if deadline else "已挂牌"
    return shown


def table3_rows(hazards: Iterable[Row[Any]], names: Names, leads: dict[int, str],
                listed: dict[int, str]) -> Iterator[list[Any]]:
    """附表3: each major hazard (rows of TABLE3_FIELDS) with its enterprise's town, sector and lead department,
    its five-in-place plan, deadline, status and 挂牌督办 (`listings`)."""
    for number, hazard in enumerate(hazards, start=1):
        enterprise = names.orgs[hazard.enterprise_id]
        yield [number, enterprise.name, names.town(enterprise), names.sector(enterprise),
               leads.get(hazard.enterprise_id, ""), hazard.location, hazard.description, LEVELS[hazard.level],
               _day(hazard.found_on), names.source(hazard), hazard.responsible_person or "",
               hazard.rectification_measures or "",
               float(hazard.rectification_funds) if hazard.rectification_funds is not None else "",
               _day(hazard.rectification_deadline), hazard.emergency_plan or "",
               STATUSES.get(hazard.status, hazard.status), listed.get(hazard.id, ""), _day(hazard.closed_at),
               names.item(hazard)]


def zone_name(campaign: Campaign) -> str:
    """The zone's name for the tables' titles: the campaign file's `zone`, or ZONE_FALLBACK."""
    return campaign.params.get("zone") or ZONE_FALLBACK


def campaign_by_code(session: Session, code: str | None) -> Campaign:
    """The given campaign, or the newest one."""
    query = select(Campaign).order_by(Campaign.year.desc(), Campaign.id.desc())
    campaign = session.scalar(query.where(Campaign.code == code) if code else query.limit(1))
    if campaign is None:
        raise NotFoundError(f"no campaign {code}" if code else "no campaign has been started")
    return campaign


def period_of_week(campaign: Campaign, iso_week: str) -> str:
    """The campaign's weekly period (W01 …) that is ISO week `YYYY-Www`: campaign weeks are ISO weeks (Monday to
    Sunday), W01 the one `dispatch_start` falls in (see campaign_figures.week_window)."""
    try:
        year, week = iso_week.upper().split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise InvalidInputError(f"week must look like 2023-W23, not {iso_week!r}") from None
    start = as_date(campaign.params["dispatch_start"])
    index = (monday - week_monday(start, 0)).days // 7
    if index < 0:
        raise InvalidInputError(f"{iso_week} is before the campaign's weekly dispatch started ({start})")
    return f"W{index + 1:02d}"


def weekly_rows(session: Session, campaign: Campaign, unit_kind: str, period: str, names: Names) -> list[list[Any]]:
    """附表1 (towns) or 附表2 (departments) for one period: one row per unit, empty if it did not file.

    The figures are what the unit filed; where it typed an enforcement figure other than the
    one counted from the records, 备注 says so, with both values and the unit's reason."""
    filed = {s.organisation_id: s for s in session.scalars(select(CampaignSubmission).where(
        CampaignSubmission.campaign_id == campaign.id, CampaignSubmission.kind == "weekly",
        CampaignSubmission.period == period))}
    units = campaign.params["towns" if unit_kind == "town" else "departments"]
    rows = []
    for unit_id in units:
        submission = filed.get(unit_id)
        if submission is None:
            rows.append([names.orgs[unit_id].name, "未报送", *[""] * len(WEEKLY_FIELDS)])
            continue
        figures = [_figure(submission.data, f) for f in WEEKLY_FIELDS]
        rows.append([names.orgs[unit_id].name, *figures, _local(submission.submitted_at), _override_note(submission)])
    return rows


def _figure(data: dict[str, Any], field: str) -> Any:
    """A filed figure. A table filed before 本周/累计 were split holds one value per figure, counted since the
    campaign began: it is the 累计, and 本周 stays empty rather than guessed."""
    if field in data:
        return data[field]
    figure, _, span = field.rpartition("_")
    return data.get(figure, "") if span == "total" else ""


def _override_note(submission: CampaignSubmission) -> str:
    """备注 of a weekly row: the enforcement figures typed over the counted ones, and why."""
    differs = overridden(submission.data, submission.data.get("counted") or {})
    if not differs:
        return ""
    headers = dict(zip(WEEKLY_FIELDS, (header for header, _ in WEEKLY_COLUMNS[1:]), strict=False))
    said = "；".join(f"{headers[f]}按执法记录统计为 {counted}，填报 {typed}" for f, (counted, typed) in differs.items())
    return f"已修改：{said}。原因：{submission.data.get('override_reason', '')}"


def contact_rows(session: Session, campaign: Campaign, names: Names) -> list[list[Any]]:
    """附表4: each unit's contact person and action plan."""
    filed = {s.organisation_id: s for s in session.scalars(select(CampaignSubmission).where(
        CampaignSubmission.campaign_id == campaign.id, CampaignSubmission.kind == "plan"))}
    rows = []
    for unit_id in [*campaign.params["towns"], *campaign.params["departments"]]:
        s = filed.get(unit_id)
        if s is None:
            rows.append([names.orgs[unit_id].name, "未报送", "", "", "", ""])
            continue
        rows.append([names.orgs[unit_id].name, s.data.get("contact_name", ""), s.data.get("contact_position", ""),
                     s.data.get("contact_phone", ""), s.data.get("plan_summary", ""),
                     _local(s.submitted_at)])
    return rows
