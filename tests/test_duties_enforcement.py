"""Enterprise duties recur on the right months and a missed one is escalated; enforcement
inspections keep their liaison team and flag 一案双罚."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import _org
from helpers import PLAN, REPORT, complete, report
from sqlalchemy import select

from workflow_app.services import tasks
from workflow_app.services.duties import open_due_duties, period_of
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.errors import InvalidInputError, PermissionDeniedError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Duty, Hazard, InboxTask, Notice, Organisation, Sector

DONE = {"performed_on": None, "led_by": "李总", "participants": "12", "content": "检查储罐区"}


def test_periods_of_each_cadence():
    assert period_of(date(2023, 8, 10), 1) == ("2023-08", date(2023, 8, 31))
    assert period_of(date(2023, 8, 10), 3) == ("2023-Q3", date(2023, 9, 30))
    assert period_of(date(2023, 8, 10), 6) == ("2023-H2", date(2023, 12, 31))
    assert period_of(date(2024, 2, 10), 12) == ("2024", date(2024, 12, 31))


@pytest.fixture
def risky(factory, zone) -> int:
    """A third enterprise in a high-risk sector (危险化学品) supervised by the zone's department."""
    with transaction(factory) as s:
        s.add(Sector(code="hazchem", name="危险化学品", high_risk=True, department_id=zone.department.organisation_id))
        s.flush()
        return _org(s, "E3", "enterprise", sector_code="hazchem").id


def test_duties_recur_on_the_right_months_and_a_missed_one_is_escalated(factory, zone, risky):
    day = date(2023, 6, 1)
    while day <= date(2023, 12, 31):
        now = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        with transaction(factory) as s:
            open_due_duties(s, now)
        sweep(factory, now)
        if day.day == 15:  # the industry enterprise does its duties mid-month, except its Q3 inspection
            _do_open_duties(factory, zone, now, skip=("principal_inspection", "2023-Q3"))
        day += timedelta(days=1)
    with transaction(factory) as s:
        duties = s.scalars(select(Duty)).all()
        per = Counter((d.enterprise_id, d.kind) for d in duties)
        assert per[(risky, "principal_inspection")] == 7  # monthly, June … December
        assert per[(zone.enterprise_id, "principal_inspection")] == 3  # quarterly: Q2, Q3, Q4
        assert per[(risky, "special_plan_drill")] == 2 and per[(zone.enterprise_id, "special_plan_drill")] == 1
        assert per[(risky, "onsite_plan_drill")] == 3
        missed = s.scalars(select(Duty).where(Duty.enterprise_id == zone.enterprise_id,
                                              Duty.period == "2023-Q3", Duty.kind == "principal_inspection")).one()
        assert missed.status == "open" and missed.overdue_since is not None
        kinds = Counter((n.kind, n.recipient_org_id) for n in s.scalars(select(Notice).where(
            Notice.subject.contains("2023-Q3"), Notice.subject.contains("主要负责人带队检查"),
            Notice.subject.contains("E1单位"))))
        assert kinds[("overdue", zone.department.organisation_id)] == 1
        assert kinds[("escalation", zone.office.organisation_id)] == 1
        done = s.scalars(select(Duty).where(Duty.enterprise_id == zone.enterprise_id, Duty.status == "done")).all()
        assert done and all(d.performed_on is not None for d in done)


def _do_open_duties(factory, zone, now: datetime, skip: tuple[str, str]) -> None:
    with transaction(factory) as s:
        open_tasks = [(t.task_id, d.kind, d.period) for t, d in s.execute(
            select(InboxTask, Duty).join(Duty, Duty.instance_id == InboxTask.instance_id)
            .where(InboxTask.completed_at.is_(None), InboxTask.organisation_id == zone.enterprise_id))]
    for task_id, kind, period in open_tasks:
        if (kind, period) == skip:
            continue
        with transaction(factory) as s:
            tasks.complete_task(s, zone.principal, task_id, {**DONE, "performed_on": now.date().isoformat()}, now)


def test_opening_duties_twice_opens_nothing_more(factory, zone):
    now = datetime(2023, 6, 1, 1, tzinfo=UTC)
    with transaction(factory) as s:
        first = open_due_duties(s, now)
    with transaction(factory) as s:
        assert first == 6 and open_due_duties(s, now + timedelta(days=3)) == 0  # two enterprises × three duties


