"""Who closes what: the government side verifies what a department or a report found (复查), only a major
hazard the enterprise found and reported itself and is rectifying is not penalised, and every step of the
loop has a deadline with its reminder, overdue notice and escalation."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone
from helpers import PLAN, complete, hazard, open_task, report, snapshot
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.reports.statistics import period_statistics
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.errors import InvalidInputError, NotFoundError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, Inspection, Notice, Supervision

REVIEW = {"review_decision": "approve", "review_opinion": "同意"}
FIXED_AT_ONCE = {"rectification_measures": "已清理消防通道", "rectified_on": "2026-11-02"}
RECTIFIED = {"rectification_result": "已更换", "rectified_on": "2026-11-10"}
PASSED = {"verification_result": "passed", "verification_opinion": "复查合格"}
GENERAL = {"hazard_level": "general"}


def _rectify_general(factory: sessionmaker[Session], zone: Zone, hid: int, mode: str) -> None:
    """The enterprise's part of a general hazard: immediately, or by a plan it carries out."""
    complete(factory, zone.principal, hid, {"rectification_mode": mode}, T0)
    if mode == "immediate":
        complete(factory, zone.safety_officer, hid, FIXED_AT_ONCE, T0)
    else:
        complete(factory, zone.principal, hid, PLAN, T0)
        complete(factory, zone.safety_officer, hid, RECTIFIED, T0)


def _notices(factory: sessionmaker[Session], hid: int) -> set[tuple[str, int]]:
    with transaction(factory) as s:
        return {(n.kind, n.recipient_org_id) for n in s.scalars(select(Notice).where(  # to organisations
            Notice.hazard_id == hid, Notice.recipient_user_id.is_(None)))}


@pytest.mark.parametrize("mode", ["immediate", "planned"])
def test_a_general_hazard_a_department_found_is_verified_by_that_department_never_by_the_enterprise(
        factory: sessionmaker[Session], zone: Zone, tmp_path: Path, mode: str) -> None:
    """复查: a hazard found by a department (here a supervising department that does not lead) is verified by it,
    whether fixed at once or by a plan; the enterprise's internal verification is not offered, and the enterprise
    can neither open nor submit the department's step (DOMAIN.md: the department verifies what it found)."""
    finder = zone.other_department
    with transaction(factory) as s:
        s.add(Supervision(enterprise_id=zone.enterprise_id, department_id=finder.organisation_id, is_lead=False))
    hid = report(factory, finder, zone.enterprise_id, T0, source="enforcement", **GENERAL)
    _rectify_general(factory, zone, hid, mode)
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.role, verify.organisation_id) == (
        "Task_DepartmentVerify", "department", finder.organisation_id)

    before = snapshot(factory, hid)
    for enterprise_user in (zone.principal, zone.safety_officer):
        with pytest.raises(NotFoundError):
            complete(factory, enterprise_user, hid, PASSED, T0)
    with pytest.raises(NotFoundError):
        complete(factory, zone.department, hid, PASSED, T0)  # nor the lead: the finder verifies
    client = make_app(factory, tmp_path, T0 + timedelta(days=1)).test_client()
    sign_in(client, "boss")
    assert client.get(f"/tasks/{verify.task_id}").status_code == 404
    response = client.post(f"/tasks/{verify.task_id}", data={**PASSED, "verifier_signature": "老板",
                                                             "csrf_token": csrf(client, "/inbox")})
    assert response.status_code == 404
    assert snapshot(factory, hid) == before

    complete(factory, finder, hid, PASSED, T0)
    assert hazard(factory, hid).status == "closed"


