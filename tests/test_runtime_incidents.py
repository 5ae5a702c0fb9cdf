"""A model that fails at run time never leaves a case stuck or a person facing an error page: a failing
condition, script, timer value, conditional event or service becomes an incident on 流程故障 naming the
element and the error, the submission kept; an admin retries it with corrected data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import T0, Zone
from helpers import open_case_tasks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.services import cases, incidents, tasks
from workflow_app.services.model_registry import deploy
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Case, Incident, ProcessInstanceRow

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="Defs" targetNamespace="t">
  <bpmn:process id="failing" name="会出错的流程" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:userTask id="Task_Fill" name="填报" />
    {failing}
    <bpmn:userTask id="Task_Next" name="下一步" />
    <bpmn:endEvent id="EndEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_Fill" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Fill" targetRef="Failing" />
    <bpmn:sequenceFlow id="F3" sourceRef="Failing" targetRef="Task_Next" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Next" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>"""
CONDITION = """<bpmn:exclusiveGateway id="Failing" default="F3" />
  <bpmn:sequenceFlow id="F5" sourceRef="Failing" targetRef="EndEvent_1">
    <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">comment &gt; 5</bpmn:conditionExpression>
  </bpmn:sequenceFlow>"""
KINDS = {
    "condition": (CONDITION, "TypeError", None),
    "script": ('<bpmn:scriptTask id="Failing" name="计算" scriptFormat="python">'
               "<bpmn:script>ratio = 100 / divisor</bpmn:script></bpmn:scriptTask>", "NameError", {"divisor": 4}),
    "timer": ('<bpmn:intermediateCatchEvent id="Failing" name="等待"><bpmn:timerEventDefinition>'
              "<bpmn:timeDuration>wait_for</bpmn:timeDuration></bpmn:timerEventDefinition>"
              "</bpmn:intermediateCatchEvent>", "NameError", {"wait_for": "PT1H"}),
    "bad timer value": ('<bpmn:intermediateCatchEvent id="Failing" name="等待"><bpmn:timerEventDefinition>'
                        '<bpmn:timeDuration>"five days"</bpmn:timeDuration></bpmn:timerEventDefinition>'
                        "</bpmn:intermediateCatchEvent>", "Invalid duration", None),
    "conditional event": ('<bpmn:intermediateCatchEvent id="Failing" name="条件"><bpmn:conditionalEventDefinition>'
                          '<bpmn:condition xsi:type="bpmn:tFormalExpression">level &gt; 1</bpmn:condition>'
                          "</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>", "NameError",
                          {"level": 3}),
    "service": ('<bpmn:serviceTask id="Failing" name="算期限" camunda:topic="working_day_deadline">'
                '<bpmn:extensionElements><camunda:properties><camunda:property name="working_days" value="999" />'
                "</camunda:properties></bpmn:extensionElements></bpmn:serviceTask>", "working_days", None),
}


def _case_status(factory: sessionmaker[Session], case_id: int) -> str:
    with transaction(factory) as s:
        return s.get(ProcessInstanceRow, s.get(Case, case_id).instance_id).status


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_run_time_failure_becomes_an_incident_and_a_corrected_retry_goes_on(factory, zone: Zone, kind: str) -> None:
    failing, error, corrections = KINDS[kind]
    with transaction(factory) as s:
        deploy(s, MODEL.format(failing=failing).encode(), "failing.bpmn", T0, default_role="enterprise")
    with transaction(factory) as s:
        case_id = cases.start_case(s, zone.principal, "failing", {}, T0).id
    [fill] = open_case_tasks(factory, case_id)
    with transaction(factory) as s:  # the person's submission is accepted: the failure is the model's
        tasks.complete_task(s, zone.principal, fill.task_id, {"comment": "已填报"}, T0)
    assert _case_status(factory, case_id) == "incident" and open_case_tasks(factory, case_id) == []
    with transaction(factory) as s:
        incident = s.scalars(select(Incident).where(Incident.resolved_at.is_(None))).one()
        assert incident.bpmn_id == "Failing" and error in incident.error
        assert incident.data.get("comment") == "已填报"  # the submission is kept with the incident
    assert sweep(factory, T0 + timedelta(days=1)) == []  # a sweep neither fires nor fails on it
    if corrections is None:
        return
    with transaction(factory) as s:
        incidents.retry(s, zone.office, incident.id, corrections, T0 + timedelta(days=1))
    if kind == "timer":
        assert open_case_tasks(factory, case_id) == []
        sweep(factory, T0 + timedelta(days=1, hours=1))
    assert [t.name for t in open_case_tasks(factory, case_id)] == ["下一步"]
    assert _case_status(factory, case_id) == "running"
