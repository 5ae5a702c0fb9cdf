"""A whole campaign in accelerated time: sweeps with an explicit now step through the year."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import _org, _user
from sqlalchemy import select

from workflow_app.services import tasks
from workflow_app.services.campaigns import CampaignConfig, campaign_status, start_campaign
from workflow_app.services.errors import InvalidInputError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Campaign, CampaignSubmission, InboxTask, Inspection, Notice, User

CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"
WEEKLY = {"enterprises_covered": "3", "hazards_found": "2", "major_found": "0", "rectified": "1", "overdue": "0",
          "inspections": "1", "penalties": "0", "trained": "20"}
ANSWERS = {
    "Task_TownPlan": {"plan_summary": "成立专班", "contact_name": "张三", "contact_position": "科长",
                      "contact_phone": "0475-1234567"},
    "Task_TownWeekly": WEEKLY, "Task_DepartmentWeekly": WEEKLY, "Task_PublishBulletin": {"bulletin_text": "通报"},
    "Task_Report1": {"report_text": "进展"}, "Task_Report2": {"report_text": "进展"},
    "Task_Summary": {"summary_text": "总结"},
}
ANSWERS["Task_DepartmentPlan"] = ANSWERS["Task_TownPlan"]


@pytest.fixture
def units(factory, zone) -> dict[str, User]:
    """The zone's town and departments plus a second town; a user for each unit."""
    with transaction(factory) as s:
        second_town = _org(s, "T2", "town")
        users = {"town2": _user(s, "town2", "town", second_town)}
    return {"town": zone.town, "town2": users["town2"], "dept": zone.department, "dept2": zone.other_department,
            "office": zone.office}


def _campaign(factory, name: str) -> Campaign:
    with transaction(factory) as s:
        return start_campaign(s, None, CampaignConfig.load(CAMPAIGNS / name), datetime(2023, 5, 10, 1, tzinfo=UTC)
                              if name == "2023.toml" else datetime(2024, 4, 1, 1, tzinfo=UTC))


def _work_the_inbox(factory, users: dict[str, User], now: datetime, late: set[str]) -> None:
    """Every unit completes its open campaign tasks, except those in `late` (unit key)."""
    for key, user in users.items():
        if key in late:
            continue
        with transaction(factory) as s:
            open_ids = [t.task_id for t in s.scalars(select(InboxTask).where(
                InboxTask.organisation_id == user.organisation_id, InboxTask.role == user.role,
                InboxTask.campaign_id.is_not(None), InboxTask.completed_at.is_(None)))]
        for task_id in open_ids:
            with transaction(factory) as s:
                task = s.scalars(select(InboxTask).where(InboxTask.task_id == task_id)).one()
                tasks.complete_task(s, user, task_id, ANSWERS[task.bpmn_id], now)


def _phase(factory, code: str) -> tuple[str, str]:
    with transaction(factory) as s:
        campaign = s.scalars(select(Campaign).where(Campaign.code == code)).one()
        return campaign.phase, campaign.status


