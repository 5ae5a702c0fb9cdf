"""Campaigns started and edited from the web by the office; statistics weeks Monday to Sunday; the spot-check page
in words (issue #20)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask.testing import FlaskClient
from helpers import start_campaign_2026
from sqlalchemy import func, select
from web_support import csrf, make_app, sign_in

from workflow_app.services import spot_checks
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    AuditEntry,
    Campaign,
    Hazard,
    InboxTask,
    ProcessInstanceRow,
    SpotCheck,
    SpotCheckItem,
    TimerRow,
)

START = {  # T0 is Monday 2026-11-02 in Shanghai
    "code": "2027", "name": "重大事故隐患专项排查整治2027行动", "year": "2027", "zone": "测试开发区",
    "mobilization_end": "2026-11-20", "self_inspection_end": "2027-01-31", "enforcement_end": "2027-04-30",
    "summary_end": "2027-06-30", "dispatch_start": "2026-11-27", "report_1_on": "2027-02-15",
    "report_2_on": "2027-05-14", "summary_on": "", "towns": ["T1"], "departments": ["D1", "D2"],
    "reward_percent": "20", "reward_minimum": "5000", "reward_maximum": "200000",
}


def _client(factory, tmp_path: Path, username: str, now: datetime = T0) -> FlaskClient:
    client = make_app(factory, tmp_path, now).test_client()
    sign_in(client, username)
    return client


def _post(client: FlaskClient, path: str, data: dict) -> tuple[int, str]:
    response = client.post(path, data={**data, "csrf_token": csrf(client, "/inbox")})
    return response.status_code, response.get_data(as_text=True)


def _counts(factory) -> tuple[int, int, int]:
    with transaction(factory) as s:
        return tuple(s.scalar(select(func.count(column))) or 0  # type: ignore[return-value]
                     for column in (Campaign.id, ProcessInstanceRow.id, AuditEntry.id))


def test_the_office_starts_a_campaign_on_the_web_and_its_instance_runs(factory, zone: Zone, tmp_path: Path) -> None:
    office = _client(factory, tmp_path, "office")
    form = office.get("/campaigns/new").get_data(as_text=True)
    assert 'class="form-grid"' in form and 'type="date"' in form and 'name="towns" value="T1"' in form
    assert 'name="seed"' not in form and 'for="f-mobilization_end"' in form
    status, page = _post(office, "/campaigns/new", START)
    assert status == 302, page
    with transaction(factory) as s:
        campaign = s.scalars(select(Campaign)).one()
        row = s.get(ProcessInstanceRow, campaign.instance_id)
        plan_tasks = s.scalar(select(func.count(InboxTask.id)).where(InboxTask.campaign_id == campaign.id,
                                                                    InboxTask.bpmn_id.in_(("Task_TownPlan",
                                                                                           "Task_DepartmentPlan"))))
        timers = s.scalar(select(func.count(TimerRow.id)).where(TimerRow.instance_id == row.id))
        started = s.scalars(select(AuditEntry).where(AuditEntry.action == "start_campaign")).one()
    assert (campaign.code, campaign.name, campaign.year, campaign.status) == ("2027", START["name"], 2027, "running")
    assert campaign.params["mobilization_end"] == "2026-11-20" and campaign.params["zone"] == "测试开发区"
    assert campaign.params["summary_on"] == "2027-06-25"  # 3 working days before summary_end when left blank
    assert len(campaign.params["towns"]) == 1 and len(campaign.params["departments"]) == 2
    assert campaign.params["rewards"] == {"share": "0.2", "minimum": "5000", "maximum": "200000"}
    assert row.status == "running" and plan_tasks == 3 and timers > 0 and started.actor_name == "office姓名"
    shown = office.get("/campaigns/2027").get_data(as_text=True)
    assert "罚款的 20 %，最低 5000 元，最高 200000 元" in shown and "/campaigns/2027/edit" in shown


def test_the_new_campaign_form_is_prefilled_from_the_newest_campaign(factory, zone: Zone, tmp_path: Path) -> None:
    start_campaign_2026(factory)
    form = _client(factory, tmp_path, "office").get("/campaigns/new").get_data(as_text=True)
    assert 'value="重大事故隐患专项排查整治2027行动"' in form and 'value="2027-05-20"' in form
    assert 'name="code" type="text" value="2027"' in form


@pytest.mark.parametrize("username", ["town", "dept", "boss"])
def test_only_the_office_starts_or_edits_a_campaign(factory, zone: Zone, tmp_path: Path, username: str) -> None:
    start_campaign_2026(factory)
    client = _client(factory, tmp_path, username)
    assert client.get("/campaigns/new").status_code == 403
    assert client.get("/campaigns/2026/edit").status_code == 403
    assert _post(client, "/campaigns/new", START)[0] == 403
    assert _post(client, "/campaigns/2026/edit", {"name": "改名", "revision": "0"})[0] == 403
    with transaction(factory) as s:
        assert [c.code for c in s.scalars(select(Campaign))] == ["2026"]


def test_a_wrong_start_form_names_every_problem_and_changes_nothing(factory, zone: Zone, tmp_path: Path) -> None:
    start_campaign_2026(factory)
    office = _client(factory, tmp_path, "office")
    before = _counts(factory)
    wrong = {**START, "code": "2026", "name": " ", "summary_end": "2027-04-01", "towns": ["T1", "T9"],
             "reward_minimum": "900000", "report_1_on": "2026-11-10", "departments": []}
    status, page = _post(office, "/campaigns/new", wrong)
    assert status == 422
    for message in ("该编号的专项行动已存在", "请填写专项行动名称", "总结提高阶段截止日期须晚于精准执法阶段截止日期",
                    "所选镇街不在名册中", "请至少选择一个部门", "最高奖励金额须为不小于最低金额的金额",
                    "报送日期须在动员部署阶段之后"):
        assert message in page, message
    # also report_2_on and the default summary_on, now after the summary phase's end
    assert "共 9 处" in page and 'value="2027-04-01"' in page  # what was typed stays
    assert _counts(factory) == before
    far = {**START, "summary_end": "9999-12-31", "report_2_on": "2027-13-01"}  # no overflow, no 500
    status, page = _post(office, "/campaigns/new", far)
    assert status == 422 and "日期须在 2000 至 2100 年之间" in page and "日期格式应为 YYYY-MM-DD" in page
    past = {**START, "mobilization_end": "2026-11-02"}  # the campaign starts today: its first phase can't be over
    status, page = _post(office, "/campaigns/new", past)
    assert status == 422 and "动员部署阶段截止日期须晚于今天" in page and _counts(factory) == before


def test_an_english_start_form_says_its_problems_in_english(factory, zone: Zone, tmp_path: Path) -> None:
    office = _client(factory, tmp_path, "office")
    response = office.post("/campaigns/new", data={**START, "name": "", "csrf_token": csrf(office, "/inbox")},
                           headers={"Accept-Language": "en"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Enter the campaign's name" in text and "专项行动名称" not in text


def _edit(office: FlaskClient, **changes: str) -> tuple[int, str]:
    page = office.get("/campaigns/2026/edit").get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', page)
    assert revision
    data = {"name": "重大事故隐患专项排查整治2026行动", "zone": "测试开发区", "reward_percent": "15",
            "reward_minimum": "3000", "reward_maximum": "300000", "revision": revision.group(1), **changes}
    return _post(office, "/campaigns/2026/edit", data)


def test_an_edit_persists_is_audited_and_leaves_the_dates_alone(factory, zone: Zone, tmp_path: Path) -> None:
    start_campaign_2026(factory)
    office = _client(factory, tmp_path, "office")
    form = office.get("/campaigns/2026/edit").get_data(as_text=True)
    assert 'id="f-summary_end"' in form and "readonly" in form and "计时器" in form
    status, _page = _edit(office, name="2026年专项行动（更名）", reward_percent="12.5",
                          summary_end="2027-12-31")  # a date typed anyway is not taken
    assert status == 302
    with transaction(factory) as s:
        campaign = s.scalars(select(Campaign)).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "edit_campaign")).one()
    assert campaign.name == "2026年专项行动（更名）" and campaign.params["rewards"]["share"] == "0.125"
    assert campaign.params["summary_end"] == "2026-12-31" and campaign.params["revision"] == 1
    assert entry.actor_name == "office姓名" and entry.at == T0
    assert entry.detail["before"] == {"name": "重大事故隐患专项排查整治2026行动",
                                      "rewards": {"share": "0.15", "minimum": "3000", "maximum": "300000"}}
    assert entry.detail["after"]["name"] == "2026年专项行动（更名）"
    assert entry.detail["after"]["rewards"]["share"] == "0.125"
    assert _edit(office, name="2026年专项行动（更名）", reward_percent="12.5")[0] == 302  # the same again: no entry
    with transaction(factory) as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "edit_campaign")) == 1


def test_a_stale_or_wrong_edit_changes_nothing(factory, zone: Zone, tmp_path: Path) -> None:
    start_campaign_2026(factory)
    office = _client(factory, tmp_path, "office")
    first = _post(office, "/campaigns/2026/edit", {"name": "甲", "zone": "测试开发区", "reward_percent": "15",
                                                    "reward_minimum": "3000", "reward_maximum": "300000",
                                                    "revision": "0"})
    assert first[0] == 302
    before = _counts(factory)
    status, page = _post(office, "/campaigns/2026/edit", {"name": "乙", "zone": "测试开发区", "reward_percent": "15",
                                                           "reward_minimum": "3000", "reward_maximum": "300000",
                                                           "revision": "0"})  # read before the first edit
    assert status == 409 and "已被他人修改" in page and 'name="revision" value="1"' in page
    status, page = _edit(office, name="", reward_percent="0")
    assert status == 422 and "请填写专项行动名称" in page and "奖励比例须大于 0" in page
    with transaction(factory) as s:
        assert s.scalars(select(Campaign)).one().name == "甲"
    assert _counts(factory) == before


@pytest.mark.parametrize(("clock", "week", "zh", "en"), [
    # Sunday 01:00 in Shanghai is still Saturday in UTC: the week is the one that Sunday ends
    (datetime(2026, 11, 21, 17, tzinfo=UTC), "", "2026年第 47 周", "11月16日–11月22日"),
    # Monday 00:30 in Shanghai is Sunday in UTC: a new week has begun
    (datetime(2026, 11, 22, 16, 30, tzinfo=UTC), "", "2026年第 48 周", "11月23日–11月29日"),
    (T0, "2026-W49", "2026年第 49 周", "11月30日–12月6日"),  # across a month's end
    (T0, "2026-W53", "2026年第 53 周", "2026年12月28日–2027年1月3日"),  # across a year's end
    (T0, "2027-W01", "2027年第 1 周", "1月4日–1月10日"),
])
def test_statistics_weeks_run_monday_to_sunday_in_shanghai(factory, zone: Zone, tmp_path: Path, clock: datetime,
                                                            week: str, zh: str, en: str) -> None:
    office = _client(factory, tmp_path, "office", clock)
    page = office.get(f"/statistics?week={week}" if week else "/statistics").get_data(as_text=True)
    assert zh in page and en in page


def test_statistics_weeks_in_english_and_a_wrong_week(factory, zone: Zone, tmp_path: Path) -> None:
    office = _client(factory, tmp_path, "office")
    english = office.get("/statistics?week=2026-W53", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Week 53 of 2026" in english and "28 Dec 2026–3 Jan 2027" in english and "周" not in english
    assert "Week 49 of 2026" in office.get("/statistics?week=2026-W49", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    for wrong in ("2026-W54", "2026-W48-1", "48"):
        assert office.get(f"/statistics?week={wrong}").status_code == 400


def _closed_in_october(factory, zone: Zone, count: int) -> list[int]:
    from helpers import report
    ids = [report(factory, zone.principal, zone.enterprise_id, datetime(2026, 10, 5, 2, tzinfo=UTC))
           for _ in range(count)]
    with transaction(factory) as s:
        for hazard_id in ids:
            hazard = s.get(Hazard, hazard_id)
            hazard.status, hazard.closed_at = "closed", datetime(2026, 10, 20, 2, tzinfo=UTC)
    return ids


def test_the_spot_check_page_speaks_in_words_and_redraws_from_the_record(factory, zone: Zone,
                                                                           tmp_path: Path) -> None:
    closed = _closed_in_october(factory, zone, 4)
    office = _client(factory, tmp_path, "office")
    form = office.get("/spot-checks").get_data(as_text=True)
    assert 'name="seed"' not in form and 'for="f-percent"' in form and 'value="10"' in form
    status, _page = _post(office, "/spot-checks", {"month": "2026-10", "percent": "50"})
    assert status == 302
    with transaction(factory) as s:
        check = s.scalars(select(SpotCheck)).one()
        recorded = sorted(s.scalars(select(SpotCheckItem.hazard_id)))
        seed, population = int(check.seed), list(check.population)
    assert population == closed and len(recorded) == 2
    assert spot_checks.sample(population, 0.5, seed) == recorded  # anyone can redo it from the record
    page = office.get("/spot-checks").get_data(as_text=True)
    assert "抽检比例 50 %" in page and "复现信息" in page and f"随机种子 {seed}" in page
    assert "重新抽取（可复现）" in page
    assert 'data-label="隐患"' in page and "E1单位" in page
    redone = office.get(f"/spot-checks?redraw={check.id}").get_data(as_text=True)
    assert "与记录一致" in redone and "按记录的种子重新抽取得到 2 项" in redone
    with transaction(factory) as s:
        assert sorted(s.scalars(select(SpotCheckItem.hazard_id))) == recorded  # redrawing stored nothing
    status, page = _post(office, "/spot-checks", {"month": "2026-10", "percent": "150"})
    assert status == 422 and "抽检比例须为 0 到 100 之间的数" in page and 'value="150"' in page
    english = office.get("/spot-checks", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Sample rate 50 %" in english and "Redraw (reproducible)" in english