@pytest.mark.parametrize("source", ["self_inspection", "lesson_learned"])
def test_a_general_hazard_the_enterprise_found_itself_is_verified_inside_it(
        factory: sessionmaker[Session], zone: Zone, source: str) -> None:
    """A general hazard found by the enterprise's own inspection (or by learning from an accident elsewhere) may
    be verified by the enterprise, by someone other than the rectifier (DOMAIN.md, the hazard closed loop)."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0, source=source, **GENERAL)
    _rectify_general(factory, zone, hid, "immediate")
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.organisation_id) == ("Task_EnterpriseVerify", zone.enterprise_id)
    complete(factory, zone.principal, hid, PASSED, T0)
    assert hazard(factory, hid).status == "closed"


def test_a_whistleblower_report_accepted_as_general_is_verified_by_the_lead_department(
        factory: sessionmaker[Session], zone: Zone) -> None:
    """A whistleblower's report the office confirmed, judged general, is verified by the government side (the
    lead supervising department), not by the enterprise it was reported against."""
    hid = report(factory, None, zone.enterprise_id, T0, source="whistleblower", **GENERAL)
    complete(factory, zone.office, hid, {"triage_decision": "accept", "hazard_level": "general",
                                         "triage_opinion": "属实"}, T0)
    _rectify_general(factory, zone, hid, "immediate")
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.organisation_id) == ("Task_DepartmentVerify", zone.department.organisation_id)
    with pytest.raises(NotFoundError):
        complete(factory, zone.principal, hid, PASSED, T0)
    complete(factory, zone.department, hid, PASSED, T0)
    assert hazard(factory, hid).status == "closed"


def _inspect(factory: sessionmaker[Session], zone: Zone, acknowledged: int, when: datetime) -> None:
    with transaction(factory) as s:
        record_inspection(s, zone.department, zone.enterprise_id, "第一包联组", when.date(), "检查储罐区", [],
                          [acknowledged], when)


def _refused(factory: sessionmaker[Session], zone: Zone, hid: int, when: datetime, reason: str) -> None:
    """The inspection naming `hid` as self-reported is refused with `reason` and records nothing."""
    with pytest.raises(InvalidInputError, match=reason):
        _inspect(factory, zone, hid, when)
    with transaction(factory) as s:
        assert s.get(Hazard, hid).penalty is None  # type: ignore[union-attr]
        assert s.scalars(select(Inspection)).all() == []


@pytest.mark.parametrize("source", ["whistleblower", "public_report"])
def test_a_reported_major_hazard_is_never_not_penalised_as_self_reported(
        factory: sessionmaker[Session], zone: Zone, source: str) -> None:
    """不予处罚 is for a major hazard the enterprise itself found (campaign-plan-2023.zh.txt line 69:
    "对企业自查查出的重大事故隐患，已按规定报告并正在采取有效措施消除的，依法不予行政处罚"): a report by a
    whistleblower or the public awaiting its plan was once accepted; it is refused, naming why."""
    hid = report(factory, None, zone.enterprise_id, T0, source=source)
    complete(factory, zone.office, hid, {"triage_decision": "accept", "hazard_level": "major",
                                         "triage_opinion": "属实"}, T0)
    assert hazard(factory, hid).status == "awaiting_plan"
    _refused(factory, zone, hid, T0, "不是企业自查发现")


def test_only_a_self_found_major_hazard_whose_plan_is_being_carried_out_is_not_penalised(
        factory: sessionmaker[Session], zone: Zone) -> None:
    """The same rule (plan line 69): reported AND being eliminated. Without a plan, or with a plan the department
    has not approved, the enterprise is not yet taking the measures; once it rectifies under the approved plan,
    the inspection records the hazard as not penalised. A general hazard or one found by a department never is."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    _refused(factory, zone, hid, T0, "待制定整改方案")
    complete(factory, zone.principal, hid, PLAN, T0)
    _refused(factory, zone, hid, T0, "不是正在按经审核的治理方案整改")
    complete(factory, zone.department, hid, REVIEW, T0)
    _inspect(factory, zone, hid, T0 + timedelta(days=1))
    assert hazard(factory, hid).penalty == "not_penalised"

    general = report(factory, zone.principal, zone.enterprise_id, T0, **GENERAL)
    with pytest.raises(InvalidInputError, match="不是重大事故隐患"):
        _inspect(factory, zone, general, T0 + timedelta(days=1))
    found = report(factory, zone.department, zone.enterprise_id, T0, source="enforcement")
    complete(factory, zone.principal, found, PLAN, T0)
    complete(factory, zone.department, found, REVIEW, T0)
    with pytest.raises(InvalidInputError, match="不是企业自查发现"):
        _inspect(factory, zone, found, T0 + timedelta(days=1))
    assert hazard(factory, found).penalty is None