def test_a_campaign_runs_its_year_and_a_second_one_runs_beside_it(factory, units):
    first, second = _campaign(factory, "2023.toml"), _campaign(factory, "2024.toml")
    phase_seen: dict[date, str] = {}
    day = date(2023, 5, 10)
    while day <= date(2024, 1, 3):
        now = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
        sweep(factory, now)
        # town2 files its third weekly table a week late; everyone else works their inbox every day
        _work_the_inbox(factory, units, now, {"town2"} if date(2023, 6, 9) <= day < date(2023, 6, 16) else set())
        phase_seen[day] = _phase(factory, "2023")[0]
        day += timedelta(days=1)

    assert phase_seen[date(2023, 5, 20)] == "mobilization" and phase_seen[date(2023, 5, 21)] == "self_inspection"
    assert phase_seen[date(2023, 7, 31)] == "self_inspection" and phase_seen[date(2023, 8, 1)] == "enforcement"
    assert phase_seen[date(2023, 10, 31)] == "enforcement" and phase_seen[date(2023, 11, 1)] == "summary"
    assert _phase(factory, "2023") == ("summary", "closed")

    with transaction(factory) as s:
        weekly = Counter((t.organisation_id, t.campaign_id) for t in s.scalars(select(InboxTask).where(
            InboxTask.bpmn_id.in_(("Task_TownWeekly", "Task_DepartmentWeekly")))))
        for key in ("town", "town2", "dept", "dept2"):  # 2023-05-26 … 2023-10-27: 23 weekly dispatches
            assert weekly[(units[key].organisation_id, first.id)] == 23, key
        late = s.scalars(select(Notice).where(Notice.kind == "overdue")).all()
        assert {n.recipient_org_id for n in late} == {units["town2"].organisation_id, units["office"].organisation_id}
        assert all("附表1" in n.subject for n in late)
        reminded = s.scalars(select(Notice).where(Notice.kind == "reminder")).all()
        assert {n.recipient_org_id for n in reminded} == {units["town2"].organisation_id}  # the day before, once
        assert len(reminded) == 1
        bulletins = s.scalars(select(CampaignSubmission).where(CampaignSubmission.campaign_id == first.id,
                                                               CampaignSubmission.kind == "bulletin")).all()
        assert sorted(b.period for b in bulletins) == [f"2023-{m:02d}" for m in range(5, 12)]
        status = campaign_status(s, "2023")
    assert status.periods["W03"]["filed"] and not any(units["missing"] for units in status.periods.values())
    # the 2024 campaign, started beside it, is still in mobilization and has its own tasks only
    assert _phase(factory, "2024") == ("mobilization", "running")
    assert all(campaign_id in (first.id, second.id) for _, campaign_id in weekly)
    assert not [k for k in weekly if k[1] == second.id]


def test_a_campaign_code_runs_once_and_bad_parameters_are_refused(factory, units, tmp_path):
    _campaign(factory, "2023.toml")
    with pytest.raises(InvalidInputError, match="already exists"):
        _campaign(factory, "2023.toml")
    swapped = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8").replace('"2024-06-30"', '"2024-12-30"')
    (tmp_path / "bad.toml").write_text(swapped.replace('code = "2024"', 'code = "bad"'), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="follow each other"), transaction(factory) as s:
        start_campaign(s, None, CampaignConfig.load(tmp_path / "bad.toml"), datetime(2024, 4, 1, tzinfo=UTC))
    (tmp_path / "broken.toml").write_text("code = ", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not a campaign parameters file"):
        CampaignConfig.load(tmp_path / "broken.toml")


def test_units_file_their_weekly_table_on_the_web_with_known_figures_prefilled(factory, units, zone, tmp_path):
    from helpers import report
    from web_support import csrf, make_app, sign_in


    report(factory, zone.principal, zone.enterprise_id, datetime(2023, 5, 15, 1, tzinfo=UTC), found_on="2023-05-14")
    _campaign(factory, "2023.toml")
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
    assert 'name="enterprises_covered" type="number" inputmode="decimal" value="1"' in page  # E1 reported, E2 not
    with transaction(factory) as s:  # an enforcement inspection of E2 puts it on record too
        s.add(Inspection(enterprise_id=zone.other_enterprise_id, department_id=zone.other_department.organisation_id,
                         team="第二组", inspected_on=date(2023, 5, 20), findings="未发现问题",
                         recorded_by_id=zone.other_department.id, recorded_at=dispatch))
    page = client.get(f"/tasks/{task.task_id}").get_data(as_text=True)
    assert 'name="enterprises_covered" type="number" inputmode="decimal" value="2"' in page  # E1 and E2 in T1
    assert 'name="hazards_found" type="number" inputmode="decimal" value="1"' in page
    response = client.post(f"/tasks/{task.task_id}", data={**WEEKLY, "csrf_token": csrf(client, "/inbox")})
    assert response.status_code == 302 and response.headers["Location"] == "/campaigns/2023"
    campaign_page = client.get("/campaigns/2023").get_data(as_text=True)
    assert "W01" in campaign_page and 'data-phase="self_inspection"' in campaign_page
    enterprise = client.application.test_client()
    sign_in(enterprise, "boss")
    assert enterprise.get("/campaigns/2023").status_code == 404
