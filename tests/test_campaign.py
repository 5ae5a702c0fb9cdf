"""A whole campaign in accelerated time: sweeps with an explicit now step through the year."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import _org, _user
from sqlalchemy import func, select

from workflow_app.reports.tables import period_of_week
from workflow_app.services import tasks
from workflow_app.services.campaign_figures import FIGURES, SPANS, counted_values, week_window
from workflow_app.services.campaigns import CampaignConfig, campaign_status, start_campaign
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.errors import InvalidInputError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    Campaign,
    CampaignSubmission,
    InboxTask,
    Inspection,
    Notice,
    Organisation,
    Penalty,
    TimerRow,
    User,
)

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKLY = {f"{figure}_{span}": "0" for figure in FIGURES for span in SPANS}
ANSWERS = {
    "Task_TownPlan": {"plan_summary": "成立专班", "contact_name": "张三", "contact_position": "科长",
                      "contact_phone": "0475-1234567"},
    "Task_PublishBulletin": {"bulletin_text": "通报"}, "Task_Summary": {"summary_text": "总结"},
}
ANSWERS["Task_DepartmentPlan"] = ANSWERS["Task_TownPlan"]
REPORTS = {"Task_TownReport1": "2023-08-18", "Task_DepartmentReport1": "2023-08-18",
           "Task_TownReport2": "2023-12-18", "Task_DepartmentReport2": "2023-12-18",
           "Task_TownUnitSummary": "2023-12-27", "Task_DepartmentUnitSummary": "2023-12-27"}


def _answer(task: InboxTask) -> dict[str, str]:
    if task.bpmn_id in REPORTS:
        return {"summary_text" if "Summary" in task.bpmn_id else "report_text": "本单位贯彻落实情况"}
    return WEEKLY if "Weekly" in task.bpmn_id else ANSWERS[task.bpmn_id]


@pytest.fixture
def units(factory, zone) -> dict[str, User]:
    """The zone's town and departments plus a second town; a user for each unit."""
    with transaction(factory) as s:
        second_town = _org(s, "T2", "town")
        users = {"town2": _user(s, "town2", "town", second_town)}
    return {"town": zone.town, "town2": users["town2"], "dept": zone.department, "dept2": zone.other_department,
            "office": zone.office}


def _campaign(factory, name: str, now: datetime | None = None) -> Campaign:
    with transaction(factory) as s:
        start = now or (datetime(2023, 5, 10, 1, tzinfo=UTC) if name == "2023.toml"
                        else datetime(2024, 4, 1, 1, tzinfo=UTC))
        return start_campaign(s, None, CampaignConfig.load(CAMPAIGNS / name), start)


def _work_the_inbox(factory, users: dict[str, User], now: datetime,
                    holds: Callable[[str, InboxTask, datetime], bool]) -> None:
    """Every unit completes its open campaign tasks, except those `holds(unit key, task, now)` keeps back."""
    for key, user in users.items():
        with transaction(factory) as s:
            open_tasks = list(s.scalars(select(InboxTask).where(
                InboxTask.organisation_id == user.organisation_id, InboxTask.role == user.role,
                InboxTask.campaign_id.is_not(None), InboxTask.completed_at.is_(None))))
        for task in open_tasks:
            if not holds(key, task, now):
                with transaction(factory) as s:
                    tasks.complete_task(s, user, task.task_id, _answer(task), now)


def _next_timer(factory, after: datetime) -> datetime | None:
    with transaction(factory) as s:
        return s.scalar(select(func.min(TimerRow.fire_at)).where(TimerRow.fire_at > after))


def _at(day: str, hour: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour), SHANGHAI)


def _held_2023(key: str, task: InboxTask, now: datetime) -> bool:
    """Who does not file: the second town never files its reports or summary and files W03 only once it is
    late; the second department never files the first implementation report."""
    if key == "town2" and task.bpmn_id in REPORTS:
        return True
    if key == "town2" and task.period == "W03":
        return now < _at(task.due_on.isoformat()) + timedelta(days=1)
    return key == "dept2" and task.bpmn_id == "Task_DepartmentReport1"


