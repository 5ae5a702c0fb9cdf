"""Campaigns from the web: the office starts one from a form, and edits what may still change.

Starting goes through `campaigns.start_campaign`, as the CLI does, so the BPMN instance starts the
same way; the form is checked first, every problem named at once, nothing stored on any.

After the start, only parameters read when they are used may change: the name, the zone's name
(both printed on pages and tables) and the reward rule (read when a reward is decided). The phase
and report dates and the units are not: the running diagram evaluated its timers from them when
it reached each one (a timer keeps the fire time it computed), opened tasks carry due dates from
them, and the weekly tasks went to the units chosen at the start. Moving a date would leave the
timers on the old one, so the form shows them read-only and says why.

Each edit is one transaction: the campaign row is locked, the revision the form was read at must
still be the stored one (a concurrent edit is refused, never lost), and the audit keeps before and
after of what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Campaign, Organisation, User
from . import audit
from .campaigns import PHASE_FIELDS, CampaignConfig, default_summary_on, start_campaign
from .errors import ConflictError, FieldsInvalid, NotFoundError, PermissionDeniedError
from .rewards import NATIONAL_RULE, RewardRule

OFFICE_ONLY = "只有安委办可以发起和修改专项行动"
STALE = "专项行动已被他人修改，本次修改未保存：请查看最新内容后重新修改"
CLOSED = "专项行动已结束，参数不能再修改"
CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")
DATE_FIELDS = (*PHASE_FIELDS, "dispatch_start", "report_1_on", "report_2_on", "summary_on")
EDITABLE = ("name", "zone", "reward_percent", "reward_minimum", "reward_maximum")
"""What may change after the start: read when used, never by a waiting timer."""
DATE_PROBLEMS = {
    "self_inspection_end": "自查自改阶段截止日期须晚于动员部署阶段截止日期",
    "enforcement_end": "精准执法阶段截止日期须晚于自查自改阶段截止日期",
    "summary_end": "总结提高阶段截止日期须晚于精准执法阶段截止日期",
}
UNIT_PROBLEMS = {"towns": ("请至少选择一个镇街", "所选镇街不在名册中"),
                 "departments": ("请至少选择一个部门", "所选部门不在名册中")}


class CampaignInvalid(FieldsInvalid):
    """Fields of a campaign form that are wrong."""


@dataclass(frozen=True)
class CampaignForm:
    """A campaign's parameters as typed (dates YYYY-MM-DD, units by organisation code, amounts in yuan)."""

    code: str = ""
    name: str = ""
    year: str = ""
    zone: str = ""
    mobilization_end: str = ""
    self_inspection_end: str = ""
    enforcement_end: str = ""
    summary_end: str = ""
    dispatch_start: str = ""
    report_1_on: str = ""
    report_2_on: str = ""
    summary_on: str = ""
    towns: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    reward_percent: str = ""
    reward_minimum: str = ""
    reward_maximum: str = ""
    revision: str = field(default="0", compare=False)


@dataclass(frozen=True)
class Units:
    """The towns and departments on the roster (code, name), for the pickers."""

    towns: list[tuple[str, str]]
    departments: list[tuple[str, str]]


def _check_office(actor: User) -> None:
    if actor.role != "office":
        raise PermissionDeniedError(OFFICE_ONLY)


def units(session: Session) -> Units:
    rows = list(session.execute(select(Organisation.code, Organisation.name, Organisation.kind)
                                .where(Organisation.kind.in_(("town", "department"))).order_by(Organisation.code)))
    return Units([(c, n) for c, n, k in rows if k == "town"], [(c, n) for c, n, k in rows if k == "department"])


def _shift(day: str, years: int) -> str:
    if not day:
        return ""
    parsed = date.fromisoformat(day)
    try:
        return parsed.replace(year=parsed.year + years).isoformat()
    except ValueError:  # 29 February
        return parsed.replace(year=parsed.year + years, day=28).isoformat()


def _rewards(campaign: Campaign) -> RewardRule:
    raw = campaign.params.get("rewards")
    return RewardRule.parse(raw) if raw else NATIONAL_RULE


def _reward_fields(rule: RewardRule) -> dict[str, str]:
    return {"reward_percent": rule.percent, "reward_minimum": f"{rule.minimum.normalize():f}",
            "reward_maximum": f"{rule.maximum.normalize():f}"}


def form_of(session: Session, campaign: Campaign) -> CampaignForm:
    """A running campaign's parameters as the form shows them."""
    codes = dict(session.execute(select(Organisation.id, Organisation.code)).all())
    params = campaign.params
    return CampaignForm(code=campaign.code, name=campaign.name, year=str(campaign.year), zone=params.get("zone", ""),
                        **{k: str(params.get(k, "")) for k in DATE_FIELDS},
                        towns=tuple(codes[i] for i in params.get("towns", []) if i in codes),
                        departments=tuple(codes[i] for i in params.get("departments", []) if i in codes),
                        **_reward_fields(_rewards(campaign)), revision=str(params.get("revision", 0)))


