"""Who acts on a model drawn elsewhere: a default role for a model without lanes, Camunda candidate groups
mapped like lanes, a named assignee, plain and manual tasks as steps a person confirms; forms we cannot use are
reported and messages (which nothing would deliver) are refused at deploy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from helpers import open_case_tasks
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.cli import main
from workflow_app.engine import ModelError
from workflow_app.services import cases, tasks
from workflow_app.services.model_registry import deploy, prepare
from workflow_app.store.database import transaction
from workflow_app.store.models import Case, ProcessInstanceRow

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="t">
  {messages}
  <bpmn:process id="drawn_elsewhere" name="外来模型" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
    {first}
    <bpmn:manualTask id="Task_Manual" name="人工确认" />
    <bpmn:task id="Task_Plain" name="普通任务" />
    <bpmn:endEvent id="EndEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_First" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_First" targetRef="Task_Manual" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_Manual" targetRef="Task_Plain" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Plain" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>"""


def drawn(first: str = '<bpmn:userTask id="Task_First" name="填报" />', messages: str = "") -> bytes:
    """A model without lanes, as Camunda Modeler draws one."""
    return TEMPLATE.format(first=first, messages=messages).encode()


def _start(factory: sessionmaker[Session], zone: Zone) -> int:
    with transaction(factory) as s:
        return cases.start_case(s, zone.principal, "drawn_elsewhere", {}, T0).id


def test_a_model_without_lanes_is_refused_unless_a_default_role_is_given_then_runs_to_its_end(
        factory, zone: Zone) -> None:
    with pytest.raises(ModelError, match="--default-role"), transaction(factory) as s:
        deploy(s, drawn(), "drawn.bpmn", T0)
    with transaction(factory) as s:
        deploy(s, drawn(), "drawn.bpmn", T0, default_role="enterprise")
    case_id = _start(factory, zone)
    for name in ("填报", "人工确认", "普通任务"):  # plain and manual tasks wait in the inbox for a person
        [task] = open_case_tasks(factory, case_id)
        assert (task.name, task.role, task.organisation_id) == (name, "enterprise", zone.enterprise_id)
        with transaction(factory) as s:
            tasks.complete_task(s, zone.safety_officer, task.task_id, {"comment": "已完成"}, T0)
    with transaction(factory) as s:
        case = s.get(Case, case_id)
        assert s.get(ProcessInstanceRow, case.instance_id).status == "completed"


def test_a_candidate_group_maps_to_a_role_like_a_lane(factory, zone: Zone) -> None:
    grouped = drawn('<bpmn:userTask id="Task_First" name="审核" camunda:candidateGroups="Managers" />')
    with pytest.raises(ModelError, match=r"'Managers' maps to no role.*--group"), transaction(factory) as s:
        deploy(s, grouped, "grouped.bpmn", T0, default_role="enterprise")
    with transaction(factory) as s:
        deploy(s, grouped, "grouped.bpmn", T0, {"Managers": "department"}, default_role="enterprise")
    [task] = open_case_tasks(factory, _start(factory, zone))
    assert (task.name, task.role, task.organisation_id) == ("审核", "department", zone.department.organisation_id)
    several = drawn('<bpmn:userTask id="Task_First" name="审核" camunda:candidateGroups="Managers, Clerks" />')
    with pytest.raises(ModelError, match="give one group") as refused:
        prepare(several, "several.bpmn", {"Managers": "department", "Clerks": "office"}, "enterprise")
    assert refused.value.element_id == "Task_First"


def test_a_named_assignee_gets_the_task_when_they_may_act_on_it(factory, zone: Zone) -> None:
    named = drawn('<bpmn:userTask id="Task_First" name="填报" camunda:assignee="safety" />')
    with transaction(factory) as s:
        deploy(s, named, "named.bpmn", T0, default_role="enterprise")
    [task] = open_case_tasks(factory, _start(factory, zone))
    assert task.assignee_id == zone.safety_officer.id
    outsider = drawn('<bpmn:userTask id="Task_First" name="填报" camunda:assignee="outsider" />')
    with transaction(factory) as s:  # a user of another enterprise: the task stays with the lane's role
        deploy(s, outsider, "outsider.bpmn", T0, default_role="enterprise")
    [task] = open_case_tasks(factory, _start(factory, zone))
    assert task.assignee_id is None and task.organisation_id == zone.enterprise_id
    with pytest.raises(ModelError, match="is an expression"):
        prepare(drawn('<bpmn:userTask id="Task_First" name="x" camunda:assignee="${initiator}" />'), "e.bpmn",
                default_role="enterprise")


def test_a_camunda_form_is_reported_as_replaced_by_a_generic_one(tmp_path: Path, monkeypatch) -> None:
    formed = drawn('<bpmn:userTask id="Task_First" name="填报" camunda:formKey="embedded:app:forms/x.html" />')
    assert prepare(formed, "formed.bpmn", default_role="enterprise").model.warnings == [
        "formed.bpmn [Task_First]: form 'embedded:app:forms/x.html' not used; a generic form is generated"]
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    (tmp_path / "formed.bpmn").write_bytes(formed)
    result = runner.invoke(main, ["deploy", str(tmp_path / "formed.bpmn"), "--default-role", "enterprise"])
    assert result.exit_code == 0 and "WARN" in result.output and "generic form" in result.output


@pytest.mark.parametrize(("first", "messages", "element"), [
    ('<bpmn:sendTask id="Task_First" name="发送" />', "", "Task_First"),
    ('<bpmn:receiveTask id="Task_First" name="接收" messageRef="Msg" />', '<bpmn:message id="Msg" name="m" />',
     "Task_First"),
    ('<bpmn:intermediateCatchEvent id="Task_First"><bpmn:messageEventDefinition messageRef="Msg" />'
     "</bpmn:intermediateCatchEvent>", '<bpmn:message id="Msg" name="m" />', "Task_First"),
])
def test_messages_are_refused_at_deploy_naming_the_element(first: str, messages: str, element: str) -> None:
    with pytest.raises(ModelError, match="messages are not supported") as refused:
        prepare(drawn(first, messages), "messages.bpmn", default_role="enterprise")
    assert refused.value.element_id == element and re.match(r"messages\.bpmn", str(refused.value))
