"""Campaigns (专项行动): start one from a parameters file, report its state, prefill unit forms."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import ProcessInstance
from ..engine.calendar import as_date, shift_working_days
from ..store.models import (
    Campaign,
    CampaignSubmission,
    Hazard,
    InboxTask,
    Organisation,
    ProcessInstanceRow,
    User,
)
from . import audit
from .campaign_figures import form_figures, reporting_ends_at, week_window
from .campaign_subject import PHASES, UNIT_REPORTS
from .errors import InvalidInputError, NotFoundError
from .instances import apply_step
from .model_registry import latest_version, process_model
from .rewards import NATIONAL_RULE, RewardRule
from .subjects import subject_of

CAMPAIGN_PROCESS = "campaign"
PHASE_FIELDS = ("mobilization_end", "self_inspection_end", "enforcement_end", "summary_end")
REPORT_FIELDS = ("report_1_on", "report_2_on", "summary_on")
PHASE_NAMES = {"mobilization": "动员部署", "self_inspection": "企业自查自改和部门帮扶", "enforcement": "部门精准执法",
               "summary": "总结提高"}
REPORT_NAMES = {"report": "贯彻落实情况", "summary": "工作总结"}


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign's parameters, as read from its TOML file."""

    code: str
    name: str
    year: int
    dates: dict[str, str]
    towns: list[str] | None  # organisation codes; None means all
    departments: list[str] | None
    rewards: RewardRule = NATIONAL_RULE  # the `[rewards]` table: the reward for reporting a major hazard
    zone: str = ""  # the zone's name as the plan's tables print it (附表1-4), e.g. 通辽经济技术开发区

    @classmethod
    def load(cls, path: Path) -> CampaignConfig:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            dates = {**{k: str(v) for k, v in raw["phases"].items()},
                     **{k: str(raw[k]) for k in ("dispatch_start", "report_1_on", "report_2_on")}}
            dates["summary_on"] = str(raw.get("summary_on") or default_summary_on(dates["summary_end"]))
            zone = raw["zone"]
            if not isinstance(zone, str) or not zone.strip() or len(zone) > 100:
                raise ValueError(f"zone must be the zone's name (1-100 characters), not {zone!r}")
            return cls(code=str(raw["code"]), name=str(raw["name"]), year=int(raw["year"]), dates=dates,
                       towns=_units(raw.get("towns", "all")), departments=_units(raw.get("departments", "all")),
                       rewards=RewardRule.parse(raw.get("rewards", {})), zone=zone.strip())
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}: not a campaign parameters file: {type(exc).__name__}: {exc}") from exc

    def start_form_data(self) -> dict[str, Any]:
        return {"campaign_name": self.name, "year": str(self.year), **self.dates}


SUMMARY_LEAD_WORKING_DAYS = 3
"""Without `summary_on` in the campaign file, the units' summaries are due this many working days before the
summary phase ends, which leaves the office those days for its own summary."""


def default_summary_on(summary_end: str) -> str:
    """The units' summaries' due date when the campaign file names none."""
    return shift_working_days(as_date(summary_end), -SUMMARY_LEAD_WORKING_DAYS).isoformat()


def _units(value: Any) -> list[str] | None:
    if value == "all":
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError(f"units must be \"all\" or a list of organisation codes, not {value!r}")


def _unit_ids(session: Session, kind: str, codes: list[str] | None) -> list[int]:
    query = select(Organisation.id, Organisation.code).where(Organisation.kind == kind).order_by(Organisation.code)
    found = dict((code, id_) for id_, code in session.execute(query))
    if codes is None:
        return list(found.values())
    if missing := [c for c in codes if c not in found]:
        raise InvalidInputError(f"no {kind} with code(s) {', '.join(missing)}")
    return [found[c] for c in codes]


def start_campaign(session: Session, actor: User | None, config: CampaignConfig, now: datetime) -> Campaign:
    """Start a campaign from its parameters (validated by the model's start form); one per code."""
    if session.scalar(select(Campaign.id).where(Campaign.code == config.code)) is not None:
        raise InvalidInputError(f"campaign {config.code} already exists")
    ordered = [date.fromisoformat(config.dates[k]) for k in PHASE_FIELDS]
    if ordered != sorted(ordered):
        raise InvalidInputError("phase deadlines must follow each other: " + ", ".join(PHASE_FIELDS))
    _check_report_dates(config.dates)
    units = {"towns": _unit_ids(session, "town", config.towns),
             "departments": _unit_ids(session, "department", config.departments)}
    version = latest_version(session, CAMPAIGN_PROCESS)
    instance, result = ProcessInstance.start(process_model(version), config.start_form_data(), now, units)
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    campaign = Campaign(code=config.code, name=config.name, year=config.year, instance_id=row.id, status="running",
                        phase="mobilization", started_at=now, updated_at=now,
                        params={**config.dates, **units, "rewards": config.rewards.as_params(), "zone": config.zone})
    session.add(campaign)
    session.flush()
    apply_step(session, row, instance, subject_of(campaign), result, now, actor)
    audit.record(session, actor, "start_campaign", "campaign", campaign.id,
                 {"code": campaign.code, "name": campaign.name, "params": campaign.params}, now)
    return campaign


