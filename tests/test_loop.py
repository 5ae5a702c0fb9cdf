"""The hazard loop end to end through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import T0
from helpers import PLAN, complete, hazard, open_task, report, snapshot
from sqlalchemy import select

from workflow_app.engine import FormValidationError
from workflow_app.services import audit, hazards
from workflow_app.services.errors import NotFoundError, PermissionDeniedError
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask


def test_major_hazard_is_reviewed_verified_by_department_and_closed(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    assert hazard(factory, hid).status == "awaiting_plan"
    assert complete(factory, zone.principal, hid, PLAN, T0) == "Task_PlanRectification"
    task = open_task(factory, hid)
    assert (task.bpmn_id, task.role) == ("Task_ReviewPlan", "department")
    assert task.organisation_id == zone.department.organisation_id

    complete(factory, zone.department, hid, {"review_decision": "return", "review_opinion": "资金不足"}, T0)
    assert open_task(factory, hid).bpmn_id == "Task_PlanRectification"
    complete(factory, zone.principal, hid, {**PLAN, "rectification_funds": "8"}, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    listed = hazard(factory, hid)
    # approval does not list it: listing is the office's decision (bpmn/supervision_listing.bpmn)
    assert (listed.status, listed.supervision_listed, float(listed.rectification_funds)) == ("rectifying", False, 8.0)
    assert open_task(factory, hid).due_on.isoformat() == "2026-11-20"

    complete(factory, zone.principal, hid, {"rectification_result": "已更换", "rectified_on": "2026-11-10"}, T0)
    assert open_task(factory, hid).bpmn_id == "Task_DepartmentVerify"
    complete(factory, zone.department, hid, {"verification_result": "passed", "verification_opinion": "合格"}, T0)
    closed = hazard(factory, hid)
    assert (closed.status, closed.closed_at) == ("closed", T0)
    with transaction(factory) as s:
        steps = [e.detail.get("task") for e in audit.history(s, "hazard", hid)]
    assert steps == [None, "Task_PlanRectification", "Task_ReviewPlan", "Task_PlanRectification",
                     "Task_ReviewPlan", "Task_Rectify", "Task_DepartmentVerify"]


def test_failed_verification_returns_to_rectification_with_the_new_deadline(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    complete(factory, zone.principal, hid, {"rectification_result": "已处理", "rectified_on": "2026-11-10"}, T0)
    with pytest.raises(FormValidationError) as failed:
        complete(factory, zone.department, hid, {"verification_result": "failed", "verification_opinion": "未到位"}, T0)
    assert [e.field_id for e in failed.value.errors] == ["rectification_deadline"]
    complete(factory, zone.department, hid, {"verification_result": "failed", "verification_opinion": "未到位",
                                             "rectification_deadline": "2026-12-10"}, T0)
    again = open_task(factory, hid)
    assert (again.bpmn_id, again.due_on.isoformat()) == ("Task_Rectify", "2026-12-10")
    assert hazard(factory, hid).status == "rectifying"


def test_general_hazard_is_verified_by_someone_other_than_the_rectifier(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general")
    complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, T0)
    complete(factory, zone.safety_officer, hid, {"rectification_measures": "已清理通道", "rectified_on": "2026-11-02"},
             T0)
    assert open_task(factory, hid).bpmn_id == "Task_EnterpriseVerify"
    before = snapshot(factory, hid)
    with pytest.raises(PermissionDeniedError):
        complete(factory, zone.safety_officer, hid, {"verification_result": "passed", "verification_opinion": "好"}, T0)
    assert snapshot(factory, hid) == before
    complete(factory, zone.principal, hid, {"verification_result": "passed", "verification_opinion": "好"}, T0)
    assert hazard(factory, hid).status == "closed"


def test_failed_immediate_fix_needs_a_plan(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general")
    complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, T0)
    fix = {"rectification_measures": "临时处理", "rectified_on": "2026-11-02"}
    complete(factory, zone.safety_officer, hid, fix, T0)
    complete(factory, zone.principal, hid, {"verification_result": "failed", "verification_opinion": "需彻底整改",
                                            "rectification_deadline": "2026-11-30"}, T0)
    assert open_task(factory, hid).bpmn_id == "Task_PlanRectification"
    complete(factory, zone.principal, hid, PLAN, T0)
    assert open_task(factory, hid).bpmn_id == "Task_Rectify"  # general: no department review


@pytest.mark.parametrize("decision", ["duplicate", "not_hazard"])
def test_public_report_rejected_at_triage(factory, zone, decision):
    hid = report(factory, None, zone.enterprise_id, T0, source="public_report")
    task = open_task(factory, hid)
    assert (task.bpmn_id, task.role) == ("Task_Triage", "office")
    complete(factory, zone.office, hid, {"triage_decision": decision, "hazard_level": "general",
                                         "triage_opinion": "经核实"}, T0)
    assert hazard(factory, hid).status == "rejected"
    with transaction(factory) as s:
        assert s.scalars(select(InboxTask).where(InboxTask.hazard_id == hid,
                                                 InboxTask.completed_at.is_(None))).all() == []


def test_whistleblower_report_accepted_at_triage_enters_the_loop_with_the_judged_level(factory, zone):
    hid = report(factory, None, zone.enterprise_id, T0, source="whistleblower", hazard_level="general")
    complete(factory, zone.office, hid, {"triage_decision": "accept", "hazard_level": "major",
                                         "triage_opinion": "属实，判定为重大隐患"}, T0)
    found = hazard(factory, hid)
    assert (found.level, found.status) == ("major", "awaiting_plan")
    assert open_task(factory, hid).bpmn_id == "Task_PlanRectification"


def test_anonymous_reports_must_be_public_reports(factory, zone):
    with pytest.raises(PermissionDeniedError):
        report(factory, None, zone.enterprise_id, T0, source="self_inspection")


def test_invalid_form_data_is_refused_and_changes_nothing(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    before = snapshot(factory, hid)
    bad = {**PLAN, "rectification_funds": "很多", "rectification_deadline": "下周", "emergency_plan": " ", "x": "1"}
    with pytest.raises(FormValidationError) as invalid:
        complete(factory, zone.principal, hid, bad, T0)
    codes = {e.field_id: e.code for e in invalid.value.errors}
    assert codes == {"rectification_funds": "not_a_number", "rectification_deadline": "not_a_date",
                     "emergency_plan": "required", "x": "unknown_field"}
    assert snapshot(factory, hid) == before


def test_invalid_report_stores_nothing(factory, zone):
    with pytest.raises(FormValidationError):
        report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="catastrophic")
    with transaction(factory) as s:
        assert hazards.list_hazards(s, zone.office) == []


def test_someone_elses_task_and_hazard_are_not_found(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    before = snapshot(factory, hid)
    for stranger in (zone.outsider, zone.other_department, zone.department):
        with pytest.raises(NotFoundError):
            complete(factory, stranger, hid, PLAN, T0)
    assert snapshot(factory, hid) == before
    with transaction(factory) as s:
        with pytest.raises(NotFoundError):
            hazards.get_hazard(s, zone.outsider, hid)
        with pytest.raises(NotFoundError):
            hazards.get_hazard(s, zone.other_department, hid)
        assert hazards.get_hazard(s, zone.department, hid).id == hid
        assert hazards.get_hazard(s, zone.town, hid).id == hid
        assert [h.id for h in hazards.list_hazards(s, zone.outsider)] == []


def test_enterprise_cannot_report_for_another_enterprise(factory, zone):
    with pytest.raises(PermissionDeniedError):
        report(factory, zone.outsider, zone.enterprise_id, T0)


def test_exception_mid_transaction_leaves_previous_state(factory, zone):
    from workflow_app.services import tasks

    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    before = snapshot(factory, hid)
    task = open_task(factory, hid)
    with pytest.raises(RuntimeError), transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task.task_id, PLAN, T0 + timedelta(hours=1))
        raise RuntimeError("the process died before commit")
    assert snapshot(factory, hid) == before
    assert complete(factory, zone.principal, hid, PLAN, T0) == "Task_PlanRectification"