T1 = datetime(2023, 8, 10, 2, tzinfo=UTC)
FOUND = {**REPORT, "hazard_level": "major", "title": "储罐区未设置泄漏报警", "found_on": "2023-08-10"}


def test_an_inspection_keeps_its_liaison_team_and_flags_double_penalty(factory, zone):
    own = report(factory, zone.principal, zone.enterprise_id, T1 - timedelta(days=20), found_on="2023-07-20")
    complete(factory, zone.principal, own, {**PLAN, "rectification_deadline": "2023-09-20"}, T1 - timedelta(days=19))
    complete(factory, zone.department, own, {"review_decision": "approve", "review_opinion": "同意"},
             T1 - timedelta(days=18))  # its plan approved: being carried out when inspected
    with transaction(factory) as s:
        general = {**FOUND, "hazard_level": "general", "title": "灭火器过期"}
        result = record_inspection(s, zone.department, zone.enterprise_id, "第一包联组", date(2023, 8, 10),
                                   "检查储罐区和配电室", [FOUND, general], [own], T1)
    with transaction(factory) as s:
        found = {h.title: h for h in s.scalars(select(Hazard).where(Hazard.id.in_(result.new_hazard_ids)))}
        assert found["储罐区未设置泄漏报警"].penalty == "double_penalty"
        assert found["灭火器过期"].penalty is None and all(h.source == "enforcement" for h in found.values())
        assert s.get(Hazard, own).penalty == "not_penalised"
        hazards_before = len(s.scalars(select(Hazard)).all())
    with pytest.raises(InvalidInputError, match="第一包联组"), transaction(factory) as s:
        record_inspection(s, zone.department, zone.enterprise_id, "第二包联组", date(2023, 9, 1), "复查", [FOUND], [],
                          T1 + timedelta(days=20))
    with transaction(factory) as s:
        assert len(s.scalars(select(Hazard)).all()) == hazards_before  # the refused inspection changed nothing
        record_inspection(s, zone.department, zone.enterprise_id, "第二包联组", date(2024, 3, 1), "新年度", [], [],
                          T1 + timedelta(days=200))  # a new year may have a new team


def test_only_the_supervising_department_inspects_and_only_own_major_hazards_are_acknowledged(factory, zone):
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        record_inspection(s, zone.other_department, zone.enterprise_id, "组", date(2023, 8, 10), "x", [], [], T1)
    other = report(factory, zone.outsider, zone.other_enterprise_id, T1)
    with pytest.raises(InvalidInputError, match="没有编号为"), transaction(factory) as s:
        record_inspection(s, zone.department, zone.enterprise_id, "组", date(2023, 8, 10), "x", [], [other], T1)
    with transaction(factory) as s:
        assert s.scalar(select(Organisation.id).where(Organisation.code == "E1")) == zone.enterprise_id


def test_an_enterprise_records_a_duty_on_the_web(factory, zone, tmp_path):
    from web_support import csrf, make_app, sign_in


    now = datetime(2023, 6, 5, 1, tzinfo=UTC)
    with transaction(factory) as s:
        open_due_duties(s, now)
    client = make_app(factory, tmp_path, now).test_client()
    sign_in(client, "boss")
    assert "2023-Q2" in client.get("/inbox").get_data(as_text=True)
    with transaction(factory) as s:
        task_id, duty_id = s.execute(
            select(InboxTask.task_id, Duty.id).join(Duty, Duty.instance_id == InboxTask.instance_id)
            .where(Duty.enterprise_id == zone.enterprise_id, Duty.kind == "principal_inspection")).one()
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "主要负责人带队检查" in page and "带队负责人" in page
    response = client.post(f"/tasks/{task_id}", data={**DONE, "performed_on": "2023-06-05",
                                                      "csrf_token": csrf(client, "/inbox")})
    assert response.status_code == 302
    with transaction(factory) as s:
        duty = s.get(Duty, duty_id)
        assert duty.status == "done" and duty.performed_on == date(2023, 6, 5)
    stranger = client.application.test_client()
    sign_in(stranger, "outsider")
    assert stranger.get(f"/tasks/{task_id}").status_code == 404