def _check_report_dates(dates: dict[str, str]) -> None:
    """The units' reports fall inside the campaign, on distinct days; their summaries in the summary phase."""
    due = [date.fromisoformat(dates[k]) for k in REPORT_FIELDS]
    if len(set(due)) != len(due):
        raise InvalidInputError("report_1_on, report_2_on and summary_on must be different days")
    if not date.fromisoformat(dates["enforcement_end"]) < due[-1] <= date.fromisoformat(dates["summary_end"]):
        raise InvalidInputError("summary_on must fall in the summary phase (after enforcement_end, "
                                "by summary_end)")
    if not date.fromisoformat(dates["mobilization_end"]) < min(due):
        raise InvalidInputError("reports must be due after the mobilization phase")


@dataclass
class Filing:
    """Who of the units asked has filed one report or table, and who has not."""

    kind: str  # weekly | report | summary
    period: str  # W01 … for a weekly table, the due date for a report
    due_on: date | None
    filed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class CampaignStatus:
    """A campaign's timeline, who filed what each period, and its running counts."""

    campaign: Campaign
    phases: list[tuple[str, str, str]]  # (phase, deadline, past | current | future)
    periods: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # period → filed / missing unit names
    counts: dict[str, int] = field(default_factory=dict)
    reports: list[Filing] = field(default_factory=list)  # the units' 贯彻落实情况 and 总结, by due date


def campaign_status(session: Session, code: str) -> CampaignStatus:
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        raise NotFoundError(f"no campaign {code}")
    current = PHASES.index(campaign.phase) if campaign.status == "running" else len(PHASES)
    phases = [(phase, campaign.params[f"{phase}_end"],
               "past" if i < current else "current" if i == current else "future") for i, phase in enumerate(PHASES)]
    weekly = filings(session, campaign, WEEKLY_TASKS)
    periods = {f.period: {"filed": f.filed, "missing": f.missing} for f in weekly}
    return CampaignStatus(campaign, phases, periods, running_counts(session, campaign),
                          filings(session, campaign, UNIT_REPORTS))


WEEKLY_TASKS = {"Task_TownWeekly": "weekly", "Task_DepartmentWeekly": "weekly"}


def filings(session: Session, campaign: Campaign, asked: dict[str, str]) -> list[Filing]:
    """Per period, the units a task of `asked` (bpmn id → submission kind) went to, split by whether their
    submission is on record. The submission decides, not the task: the campaign's end closes unfiled tasks."""
    names = {org_id: name for org_id, name in session.execute(select(Organisation.id, Organisation.name))}
    submitted = {(kind, period, org_id) for kind, period, org_id in session.execute(
        select(CampaignSubmission.kind, CampaignSubmission.period, CampaignSubmission.organisation_id)
        .where(CampaignSubmission.campaign_id == campaign.id, CampaignSubmission.kind.in_(set(asked.values()))))}
    result: dict[tuple[str, str], Filing] = {}
    for bpmn_id, period, org_id, due_on in session.execute(
            select(InboxTask.bpmn_id, InboxTask.period, InboxTask.organisation_id, InboxTask.due_on)
            .where(InboxTask.campaign_id == campaign.id, InboxTask.bpmn_id.in_(asked))
            .order_by(InboxTask.due_on, InboxTask.period, InboxTask.id)):
        kind = asked[bpmn_id]
        filing = result.setdefault((kind, period or ""), Filing(kind, period or "", due_on))
        (filing.filed if (kind, period, org_id) in submitted else filing.missing).append(names.get(org_id, str(org_id)))
    return list(result.values())


def running_counts(session: Session, campaign: Campaign) -> dict[str, int]:
    """Hazards reported while the campaign runs: found, major, closed, overdue now."""
    until = reporting_ends_at(campaign)
    base = select(func.count(Hazard.id)).where(Hazard.reported_at >= campaign.started_at, Hazard.reported_at < until)
    return {
        "found": session.scalar(base) or 0,
        "major": session.scalar(base.where(Hazard.level == "major")) or 0,
        "closed": session.scalar(base.where(Hazard.status == "closed")) or 0,
        "overdue": session.scalar(base.where(Hazard.overdue_since.is_not(None), Hazard.status != "closed")) or 0,
    }


def prefilled_values(session: Session, task: InboxTask, properties: dict[str, str]) -> dict[str, Any]:
    """Form values the system can fill in for a campaign task (camunda property `prefill`)."""
    campaign = session.get(Campaign, task.campaign_id) if task.campaign_id else None
    unit = session.get(Organisation, task.organisation_id)
    if campaign is None or unit is None:
        return {}
    if properties.get("prefill") == "weekly_figures":
        window = week_window(campaign, task.period or "")
        return {k: str(v) for k, v in form_figures(session, unit, window).items()}
    if properties.get("prefill") == "monthly_bulletin":
        return {"bulletin_text": bulletin_draft(session, campaign, task.period or "")}
    return {}


def bulletin_draft(session: Session, campaign: Campaign, period: str) -> str:
    """A first draft of the monthly bulletin (月通报) from live figures; a person edits and publishes it."""
    counts = running_counts(session, campaign)
    status = campaign_status(session, campaign.code)
    missing = sorted({name for units in status.periods.values() for name in units["missing"]})
    filing = "各单位均按时报送。" if not missing else "未按时报送的单位：" + "、".join(missing) + "。"
    lines = [f"{campaign.name} {period} 月通报",
             f"一、总体情况：专项行动开展以来，共排查隐患 {counts['found']} 项，其中重大事故隐患 {counts['major']} 项，"
             f"已销号 {counts['closed']} 项，逾期未整改 {counts['overdue']} 项。",
             f"二、当前阶段：{PHASE_NAMES[campaign.phase]}。",
             "三、周调度报送：" + filing]
    return "\n".join(lines)