def template_form(session: Session, actor: User, today: date) -> CampaignForm:
    """The start form, prefilled from the newest campaign moved to the next year (or this year, if later);
    every town and department when there is none."""
    _check_office(actor)
    newest = session.scalar(select(Campaign).order_by(Campaign.started_at.desc(), Campaign.id.desc()).limit(1))
    roster = units(session)
    if newest is None:
        return CampaignForm(year=str(today.year), code=str(today.year), towns=tuple(c for c, _ in roster.towns),
                            departments=tuple(c for c, _ in roster.departments), **_reward_fields(NATIONAL_RULE))
    year = max(newest.year + 1, today.year)
    shifted = form_of(session, newest)
    years = year - newest.year
    code = str(year) if session.scalar(select(Campaign.id).where(Campaign.code == str(year))) is None else ""
    return replace(shifted, code=code, year=str(year), name=newest.name.replace(str(newest.year), str(year)),
                   **{k: _shift(getattr(shifted, k), years) for k in DATE_FIELDS}, revision="0")


def _date(typed: CampaignForm, name: str, errors: dict[str, str]) -> date | None:
    text = getattr(typed, name).strip()
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        errors[name] = "日期格式应为 YYYY-MM-DD"
        return None
    if day is not None and not 2000 <= day.year <= 2100:  # the timers add days: 9999-12-31 would overflow
        errors[name] = "日期须在 2000 至 2100 年之间"
        return None
    return day


def _checked_dates(typed: CampaignForm, today: date, errors: dict[str, str]) -> dict[str, str]:
    """The dates in order: phases one after the other from tomorrow on, reports inside the campaign."""
    days = {name: _date(typed, name, errors) for name in DATE_FIELDS}
    for name in (*PHASE_FIELDS, "dispatch_start", "report_1_on", "report_2_on"):
        if days[name] is None and name not in errors:
            errors[name] = "请填写日期"
    first = days["mobilization_end"]
    if first is not None and first <= today:
        errors["mobilization_end"] = "动员部署阶段截止日期须晚于今天（行动今天启动）"
    for before, after in pairwise(PHASE_FIELDS):
        if days[before] and days[after] and days[after] <= days[before] and after not in errors:
            errors[after] = DATE_PROBLEMS[after]
    if days["summary_on"] is None and days["summary_end"] is not None and "summary_on" not in errors:
        days["summary_on"] = date.fromisoformat(default_summary_on(days["summary_end"].isoformat()))
    _check_within(days, today, errors)
    return {k: v.isoformat() for k, v in days.items() if v is not None}


def _check_within(days: dict[str, date | None], today: date, errors: dict[str, str]) -> None:
    mobilization, enforcement, summary = days["mobilization_end"], days["enforcement_end"], days["summary_end"]
    dispatch = days["dispatch_start"]
    if dispatch and (dispatch < today or (enforcement and dispatch > enforcement)):
        errors.setdefault("dispatch_start", "周调度开始日期须不早于今天，且不晚于精准执法阶段截止日期")
    for name in ("report_1_on", "report_2_on"):
        day = days[name]
        if day and ((mobilization and day <= mobilization) or (summary and day > summary)):
            errors.setdefault(name, "报送日期须在动员部署阶段之后、总结提高阶段截止之前")
    due = days["summary_on"]
    if due and enforcement and summary and not enforcement < due <= summary:
        errors.setdefault("summary_on", "工作总结报送日期须在总结提高阶段内（精准执法阶段截止之后）")
    reports = [days[k] for k in ("report_1_on", "report_2_on", "summary_on")]
    if all(reports) and len(set(reports)) != len(reports):
        errors.setdefault("report_2_on", "两次贯彻落实情况和工作总结的报送日期须各不相同")


def _checked_units(session: Session, typed: CampaignForm, errors: dict[str, str]) -> dict[str, list[str]]:
    roster = units(session)
    chosen = {}
    for name, known in (("towns", roster.towns), ("departments", roster.departments)):
        codes = list(dict.fromkeys(getattr(typed, name)))
        if not codes:
            errors[name] = UNIT_PROBLEMS[name][0]
        elif set(codes) - {code for code, _ in known}:
            errors[name] = UNIT_PROBLEMS[name][1]
        chosen[name] = codes
    return chosen


