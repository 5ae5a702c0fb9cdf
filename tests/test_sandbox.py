"""Model expressions run in a sandbox: refused at deploy, refused at run time, bounded in time and size."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BPMN_DIR, T0, Zone
from helpers import PLAN, complete, open_task, report
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.cli import main
from workflow_app.engine import ModelError
from workflow_app.engine.sandbox import SandboxEnvironment, SandboxError, check_source
from workflow_app.services import incidents
from workflow_app.services.model_registry import deploy
from workflow_app.store.database import transaction
from workflow_app.store.models import Incident, ModelVersion, ProcessInstanceRow, TimerRow, User

HAZARD_XML = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8")
PLANNED = "<bpmn:script>rectification_mode = 'planned'</bpmn:script>"


@pytest.mark.parametrize(("replaced", "replacement", "element", "name"), [
    (PLANNED, "<bpmn:script>__import__('os').system('touch /tmp/pwned')</bpmn:script>", "Task_RecordPlan",
     "__import__"),
    (PLANNED, "<bpmn:script>rectification_mode = open('/etc/passwd').read()</bpmn:script>", "Task_RecordPlan",
     '"open"'),
    (PLANNED, "<bpmn:script>import os</bpmn:script>", "Task_RecordPlan", '"import"'),
    ('>hazard_level == \'major\'<', ">hazard_level == 'major' and eval('1')<", "Gateway_", '"eval"'),
    ("working_days_before(rectification_deadline, 3)", "getattr(rectification_deadline, 'x')", "Timer_Reminder",
     '"getattr"'),
    (PLANNED, "<bpmn:script>x = (c for c in 'ab').gi_frame.f_back</bpmn:script>", "Task_RecordPlan", "gi_frame"),
    (PLANNED, "<bpmn:script>x = '{0.__class__}'.format(1)</bpmn:script>", "Task_RecordPlan", '"format"'),
])
def test_a_model_using_a_forbidden_name_is_refused_at_deploy_naming_file_element_and_name(
        factory: sessionmaker[Session], replaced: str, replacement: str, element: str, name: str) -> None:
    hostile = HAZARD_XML.replace(replaced, replacement, 1)
    assert hostile != HAZARD_XML
    with pytest.raises(ModelError) as refused, transaction(factory) as s:
        deploy(s, hostile.encode(), "hostile.bpmn", T0)
    message = str(refused.value)
    assert "hostile.bpmn" in message and (refused.value.element_id or "").startswith(element) and name in message
    assert "not allowed in models" in message or "invalid" in message


def test_check_refuses_a_hostile_model_in_the_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hostile.bpmn").write_text(HAZARD_XML.replace(PLANNED, "<bpmn:script>x = open('f')</bpmn:script>"),
                                           encoding="utf-8")
    monkeypatch.setenv("WORKFLOW_APP_BPMN_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1 and "hostile.bpmn" in result.output and "Task_RecordPlan" in result.output
    assert '"open"' in result.output


def _force_script(factory: sessionmaker[Session], script: str) -> None:
    """Store a model version whose plan script is `script`, past deploy's checks (as a tampered row would be)."""
    benign = HAZARD_XML.replace(PLANNED, '<bpmn:script>rectification_mode = "planned"</bpmn:script>')
    with transaction(factory) as s:
        version = deploy(s, benign.encode(), "hazard_lifecycle.bpmn", T0)
        spec_json = version.spec_json.replace('rectification_mode = \\"planned\\"', json.dumps(script)[1:-1])
        assert spec_json != version.spec_json
        s.execute(update(ModelVersion).where(ModelVersion.id == version.id)
                  .values(spec_json=spec_json, sha256=hashlib.sha256(spec_json.encode()).hexdigest()))