PLAN_DUE = date(2026, 11, 9)  # 5 working days after Monday 2026-11-02
SH_MIDNIGHT_AFTER_PLAN_DUE = datetime(2026, 11, 9, 16, 0, tzinfo=UTC)


def test_a_late_plan_is_reminded_overdue_and_escalated_and_listed_in_the_bulletin(
        factory: sessionmaker[Session], zone: Zone) -> None:
    """Every step of a major hazard has its deadline on the diagram (DOMAIN.md: reminder before the deadline,
    overdue notice at it to the enterprise and its supervisor, escalation to the office after a grace period):
    the plan is due 5 working days after the report; missing it puts the hazard on the overdue list, in the
    month's count and in the bulletin, naming the step and its due date."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    assert (open_task(factory, hid).bpmn_id, open_task(factory, hid).due_on) == ("Task_PlanRectification", PLAN_DUE)
    enterprise, department, office = (zone.enterprise_id, zone.department.organisation_id,
                                      zone.office.organisation_id)

    assert [f.notice for f in sweep(factory, datetime(2026, 11, 5, 1, 0, tzinfo=UTC))] == ["plan_reminder"]
    assert sweep(factory, SH_MIDNIGHT_AFTER_PLAN_DUE - timedelta(seconds=1)) == []
    assert [f.notice for f in sweep(factory, SH_MIDNIGHT_AFTER_PLAN_DUE)] == ["plan_overdue"]
    assert hazard(factory, hid).overdue_since == SH_MIDNIGHT_AFTER_PLAN_DUE
    assert [f.notice for f in sweep(factory, datetime(2026, 11, 12, 1, 0, tzinfo=UTC))] == ["plan_escalation"]
    assert _notices(factory, hid) == {("plan_reminder", enterprise), ("plan_overdue", enterprise),
                                      ("plan_overdue", department), ("plan_escalation", office),
                                      ("plan_escalation", department)}
    with transaction(factory) as s:
        subjects = s.scalars(select(Notice.subject).where(Notice.kind == "plan_overdue")).all()
        assert all("2026-11-09" in subject for subject in subjects)
        assert period_statistics(s, date(2026, 11, 1), date(2026, 12, 1)).total["overdue"] == 1
        out = io.BytesIO()
        monthly_bulletin(s, "2026-11", out)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)
    text = "".join(text.split())
    assert "四、逾期的重大事故隐患（1项" in text and "制定治理方案（五落实）（时限2026-11-09）" in text

    late = datetime(2026, 11, 12, 2, 0, tzinfo=UTC)  # Thursday: the review is due 5 working days later
    complete(factory, zone.principal, hid, PLAN, late)
    escalated = hazard(factory, hid)
    assert escalated.escalated_at is not None and escalated.rectification_deadline == date(2026, 11, 20)
    review = open_task(factory, hid)
    assert (review.bpmn_id, review.due_on) == ("Task_ReviewPlan", date(2026, 11, 19))
    assert sorted(f.notice for f in sweep(factory, datetime(2026, 11, 24, 1, 0, tzinfo=UTC))) == [
        "review_escalation", "review_overdue", "review_reminder"]
    assert {("review_overdue", department), ("review_escalation", office)} <= _notices(factory, hid)


def test_an_immediate_rectification_is_due_the_next_working_day(factory: sessionmaker[Session],
                                                                 zone: Zone) -> None:
    """What can be fixed at once is fixed at once (能立即整改的，要迅速整改): one working day, then the overdue
    notice to the enterprise and its department, and the hazard counts as overdue."""
    friday = datetime(2026, 11, 6, 2, 0, tzinfo=UTC)
    hid = report(factory, zone.principal, zone.enterprise_id, friday, **GENERAL)
    complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, friday)
    task = open_task(factory, hid)
    assert (task.bpmn_id, task.due_on) == ("Task_RectifyImmediately", date(2026, 11, 9))  # Monday
    assert sorted(f.notice for f in sweep(factory, datetime(2026, 11, 10, 0, 0, tzinfo=UTC))) == [
        "immediate_overdue", "immediate_reminder"]
    assert ("immediate_overdue", zone.department.organisation_id) in _notices(factory, hid)
    assert hazard(factory, hid).overdue_since is not None
