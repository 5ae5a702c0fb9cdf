"""Cases: a third-party model through the inbox, the special-operation permit, incidents retried and skipped."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0, Zone
from helpers import PLAN, open_case_tasks, open_task, report
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.engine import ModelError
from workflow_app.services import cases, tasks
from workflow_app.services.errors import PermissionDeniedError
from workflow_app.services.model_registry import deploy
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Case, Incident, Notice, ProcessInstanceRow

REPAIR = Path(__file__).parent / "models" / "equipment_repair.bpmn"
LANES = {"Requester": "enterprise", "Supervisor": "department"}
PERMIT = "special_operation_permit"


def _case(factory: sessionmaker[Session], case_id: int) -> tuple[Case, str]:
    with transaction(factory) as s:
        case = s.get(Case, case_id)
        assert case is not None
        row = s.get(ProcessInstanceRow, case.instance_id)
        assert row is not None
        return case, row.status


def _actions(factory: sessionmaker[Session], object_type: str, object_id: int) -> list[str]:
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == object_type,
                                                             AuditEntry.object_id == str(object_id))
                              .order_by(AuditEntry.id)))


def test_a_third_party_model_without_forms_runs_through_the_inbox_and_an_incident_is_retried(
        factory, zone: Zone, tmp_path: Path) -> None:
    with transaction(factory) as s:
        deploy(s, REPAIR.read_bytes(), "equipment_repair.bpmn", T0, LANES)
    app = make_app(factory, tmp_path, T0)
    boss, dept, other_dept, office = (app.test_client() for _ in range(4))
    sign_in(boss, "boss")
    assert "Equipment repair" in boss.get("/cases").get_data(as_text=True)
    started = boss.post("/cases/new/equipment_repair", data={"title": "空压机异响", "csrf_token": csrf(boss, "/cases")})
    assert started.status_code == 302
    case_id = int(re.search(r"/cases/(\d+)", started.headers["Location"]).group(1))

    # the enterprise's generic form asks what the next gateway routes on, plus a comment
    assess = open_case_tasks(factory, case_id)[0]
    assert (assess.name, assess.role, assess.organisation_id) == ("Assess fault", "enterprise", zone.enterprise_id)
    assert f"/cases/{case_id}" in boss.get("/inbox").get_data(as_text=True)
    page = boss.get(f"/tasks/{assess.task_id}").get_data(as_text=True)
    assert 'name="urgent"' in page and 'name="comment"' in page
    assert boss.post(f"/tasks/{assess.task_id}", data={"urgent": "true", "comment": "异响明显",
                                                        "csrf_token": csrf(boss, "/inbox")}).status_code == 302

    # the Supervisor lane was mapped to the enterprise's department; another department sees nothing
    approve = open_case_tasks(factory, case_id)[0]
    assert (approve.name, approve.role, approve.organisation_id) == (
        "Approve repair", "department", zone.department.organisation_id)
    sign_in(dept, "dept")
    sign_in(other_dept, "dept2")
    assert other_dept.get(f"/tasks/{approve.task_id}").status_code == 404
    assert other_dept.get(f"/cases/{case_id}").status_code == 404
    form = dept.get(f"/tasks/{approve.task_id}").get_data(as_text=True)
    assert all(f'value="{choice}"' in form for choice in ("approve", "reject", "defer"))
    done = dept.post(f"/tasks/{approve.task_id}", data={"decision": "approve", "csrf_token": csrf(dept, "/inbox")},
                     follow_redirects=True)
    assert "已转安委办处理" in done.get_data(as_text=True)

    # the service task ran; the script needs `hours` and `rate`, which nobody set: an incident
    case, status = _case(factory, case_id)
    assert status == "incident" and case.status == "running" and open_case_tasks(factory, case_id) == []
    with transaction(factory) as s:
        incident = s.scalars(select(Incident)).one()
    assert incident.bpmn_id == "Activity_Cost" and "hours" in incident.error
    assert incident.data["deadline"] == "2026-11-09" and incident.data["urgent"] is True  # 5 working days on
    assert boss.get("/admin/incidents").status_code == 403
    sign_in(office, "office")
    listing = office.get("/admin/incidents").get_data(as_text=True)
    assert "Activity_Cost" in listing and "hours" in listing
    token = csrf(office, f"/admin/incidents/{incident.id}")
    assert office.post(f"/admin/incidents/{incident.id}/retry",
                       data={"corrections": "[1]", "csrf_token": token}).status_code == 422
    assert _case(factory, case_id)[1] == "incident"  # a malformed correction changed nothing
    assert office.post(f"/admin/incidents/{incident.id}/retry",
                       data={"corrections": '{"hours": 4, "rate": 120}', "csrf_token": token}).status_code == 302

    repair = open_case_tasks(factory, case_id)[0]
    assert repair.name == "Repair" and _case(factory, case_id)[1] == "running"
    assert boss.post(f"/tasks/{repair.task_id}", data={"comment": "已更换轴承",
                                                        "csrf_token": csrf(boss, "/inbox")}).status_code == 302
    case, status = _case(factory, case_id)
    assert (case.status, status) == ("completed", "completed")
    assert _actions(factory, "case", case_id) == ["start_case", "complete_task", "incident", "complete_task",
                                                   "incident_retried", "complete_task"]
    assert "已办结" in boss.get(f"/cases/{case_id}").get_data(as_text=True)


def _start_permit(factory, zone: Zone, kind: str, grade: str, now: datetime = T0) -> int:
    with transaction(factory) as s:
        return cases.start_case(s, zone.safety_officer, PERMIT, {
            "title": "储罐区检修", "operation_kind": kind, "grade": grade, "location": "1# 储罐区",
            "content": "更换法兰", "workers": "张三、李四", "planned_on": "2026-11-03"}, now).id


def _do(factory, actor, case_id: int, data: dict, now: datetime = T0) -> str:
    task = open_case_tasks(factory, case_id)[0]
    with transaction(factory) as s:
        tasks.complete_task(s, actor, task.task_id, data, now)
    return task.bpmn_id


RISK = {"hazards_identified": "可燃气体泄漏", "safety_measures": "隔离、置换、通风", "briefing_done": True}
GAS = {"analyst": "王五", "sample_point": "法兰口", "oxygen_percent": 20.9, "combustible_percent": 0.1,
       "result": "qualified"}
APPROVE = {"decision": "approve", "opinion": "同意"}


def test_special_hot_work_permit_needs_gas_analysis_and_the_principal_and_is_closed(factory, zone: Zone) -> None:
    case_id = _start_permit(factory, zone, "hot_work", "special")
    assert _do(factory, zone.safety_officer, case_id, RISK) == "Task_RiskAssessment"
    # combustible gas above 0.5 %VOL fails the check even if marked qualified: analyse again
    assert _do(factory, zone.safety_officer, case_id, {**GAS, "combustible_percent": 1.2}) == "Task_GasAnalysis"
    assert _do(factory, zone.safety_officer, case_id, GAS) == "Task_GasAnalysis"
    approval = open_case_tasks(factory, case_id)[0]
    assert approval.bpmn_id == "Task_ApprovePrincipal"
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:  # the applicant cannot approve
        tasks.complete_task(s, zone.safety_officer, approval.task_id, APPROVE, T0)
    _do(factory, zone.principal, case_id, APPROVE)
    watcher = open_case_tasks(factory, case_id)[0]
    assert watcher.bpmn_id == "Task_Watcher"
    _do(factory, zone.safety_officer, case_id, {"watcher_name": "赵六", "watcher_briefed": True})
    work = open_case_tasks(factory, case_id)[0]
    assert work.bpmn_id == "Task_Work" and work.due_on.isoformat() == "2026-11-02"  # valid 8 h from approval
    _do(factory, zone.safety_officer, case_id, {"work_summary": "动火完成", "watcher_present": True},
        T0 + timedelta(hours=6))
    _do(factory, zone.principal, case_id, {"site_cleared": True, "closing_remark": "现场已清理"},
        T0 + timedelta(hours=7))
    case, status = _case(factory, case_id)
    assert (case.status, case.outcome, status) == ("completed", "closed", "completed")
    assert sweep(factory, T0 + timedelta(days=3)) == []  # a closed permit has no timer left


def test_other_operations_skip_gas_analysis_and_a_refusal_ends_the_permit(factory, zone: Zone) -> None:
    case_id = _start_permit(factory, zone, "work_at_height", "none")
    _do(factory, zone.safety_officer, case_id, RISK)
    assert _do(factory, zone.principal, case_id, {"decision": "reject", "opinion": "脚手架未验收"}) == \
        "Task_ApproveUnit"
    case, _ = _case(factory, case_id)
    assert (case.status, case.outcome) == ("completed", "rejected")
    assert open_case_tasks(factory, case_id) == []


def test_a_permit_left_open_past_its_validity_is_voided_by_its_timer(factory, zone: Zone) -> None:
    case_id = _start_permit(factory, zone, "confined_space", "none")
    _do(factory, zone.safety_officer, case_id, RISK)
    _do(factory, zone.safety_officer, case_id, {**GAS, "oxygen_percent": 18.0})  # too little oxygen: again
    _do(factory, zone.safety_officer, case_id, GAS)
    assert _do(factory, zone.principal, case_id, APPROVE) == "Task_ApproveUnit"
    _do(factory, zone.safety_officer, case_id, {"watcher_name": "赵六"})
    assert sweep(factory, T0 + timedelta(hours=23)) == []
    fired = sweep(factory, T0 + timedelta(hours=24))
    assert [f.timer for f in fired] == ["作业票到期"]
    case, status = _case(factory, case_id)
    assert (case.outcome, status) == ("voided", "completed") and open_case_tasks(factory, case_id) == []
    with transaction(factory) as s:
        notices = s.scalars(select(Notice.recipient_org_id).where(Notice.kind == "permit_expired")).all()
    assert notices == [zone.enterprise_id]


def test_cases_are_seen_by_their_enterprise_and_its_supervisors_only(factory, zone: Zone) -> None:
    case_id = _start_permit(factory, zone, "lifting", "second")
    with transaction(factory) as s:
        seen = {user.username: [c.id for c in cases.list_cases(s, user)]
                for user in (zone.principal, zone.outsider, zone.department, zone.other_department, zone.town,
                             zone.office)}
        with pytest.raises(PermissionDeniedError):
            cases.start_case(s, zone.other_department, PERMIT, {}, T0, zone.enterprise_id)
    assert seen == {"boss": [case_id], "outsider": [], "dept": [case_id], "dept2": [], "town": [case_id],
                    "office": [case_id]}


def test_a_failing_hazard_script_becomes_an_incident_the_office_skips_with_a_reason(
        factory, zone: Zone, tmp_path: Path) -> None:
    broken = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8").replace(
        "<bpmn:script>rectification_mode = 'planned'</bpmn:script>", "<bpmn:script>1 / 0</bpmn:script>")
    with transaction(factory) as s:
        assert deploy(s, broken.encode(), "hazard_lifecycle.bpmn", T0).version == 2
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    app = make_app(factory, tmp_path, T0)
    boss, office = app.test_client(), app.test_client()
    sign_in(boss, "boss")
    response = boss.post(f"/tasks/{task.task_id}", data={**PLAN, "csrf_token": csrf(boss, "/inbox")})
    assert response.status_code == 302  # the plan is kept; the instance waits at the failed script
    with transaction(factory) as s:
        incident = s.scalars(select(Incident)).one()
    assert incident.bpmn_id == "Task_RecordPlan" and incident.skippable
    assert incident.data["responsible_person"] == PLAN["responsible_person"]
    sign_in(office, "office")
    page = office.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    assert "ZeroDivisionError" in page and PLAN["responsible_person"] in page
    token = csrf(office, f"/admin/incidents/{incident.id}")
    assert office.post(f"/admin/incidents/{incident.id}/skip", data={"reason": " ", "csrf_token": token}
                       ).status_code == 422
    assert office.post(f"/admin/incidents/{incident.id}/skip",
                       data={"reason": "脚本笔误，模型已修正", "csrf_token": token}).status_code == 302
    assert open_task(factory, hazard_id).bpmn_id == "Task_ReviewPlan"  # the loop goes on
    assert office.post(f"/admin/incidents/{incident.id}/skip",
                       data={"reason": "再次", "csrf_token": token}).status_code == 409
    with transaction(factory) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "incident_skipped")).one()
    assert entry.actor_name and entry.detail["reason"] == "脚本笔误，模型已修正"


def test_a_model_naming_a_service_the_app_does_not_provide_is_refused(factory) -> None:
    xml = (BPMN_DIR / "special_operation_permit.bpmn").read_text(encoding="utf-8").replace(
        'value="permit_validity"', 'value="send_fax"')
    with pytest.raises(ModelError) as refused, transaction(factory) as s:
        deploy(s, xml.encode(), "permit.bpmn", T0)
    assert refused.value.element_id == "Service_Validity" and "send_fax" in str(refused.value)