def _submit_plan(factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> tuple[int, float]:
    """The enterprise submits the plan through the web; returns the status code and how long it took."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    boss = make_app(factory, tmp_path, T0).test_client()
    sign_in(boss, "boss")
    started = time.monotonic()
    response = boss.post(f"/tasks/{task.task_id}", data={**PLAN, "csrf_token": csrf(boss, "/inbox")})
    return response.status_code, time.monotonic() - started


def _incident(factory: sessionmaker[Session]) -> Incident:
    with transaction(factory) as s:
        incident = s.scalars(select(Incident)).one()
        assert s.get(ProcessInstanceRow, incident.instance_id).status == "incident"
        return incident


def test_a_hostile_script_forced_past_deploy_does_not_run_and_becomes_an_incident(
        factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _force_script(factory, f"__import__('os').system('touch {marker}')")
    status, _ = _submit_plan(factory, zone, tmp_path)
    assert status == 302  # the plan is kept; the instance waits at the refused script
    assert not marker.exists()
    incident = _incident(factory)
    assert incident.bpmn_id == "Task_RecordPlan" and "__import__" in incident.error


def test_an_endless_loop_in_a_script_is_stopped_and_becomes_an_incident(
        factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    _force_script(factory, "n = 0\nwhile True:\n    n += 1")
    status, seconds = _submit_plan(factory, zone, tmp_path)
    assert status == 302 and seconds < 10
    incident = _incident(factory)
    assert incident.bpmn_id == "Task_RecordPlan" and "stopped after" in incident.error


@pytest.mark.parametrize("expression", [
    "'a' * 10**7", "10 ** 10 ** 10", "1 << 100000", "sum(range(10**9))", "'%099999d' % 1",
    "text.replace('', text * 100000)", "text.format(1)", "text.__class__", "(1).bit_length()",
    "[list(range(1000000)) for i in range(1000000)]",
])
def test_expressions_beyond_the_limits_are_refused_at_run_time(expression: str) -> None:
    from workflow_app.engine.calendar import SCRIPT_FUNCTIONS

    with pytest.raises((SandboxError, SyntaxError)):
        SandboxEnvironment(SCRIPT_FUNCTIONS).evaluate(expression, {"text": "abc"})


def test_our_helpers_refuse_a_shift_a_model_could_use_to_loop_for_ever() -> None:
    from workflow_app.engine.calendar import SCRIPT_FUNCTIONS

    environment = SandboxEnvironment(SCRIPT_FUNCTIONS)
    started = time.monotonic()
    with pytest.raises(ValueError, match="working days"):
        environment.evaluate("working_days_after('2026-11-02', 10**9)", {})
    assert time.monotonic() - started < 1
    assert environment.evaluate("working_days_after('2026-11-02', 5)", {}) == "2026-11-09T09:00:00+08:00"


def test_what_models_need_still_runs() -> None:
    environment = SandboxEnvironment({})
    data = {"decision": "approve", "items": [3, 1, 2], "amount": 1500}
    assert environment.evaluate("decision == 'approve' and amount > 1000", data) is True
    assert environment.evaluate("sorted(items)[-1] + len(items) + round(sum(items) / 3)", data) == 8
    assert environment.evaluate("date(2026, 11, 2).isoformat() + f' {amount:>6}'", data) == "2026-11-02   1500"
    environment.execute("total = 0\nfor item in items:\n    total += item\nnames = {'k': decision.upper()}", data)
    assert data["total"] == 6 and data["names"] == {"k": "APPROVE"} and "_getattr_" not in data
    assert check_source("week = week + 1", "exec") is None


def _force_timer(factory: sessionmaker[Session], expression: str) -> None:
    """Store a model version whose rectification reminder is due at `expression`, past deploy's checks."""
    benign = HAZARD_XML.replace("working_days_before(rectification_deadline, 3)",
                                "working_days_before(rectification_deadline, 4)")
    with transaction(factory) as s:
        version = deploy(s, benign.encode(), "hazard_lifecycle.bpmn", T0)
        spec_json = version.spec_json.replace("working_days_before(rectification_deadline, 4)", expression)
        s.execute(update(ModelVersion).where(ModelVersion.id == version.id)
                  .values(spec_json=spec_json, sha256=hashlib.sha256(spec_json.encode()).hexdigest()))


def _approve_plan(factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> tuple[int, int]:
    """Report a major hazard, record its plan and approve it through the web (the rectification timers start)."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    department = make_app(factory, tmp_path, T0).test_client()
    sign_in(department, "dept")
    response = department.post(f"/tasks/{open_task(factory, hazard_id).task_id}", data={
        "review_decision": "approve", "review_opinion": "同意", "csrf_token": csrf(department, "/inbox")})
    return hazard_id, response.status_code


def test_a_refused_timer_expression_is_an_incident_not_an_error_page(
        factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    _force_timer(factory, "__import__('os').getcwd()")
    hazard_id, status = _approve_plan(factory, zone, tmp_path)
    assert status == 302  # the approval is kept; the instance waits at the timer
    incident = _incident(factory)
    assert incident.bpmn_id == "Timer_Reminder" and "__import__" in incident.error
    assert open_task(factory, hazard_id).bpmn_id == "Task_Rectify"


def test_a_timer_that_failed_on_missing_data_waits_again_once_the_office_corrects_it(
        factory: sessionmaker[Session], zone: Zone, tmp_path: Path) -> None:
    _force_timer(factory, "working_days_before(agreed_date, 3)")
    _, status = _approve_plan(factory, zone, tmp_path)
    incident = _incident(factory)
    assert status == 302 and "agreed_date" in incident.error
    with transaction(factory) as s:
        assert s.scalars(select(TimerRow).where(TimerRow.instance_id == incident.instance_id)).all() == []
        incidents.retry(s, s.get(User, zone.office.id), incident.id, {"agreed_date": "2026-11-20"}, T0)
    with transaction(factory) as s:
        waiting = {t.bpmn_id: t.fire_at for t in s.scalars(select(TimerRow)
                                                            .where(TimerRow.instance_id == incident.instance_id))}
        assert s.get(ProcessInstanceRow, incident.instance_id).status == "running"
    assert set(waiting) == {"Timer_Reminder", "Timer_Overdue", "Timer_Escalation"}
    assert waiting["Timer_Reminder"].replace(tzinfo=UTC) == datetime(2026, 11, 17, 1, 0, tzinfo=UTC)  # 3 days before