def test_the_2023_campaign_replays_the_plans_calendar_and_chases_the_units_that_do_not_report(factory, units):
    """The plan's calendar (../shared/domain/campaign-plan-2023.zh.txt), replayed timer to timer from 2023-05-19
    to the year's end. 三、(一)-(四) (lines 105-113): the phases end on 5/20, 7/31, 10/31 and 12/31;
    四、(五) (lines 127-131): 附表1/2 every week from late May, 附表4 by 5/20, and every town and department
    reports its 贯彻落实情况 by 8/18 and 12/18; the 总结提高 phase (line 113) ends with each unit's summary
    (summary_on) and then the office's. Each report is the unit's own task, opened ahead (Service_*Open,
    working_days=10), reminded and overdue like the weekly tables: the notices reach exactly the units that
    have not filed, once each; a unit's tasks never share a due date."""
    first = _campaign(factory, "2023.toml", _at("2023-05-19", 9))
    second = _campaign(factory, "2024.toml")
    now, phases = _at("2023-05-19", 9), [(_at("2023-05-19", 9), "mobilization")]
    while now < _at("2024-01-01"):
        sweep(factory, now)
        phase = _phase(factory, "2023")[0]
        if phase != phases[-1][1]:
            phases.append((now, phase))
        _work_the_inbox(factory, units, now, _held_2023)
        now = _next_timer(factory, now) or _at("2024-01-01")
    sweep(factory, _at("2024-01-01"))

    assert phases == [(_at("2023-05-19", 9), "mobilization"), (_at("2023-05-21"), "self_inspection"),
                      (_at("2023-08-01"), "enforcement"), (_at("2023-11-01"), "summary")]
    assert _phase(factory, "2023") == ("summary", "closed")
    unit_keys = ("town", "town2", "dept", "dept2")
    with transaction(factory) as s:
        campaign_tasks = s.scalars(select(InboxTask).where(InboxTask.campaign_id == first.id)).all()
        by_unit = {key: [t for t in campaign_tasks if t.organisation_id == units[key].organisation_id]
                   for key in (*unit_keys, "office")}
        for key in unit_keys:
            mine = by_unit[key]
            assert [t.due_on for t in mine if "Plan" in t.bpmn_id] == [date(2023, 5, 20)], key  # 附表4
            weekly = sorted((t for t in mine if "Weekly" in t.bpmn_id), key=lambda t: t.period)
            assert [t.period for t in weekly] == [f"W{n:02d}" for n in range(1, 24)], key  # 5/26 … 10/27
            dues = [t.due_on for t in weekly]
            assert dues[0] == date(2023, 5, 30) and dues == sorted(set(dues)), key
            # 9/29 and 10/6 are holidays: both dispatches go out on Saturday 10/7 (a working day), due apart
            assert (dues[18], dues[19]) == (date(2023, 10, 9), date(2023, 10, 10)), key
            reports = {t.bpmn_id.removeprefix("Task_Town").removeprefix("Task_Department"): t
                       for t in mine if t.bpmn_id in REPORTS}
            assert {k: (t.due_on.isoformat(), t.created_at.astimezone(SHANGHAI).date().isoformat())
                    for k, t in reports.items()} == {"Report1": ("2023-08-18", "2023-08-04"),
                                                     "Report2": ("2023-12-18", "2023-12-04"),
                                                     "UnitSummary": ("2023-12-27", "2023-12-13")}, key
            assert len({t.due_on for t in mine}) == len(mine), key  # no two of a unit's tasks due together
        office_summary = next(t for t in by_unit["office"] if t.bpmn_id == "Task_Summary")
        assert office_summary.created_at == _at("2023-12-28")  # after the units' summaries were due

        notices = s.scalars(select(Notice).where(Notice.created_at > _at("2023-05-21"),
                                                 Notice.kind.in_(("reminder", "overdue")))).all()
        sent = Counter((n.kind, n.recipient_org_id, n.subject) for n in notices)
        assert set(sent.values()) == {1}  # once each
        org = {key: user.organisation_id for key, user in units.items()}

        def chased(kind: str, task_name: str) -> set[int]:
            return {recipient for k, recipient, subject in sent if k == kind and task_name in subject}

        for name, late in (("贯彻落实情况（第一次）", {"town2", "dept2"}), ("贯彻落实情况（第二次）", {"town2"}),
                           ("专项行动工作总结", {"town2"})):
            assert chased("reminder", name) == {org[k] for k in late}, name
            assert chased("overdue", name) == {org[k] for k in late} | {org["office"]}, name
        assert chased("reminder", "附表1") == {org["town2"]} and not chased("reminder", "附表2")
        assert chased("overdue", "附表1") == {org["town2"], org["office"]}
        filed = Counter((c.kind, c.period) for c in s.scalars(select(CampaignSubmission).where(
            CampaignSubmission.campaign_id == first.id, CampaignSubmission.kind.in_(("report", "summary")))))
        assert filed == {("report", "2023-08-18"): 2, ("report", "2023-12-18"): 3, ("summary", "2023-12-27"): 3,
                         ("summary", "Task_Summary"): 1}
        status = campaign_status(s, "2023")
        bulletins = s.scalars(select(CampaignSubmission.period).where(
            CampaignSubmission.campaign_id == first.id, CampaignSubmission.kind == "bulletin")).all()
    assert sorted(bulletins) == [f"2023-{m:02d}" for m in range(5, 12)]
    assert [(f.kind, f.period, f.missing) for f in status.reports] == [
        ("report", "2023-08-18", ["T2单位", "D2单位"]), ("report", "2023-12-18", ["T2单位"]),
        ("summary", "2023-12-27", ["T2单位"])]
    assert status.periods["W03"] == {"filed": ["T1单位", "T2单位", "D1单位", "D2单位"], "missing": []}
    # the 2024 campaign, started beside it, is still in mobilization and has its own tasks only
    assert _phase(factory, "2024") == ("mobilization", "running")
    assert not [t for t in campaign_tasks if t.campaign_id == second.id]


