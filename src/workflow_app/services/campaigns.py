"""Campaigns (专项行动): start one from a parameters file, report its state, prefill unit forms."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from ..engine import ProcessInstance
from ..engine.calendar import SHANGHAI, deadline_passed_at
from ..store.models import (
    Campaign,
    Hazard,
    InboxTask,
    Inspection,
    Organisation,
    ProcessInstanceRow,
    SelfInspection,
    User,
)
from . import audit
from .campaign_subject import PHASES
from .errors import InvalidInputError, NotFoundError
from .instances import apply_step
from .model_registry import latest_version, process_model
from .roles import supervised_by
from .subjects import subject_of

CAMPAIGN_PROCESS = "campaign"
PHASE_FIELDS = ("mobilization_end", "self_inspection_end", "enforcement_end", "summary_end")
PHASE_NAMES = {"mobilization": "动员部署", "self_inspection": "企业自查自改和部门帮扶", "enforcement": "部门精准执法",
               "summary": "总结提高"}


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign's parameters, as read from its TOML file."""

    code: str
    name: str
    year: int
    dates: dict[str, str]
    towns: list[str] | None  # organisation codes; None means all
    departments: list[str] | None
    zone: str = ""  # the zone's name as the plan's tables print it (附表1-4), e.g. 通辽经济技术开发区

    @classmethod
    def load(cls, path: Path) -> CampaignConfig:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            dates = {**{k: str(v) for k, v in raw["phases"].items()},
                     **{k: str(raw[k]) for k in ("dispatch_start", "report_1_on", "report_2_on")}}
            zone = raw["zone"]
            if not isinstance(zone, str) or not zone.strip() or len(zone) > 100:
                raise ValueError(f"zone must be the zone's name (1-100 characters), not {zone!r}")
            return cls(code=str(raw["code"]), name=str(raw["name"]), year=int(raw["year"]), dates=dates,
                       towns=_units(raw.get("towns", "all")), departments=_units(raw.get("departments", "all")),
                       zone=zone.strip())
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"{path}: not a campaign parameters file: {type(exc).__name__}: {exc}") from exc

    def start_form_data(self) -> dict[str, Any]:
        return {"campaign_name": self.name, "year": str(self.year), **self.dates}


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
    units = {"towns": _unit_ids(session, "town", config.towns),
             "departments": _unit_ids(session, "department", config.departments)}
    version = latest_version(session, CAMPAIGN_PROCESS)
    instance, result = ProcessInstance.start(process_model(version), config.start_form_data(), now, units)
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    campaign = Campaign(code=config.code, name=config.name, year=config.year, instance_id=row.id, status="running",
                        phase="mobilization", started_at=now, updated_at=now,
                        params={**config.dates, **units, "zone": config.zone})
    session.add(campaign)
    session.flush()
    apply_step(session, row, instance, subject_of(campaign), result, now, actor)
    audit.record(session, actor, "start_campaign", "campaign", campaign.id,
                 {"code": campaign.code, "name": campaign.name, "params": campaign.params}, now)
    return campaign


@dataclass
class CampaignStatus:
    """A campaign's timeline, who filed what each period, and its running counts."""

    campaign: Campaign
    phases: list[tuple[str, str, str]]  # (phase, deadline, past | current | future)
    periods: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # period → filed / missing unit names
    counts: dict[str, int] = field(default_factory=dict)


def campaign_status(session: Session, code: str) -> CampaignStatus:
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        raise NotFoundError(f"no campaign {code}")
    current = PHASES.index(campaign.phase) if campaign.status == "running" else len(PHASES)
    phases = [(phase, campaign.params[f"{phase}_end"],
               "past" if i < current else "current" if i == current else "future") for i, phase in enumerate(PHASES)]
    names = {org_id: name for org_id, name in session.execute(select(Organisation.id, Organisation.name))}
    periods: dict[str, dict[str, list[str]]] = {}
    weekly = session.execute(select(InboxTask.period, InboxTask.organisation_id, InboxTask.completed_at)
                             .where(InboxTask.campaign_id == campaign.id,
                                    InboxTask.bpmn_id.in_(("Task_TownWeekly", "Task_DepartmentWeekly")))
                             .order_by(InboxTask.period))
    for period, org_id, completed_at in weekly:
        slot = periods.setdefault(period or "", {"filed": [], "missing": []})
        slot["filed" if completed_at else "missing"].append(names.get(org_id, str(org_id)))
    return CampaignStatus(campaign, phases, periods, running_counts(session, campaign))


def running_counts(session: Session, campaign: Campaign) -> dict[str, int]:
    """Hazards reported while the campaign runs: found, major, closed, overdue now."""
    until = datetime.fromisoformat(deadline_passed_at(campaign.params["summary_end"]))
    base = select(func.count(Hazard.id)).where(Hazard.reported_at >= campaign.started_at, Hazard.reported_at < until)
    return {
        "found": session.scalar(base) or 0,
        "major": session.scalar(base.where(Hazard.level == "major")) or 0,
        "closed": session.scalar(base.where(Hazard.status == "closed")) or 0,
        "overdue": session.scalar(base.where(Hazard.overdue_since.is_not(None), Hazard.status != "closed")) or 0,
    }


def weekly_figures(session: Session, unit: Organisation, since: datetime) -> dict[str, int]:
    """What the system already knows for a unit's 附表1/2 row: its enterprises (a town's territory, all a
    department supervises, as lead or not) and their hazards.

    排查企业数 counts the unit's enterprises with a check on record since `since`: a hazard
    reported, a self-inspection signed by the principal or an enforcement inspection.
    """
    if unit.kind == "town":
        enterprises = select(Organisation.id).where(Organisation.town_id == unit.id)
    else:
        enterprises = supervised_by(unit.id)
    reported = (Hazard.enterprise_id.in_(enterprises), Hazard.reported_at >= since)
    hazards = select(func.count(Hazard.id)).where(*reported)
    checked = union(
        select(Hazard.enterprise_id).where(*reported),
        select(SelfInspection.enterprise_id).where(SelfInspection.enterprise_id.in_(enterprises),
                                                   SelfInspection.signed_at >= since),
        select(Inspection.enterprise_id).where(Inspection.enterprise_id.in_(enterprises),
                                               Inspection.inspected_on >= since.astimezone(SHANGHAI).date()))
    return {
        "enterprises_covered": session.scalar(select(func.count()).select_from(checked.subquery())) or 0,
        "hazards_found": session.scalar(hazards) or 0,
        "major_found": session.scalar(hazards.where(Hazard.level == "major")) or 0,
        "rectified": session.scalar(hazards.where(Hazard.status == "closed")) or 0,
        "overdue": session.scalar(hazards.where(Hazard.overdue_since.is_not(None), Hazard.status != "closed")) or 0,
    }


def prefilled_values(session: Session, task: InboxTask, properties: dict[str, str]) -> dict[str, Any]:
    """Form values the system can fill in for a campaign task (camunda property `prefill`)."""
    campaign = session.get(Campaign, task.campaign_id) if task.campaign_id else None
    unit = session.get(Organisation, task.organisation_id)
    if campaign is None or unit is None:
        return {}
    if properties.get("prefill") == "weekly_figures":
        return {k: str(v) for k, v in weekly_figures(session, unit, campaign.started_at).items()}
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