def _checked_texts(typed: CampaignForm, errors: dict[str, str]) -> tuple[str, str]:
    name, zone = typed.name.strip(), typed.zone.strip()
    if not name or len(name) > 200:
        errors["name"] = "请填写专项行动名称（不超过 200 字）"
    if not zone or len(zone) > 100:
        errors["zone"] = "请填写园区名称（不超过 100 字，印在附表标题中）"
    return name, zone


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _checked_rewards(typed: CampaignForm, errors: dict[str, str]) -> RewardRule:
    percent, low, high = (_decimal(getattr(typed, k)) for k in ("reward_percent", "reward_minimum", "reward_maximum"))
    if percent is None or not 0 < percent <= 100:
        errors["reward_percent"] = "奖励比例须大于 0 且不超过 100"
    if low is None or low < 0 or low > 10**9:
        errors["reward_minimum"] = "最低奖励金额须为不小于 0 的金额（元）"
    if high is None or high > 10**9 or (low is not None and high < low):
        errors["reward_maximum"] = "最高奖励金额须为不小于最低金额的金额（元）"
    if {"reward_percent", "reward_minimum", "reward_maximum"} & set(errors):
        return NATIONAL_RULE
    assert percent is not None and low is not None and high is not None
    return RewardRule((percent / 100).normalize(), low, high)


def _checked_config(session: Session, typed: CampaignForm, today: date) -> CampaignConfig:
    errors: dict[str, str] = {}
    code = typed.code.strip()
    if not CODE.fullmatch(code) or code == "new":
        errors["code"] = "请填写行动编号（1-40 位字母、数字、- 或 _，如 2027）"
    elif session.scalar(select(Campaign.id).where(Campaign.code == code)) is not None:
        errors["code"] = "该编号的专项行动已存在"
    name, zone = _checked_texts(typed, errors)
    year = typed.year.strip()
    if not (year.isdigit() and 2000 <= int(year) <= 2100):
        errors["year"] = "年度须为 2000 至 2100 之间的整数"
    dates = _checked_dates(typed, today, errors)
    chosen = _checked_units(session, typed, errors)
    rewards = _checked_rewards(typed, errors)
    if errors:
        raise CampaignInvalid(errors)
    return CampaignConfig(code=code, name=name, year=int(year), dates=dates, towns=chosen["towns"],
                          departments=chosen["departments"], rewards=rewards, zone=zone)


def start_from_form(session: Session, actor: User, typed: CampaignForm, now: datetime, today: date) -> Campaign:
    """The office starts a campaign from the web form: checked in full, then started as the CLI does."""
    _check_office(actor)
    return start_campaign(session, actor, _checked_config(session, typed, today), now)


def get_campaign(session: Session, code: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        raise NotFoundError(f"no campaign {code}")
    return campaign


def edit_form(session: Session, actor: User, code: str) -> tuple[Campaign, CampaignForm]:
    _check_office(actor)
    campaign = get_campaign(session, code)
    return campaign, form_of(session, campaign)


def edit_campaign(session: Session, actor: User, code: str, revision: int, typed: CampaignForm,
                  now: datetime) -> bool:
    """Change the parameters that may still change (EDITABLE); False if nothing did.

    The row is locked and must still be at `revision` (ConflictError otherwise, nothing changed);
    every field is checked first (CampaignInvalid with all problems, nothing changed).
    """
    _check_office(actor)
    found = get_campaign(session, code)
    campaign = session.get(Campaign, found.id, with_for_update=True, populate_existing=True)
    assert campaign is not None
    if int(campaign.params.get("revision", 0)) != revision:
        raise ConflictError(STALE)
    if campaign.status != "running":
        raise ConflictError(CLOSED)
    errors: dict[str, str] = {}
    name, zone = _checked_texts(typed, errors)
    rule = _checked_rewards(typed, errors)
    if errors:
        raise CampaignInvalid(errors)
    before: dict[str, Any] = {"name": campaign.name, "zone": campaign.params.get("zone", ""),
                              "rewards": _rewards(campaign)}
    after: dict[str, Any] = {"name": name, "zone": zone, "rewards": rule}
    changed = [k for k in before if before[k] != after[k]]  # rules compare by value: 3000 is 3000.00
    if not changed:
        return False
    campaign.name = name
    campaign.params = {**campaign.params, "zone": zone, "rewards": rule.as_params(), "revision": revision + 1}
    campaign.updated_at = now
    audit.record(session, actor, "edit_campaign", "campaign", campaign.id,
                 {"code": campaign.code, "before": {k: _plain(before[k]) for k in changed},
                  "after": {k: _plain(after[k]) for k in changed}}, now)
    return True


def _plain(value: Any) -> Any:
    return value.as_params() if isinstance(value, RewardRule) else value


def typed_form(values: dict[str, Any]) -> CampaignForm:
    """A CampaignForm from submitted values (lists for the unit pickers)."""
    known = {f.name for f in fields(CampaignForm)}
    return CampaignForm(**{k: (tuple(v) if k in ("towns", "departments") else str(v))
                           for k, v in values.items() if k in known})


def replace_editable(stored: CampaignForm, typed: CampaignForm) -> CampaignForm:
    """The stored parameters with the editable ones as typed, at the revision the form was read at."""
    return replace(stored, revision=typed.revision, **{k: getattr(typed, k) for k in EDITABLE})