def _phase(factory, code: str) -> tuple[str, str]:
    with transaction(factory) as s:
        campaign = s.scalars(select(Campaign).where(Campaign.code == code)).one()
        return campaign.phase, campaign.status


def test_a_campaign_code_runs_once_and_bad_parameters_are_refused(factory, units, tmp_path):
    _campaign(factory, "2023.toml")
    with pytest.raises(InvalidInputError, match="already exists"):
        _campaign(factory, "2023.toml")
    swapped = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8").replace('"2024-06-30"', '"2024-12-30"')
    (tmp_path / "bad.toml").write_text(swapped.replace('code = "2024"', 'code = "bad"'), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="follow each other"), transaction(factory) as s:
        start_campaign(s, None, CampaignConfig.load(tmp_path / "bad.toml"), datetime(2024, 4, 1, tzinfo=UTC))
    late = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8").replace('code = "2024"', 'code = "late"')
    (tmp_path / "late.toml").write_text(late.replace('summary_on = "2024-11-27"', 'summary_on = "2024-12-02"'),
                                        encoding="utf-8")
    with pytest.raises(InvalidInputError, match="summary phase"), transaction(factory) as s:
        start_campaign(s, None, CampaignConfig.load(tmp_path / "late.toml"), datetime(2024, 4, 1, tzinfo=UTC))
    same = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8").replace('code = "2024"', 'code = "same"')
    (tmp_path / "same.toml").write_text(same.replace('summary_on = "2024-11-27"', 'summary_on = "2024-11-29"'),
                                        encoding="utf-8")
    with pytest.raises(InvalidInputError, match="different days"), transaction(factory) as s:
        start_campaign(s, None, CampaignConfig.load(tmp_path / "same.toml"), datetime(2024, 4, 1, tzinfo=UTC))
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Campaign.id))) == 1  # nothing of the refused ones was kept
    default = (CAMPAIGNS / "2023.toml").read_text(encoding="utf-8").replace('summary_on = "2023-12-27"', "")
    (tmp_path / "default.toml").write_text(default, encoding="utf-8")
    assert CampaignConfig.load(tmp_path / "default.toml").dates["summary_on"] == "2023-12-27"  # 3 working days
    (tmp_path / "broken.toml").write_text("code = ", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not a campaign parameters file"):
        CampaignConfig.load(tmp_path / "broken.toml")


def _penalty(s, inspection: Inspection, case: str, target: str, on: date, linked: Penalty | None = None) -> Penalty:
    penalty = Penalty(inspection_id=inspection.id, enterprise_id=inspection.enterprise_id,
                      department_id=inspection.department_id, case_number=case, legal_basis="安全生产法第一百零二条",
                      kind="fine", amount=20000, target=target, target_name="E1" if target == "unit" else "负责人",
                      decided_by="D1局长", decided_on=on, linked_penalty_id=linked.id if linked else None,
                      recorded_by_id=inspection.recorded_by_id, recorded_at=datetime(2023, 5, 25, tzinfo=UTC))
    s.add(penalty)
    s.flush()
    return penalty


def _enforcement_records(factory, zone) -> None:
    """D1 inspects E1 (in T1) on 5/12 and in W01 on 5/23; one penalty on 5/15, and on 5/24 一案双罚: the fine
    on E1 and on its principal, two linked records of case 罚2023-002."""
    with transaction(factory) as s:
        earlier = record_inspection(s, zone.department, zone.enterprise_id, "第一包联组", date(2023, 5, 12),
                                    "消防通道堵塞", [], [], datetime(2023, 5, 12, 3, tzinfo=UTC))
        this_week = record_inspection(s, zone.department, zone.enterprise_id, "第一包联组", date(2023, 5, 23),
                                      "复查", [], [], datetime(2023, 5, 23, 3, tzinfo=UTC))
        _penalty(s, s.get(Inspection, earlier.inspection_id), "罚2023-001", "unit", date(2023, 5, 15))
        inspection = s.get(Inspection, this_week.inspection_id)
        on_unit = _penalty(s, inspection, "罚2023-002", "unit", date(2023, 5, 24))
        on_principal = _penalty(s, inspection, "罚2023-002", "principal", date(2023, 5, 24), linked=on_unit)
        on_unit.linked_penalty_id = on_principal.id


def _value(page: str, field: str) -> str:
    marker = f'name="{field}" type="number" inputmode="decimal" value="'
    assert marker in page, field
    return page.split(marker, 1)[1].split('"', 1)[0]


def test_a_weekly_table_counts_the_week_and_the_campaign_and_enforcement_comes_from_the_records(
        factory, units, zone, tmp_path):
    """附表1/2 (plan 四、(五), lines 127-131) each figure 本周 (the Monday-to-Sunday week, Asia/Shanghai) and 累计
    (since the campaign began); 执法检查 and 行政处罚 are counted from the inspection and penalty records, a
    一案双罚 (two linked penalty records, one case number) counting as one case (起). Another value needs a reason;
    the submission keeps both and the exported table shows the typed value with a 备注."""
    import io

    from helpers import report
    from openpyxl import load_workbook
    from web_support import csrf, make_app, sign_in

    from workflow_app.reports.exports import ExportRequest, export

    report(factory, zone.principal, zone.enterprise_id, datetime(2023, 5, 15, 1, tzinfo=UTC), found_on="2023-05-14")
    _campaign(factory, "2023.toml")
    _enforcement_records(factory, zone)
    dispatch = datetime(2023, 5, 26, 2, tzinfo=UTC)
    sweep(factory, dispatch)
    client = make_app(factory, tmp_path, dispatch).test_client()
    sign_in(client, "town")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "镇街报送周调度表（附表1）" in inbox and "重大事故隐患专项排查整治2023行动" in inbox and "W01" in inbox
    with transaction(factory) as s:
        task = s.scalars(select(InboxTask).where(InboxTask.bpmn_id == "Task_TownWeekly",
                                                 InboxTask.organisation_id == units["town"].organisation_id)).one()
    page = client.get(f"/tasks/{task.task_id}").get_data(as_text=True)
    prefilled = {f: _value(page, f) for f in WEEKLY if not f.startswith("trained")}
    assert prefilled == {  # W01 is 5/22-5/28; the campaign began 5/10
        "enterprises_covered_week": "1", "enterprises_covered_total": "1",  # E1: inspected 5/23, reported 5/15
        "hazards_found_week": "0", "hazards_found_total": "1", "major_found_week": "0", "major_found_total": "1",
        "rectified_week": "0", "rectified_total": "0",
        "overdue_week": "1", "overdue_total": "1",  # its plan was due 5 working days after 5/15: overdue in W01
        "inspections_week": "1", "inspections_total": "2", "penalties_week": "1", "penalties_total": "2"}

    typed = {**WEEKLY, **prefilled, "trained_week": "30", "trained_total": "50", "inspections_week": "3",
             "inspections_total": "4", "penalties_total": "0"}
    refused = client.post(f"/tasks/{task.task_id}", data={**typed, "csrf_token": csrf(client, "/inbox")})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "执法检查·本周 按记录统计为 1，填报 3" in text and "累计数不能小于本周数" in text
    typed["penalties_total"] = "2"
    reason = "=含与应急局联合检查2次"
    response = client.post(f"/tasks/{task.task_id}", data={**typed, "override_reason": reason,
                                                            "csrf_token": csrf(client, "/inbox")})
    assert response.status_code == 302 and response.headers["Location"] == "/campaigns/2023"
    with transaction(factory) as s:
        filed = s.scalars(select(CampaignSubmission).where(CampaignSubmission.kind == "weekly")).one()
        assert (filed.period, filed.data["inspections_week"], filed.data["override_reason"]) == ("W01", 3, reason)
        assert filed.data["counted"] == {"inspections_week": 1, "inspections_total": 2, "penalties_week": 1,
                                         "penalties_total": 2}
        out = io.BytesIO()
        export(s, zone.office, ExportRequest("table1", "2023", "2023-W21"), out, date(2023, 5, 26))
    sheet = load_workbook(out).active
    headers = [c.value for c in sheet[2]]
    row = next([c.value for c in r] for r in sheet.iter_rows(min_row=3) if r[0].value == "T1单位")
    assert headers[11:15] == ["执法检查（次）本周", "执法检查（次）累计", "行政处罚（起）本周", "行政处罚（起）累计"]
    assert row[11:17] == [3, 4, 1, 2, 30, 50]
    assert row[-1] == ("已修改：执法检查（次）本周按执法记录统计为 1，填报 3；执法检查（次）累计按执法记录统计为 2，"
                       "填报 4。原因：=含与应急局联合检查2次")
    campaign_page = client.get("/campaigns/2023").get_data(as_text=True)
    assert "W01" in campaign_page and 'data-phase="self_inspection"' in campaign_page
    enterprise = client.application.test_client()
    sign_in(enterprise, "boss")
    assert enterprise.get("/campaigns/2023").status_code == 404


def test_a_department_counts_what_it_decided_and_the_campaign_weeks_are_iso_weeks(factory, units, zone):
    """A department's 执法检查 are the inspections it carried out and its 行政处罚 the cases it decided; D2
    decided none. Campaign weeks (W01 …, plan line 127 "自5月下旬起，每周调度") are ISO weeks, Monday to Sunday:
    the week an export asks for (YYYY-Www) is the period the tasks were filed under, even when holidays moved
    the dispatch into the next week (W19's went out on Saturday 2023-10-07)."""
    campaign = _campaign(factory, "2023.toml")
    _enforcement_records(factory, zone)
    with transaction(factory) as s:
        campaign = s.get(Campaign, campaign.id)
        d1, d2 = (s.get(Organisation, u.organisation_id) for u in (zone.department, zone.other_department))
        week = week_window(campaign, "W01")
        assert (week.week_from, week.until) == (datetime(2023, 5, 22, tzinfo=SHANGHAI),
                                                datetime(2023, 5, 29, tzinfo=SHANGHAI))
        assert counted_values(s, d1, week) == {"inspections_week": 1, "inspections_total": 2, "penalties_week": 1,
                                               "penalties_total": 2}
        assert set(counted_values(s, d2, week).values()) == {0}
        for number in range(1, 24):
            monday = week_window(campaign, f"W{number:02d}").week_from.date()
            year, iso_week, _ = monday.isocalendar()
            assert monday.weekday() == 0 and period_of_week(campaign, f"{year}-W{iso_week:02d}") == f"W{number:02d}"
    assert period_of_week(campaign, "2023-W39") == "W19"


def test_units_file_their_reports_on_the_web_and_the_office_sees_who_has_not(factory, units, zone, tmp_path):
    """The 8/18 implementation report (plan line 131) opens for every town and department ten working days
    ahead; what a unit files is kept, and the campaign page lists the units that have not filed."""
    from web_support import csrf, make_app, sign_in

    _campaign(factory, "2023.toml")
    opened = datetime(2023, 8, 4, 2, tzinfo=UTC)
    sweep(factory, opened)
    client = make_app(factory, tmp_path, opened).test_client()
    sign_in(client, "dept")
    with transaction(factory) as s:
        task = s.scalars(select(InboxTask).where(InboxTask.bpmn_id == "Task_DepartmentReport1",
                                                 InboxTask.organisation_id == units["dept"].organisation_id)).one()
    assert "部门报送贯彻落实情况（第一次）" in client.get("/inbox").get_data(as_text=True)
    response = client.post(f"/tasks/{task.task_id}", data={"report_text": "<script>x</script>已开展执法检查",
                                                            "csrf_token": csrf(client, "/inbox")})
    assert response.status_code == 302
    office = client.application.test_client()
    sign_in(office, "office")
    page = office.get("/campaigns/2023").get_data(as_text=True)
    row = page.split('data-report="report-2023-08-18"', 1)[1].split("</tr>", 1)[0]
    assert "2023-08-18" in row and "D1单位" in row and "T1单位、T2单位、D2单位" in row
    with transaction(factory) as s:
        filed = s.scalars(select(CampaignSubmission).where(CampaignSubmission.kind == "report")).one()
    assert (filed.period, filed.organisation_id) == ("2023-08-18", units["dept"].organisation_id)
