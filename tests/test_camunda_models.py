"""Models written the Camunda Modeler way: unquoted ISO 8601 timers run, cron is refused, simple JUEL conditions
are translated and route, anything else in JUEL is refused at deploy naming the element and the expression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import T0, Zone
from helpers import open_case_tasks
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.engine import ModelError
from workflow_app.engine.camunda_expressions import juel_to_python
from workflow_app.services import cases, tasks
from workflow_app.services.model_registry import deploy
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" targetNamespace="t">
  <bpmn:process id="{pid}" name="{pid}" isExecutable="true">
    <bpmn:laneSet id="Lanes"><bpmn:lane id="Lane" name="企业">{refs}</bpmn:lane></bpmn:laneSet>
    {body}
  </bpmn:process>
</bpmn:definitions>"""


def model(pid: str, body: str) -> bytes:
    """A one-lane (企业) process around `body`; every element with an id is in the lane."""
    import re

    ids = re.findall(r'<bpmn:(?:\w+Task|startEvent|endEvent|\w+Gateway|\w+Event) id="([^"]+)"', body)
    refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    return HEAD.format(pid=pid, refs=refs, body=body).encode()


def flow(flow_id: str, source: str, target: str, condition: str = "") -> str:
    body = (f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
            if condition else "")
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}</bpmn:sequenceFlow>'


def decision_model(conditions: tuple[str, str, str]) -> bytes:
    rework, big, small = conditions
    return model("juel_routes", f"""
    <bpmn:startEvent id="StartEvent_1" /><bpmn:userTask id="Task_Decide" name="决定" />
    <bpmn:exclusiveGateway id="Gateway_1" />
    <bpmn:userTask id="Task_Rework" name="返工" /><bpmn:userTask id="Task_Big" name="大额" />
    <bpmn:userTask id="Task_Small" name="小额" /><bpmn:endEvent id="EndEvent_1" />
    {flow("F1", "StartEvent_1", "Task_Decide")}{flow("F2", "Task_Decide", "Gateway_1")}
    {flow("F3", "Gateway_1", "Task_Rework", rework)}{flow("F4", "Gateway_1", "Task_Big", big)}
    {flow("F5", "Gateway_1", "Task_Small", small)}
    {flow("F6", "Task_Rework", "EndEvent_1")}{flow("F7", "Task_Big", "EndEvent_1")}
    {flow("F8", "Task_Small", "EndEvent_1")}""")


def timer_model(duration: str, date: str, cycle: str) -> bytes:
    return model("iso_timers", f"""
    <bpmn:startEvent id="StartEvent_1" /><bpmn:userTask id="Task_Wait" name="等待" />
    <bpmn:boundaryEvent id="Timer_Late" name="超时" attachedToRef="Task_Wait">
      <bpmn:timerEventDefinition id="TimerDef_1">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Task_Late" name="超时处理" />
    <bpmn:intermediateCatchEvent id="Timer_NewYear" name="元旦">
      <bpmn:timerEventDefinition><bpmn:timeDate>{date}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Task_After" name="节后" />
    <bpmn:boundaryEvent id="Timer_Ping" name="提醒" attachedToRef="Task_After" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Task_Ping" name="提醒" />
    <bpmn:endEvent id="EndEvent_Ping" /><bpmn:endEvent id="EndEvent_1" /><bpmn:endEvent id="EndEvent_Late" />
    {flow("F1", "StartEvent_1", "Task_Wait")}{flow("F2", "Task_Wait", "Timer_NewYear")}
    {flow("F3", "Timer_NewYear", "Task_After")}{flow("F4", "Task_After", "EndEvent_1")}
    {flow("F5", "Timer_Late", "Task_Late")}{flow("F6", "Task_Late", "EndEvent_Late")}
    {flow("F7", "Timer_Ping", "Task_Ping")}{flow("F8", "Task_Ping", "EndEvent_Ping")}""")


def _open(factory: sessionmaker[Session], case_id: int) -> list[str]:
    return sorted(task.name for task in open_case_tasks(factory, case_id))


def _complete(factory: sessionmaker[Session], zone: Zone, case_id: int, name: str, data: dict, now: datetime) -> None:
    with transaction(factory) as s:
        task_id = s.scalars(select(InboxTask.task_id).where(InboxTask.case_id == case_id, InboxTask.name == name,
                                                            InboxTask.completed_at.is_(None))).one()
        tasks.complete_task(s, zone.principal, task_id, data, now)


def _start(factory: sessionmaker[Session], zone: Zone, xml: bytes, process_id: str) -> int:
    with transaction(factory) as s:
        deploy(s, xml, f"{process_id}.bpmn", T0)
    with transaction(factory) as s:
        return cases.start_case(s, zone.principal, process_id, {}, T0).id


def test_unquoted_iso_timers_run_a_duration_a_date_and_a_cycle(factory, zone: Zone) -> None:
    case_id = _start(factory, zone, timer_model("PT5M", "2027-01-01T09:00:00+08:00", "R3/PT1H"), "iso_timers")
    assert sweep(factory, T0 + timedelta(minutes=4)) == [] and _open(factory, case_id) == ["等待"]
    _complete(factory, zone, case_id, "等待", {}, T0 + timedelta(minutes=1))  # in time: on to the new-year wait
    assert _open(factory, case_id) == []
    new_year = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert sweep(factory, new_year - timedelta(minutes=1)) == []
    sweep(factory, new_year)
    assert _open(factory, case_id) == ["节后"]
    for hour in range(1, 6):
        sweep(factory, new_year + timedelta(hours=hour, seconds=1))
    assert _open(factory, case_id) == ["提醒", "提醒", "提醒", "节后"]  # R3: three reminders, the task stays

    late = _start(factory, zone, timer_model("PT5M", "2027-01-01T09:00:00+08:00", "R3/PT1H"), "iso_timers")
    sweep(factory, T0 + timedelta(minutes=6))
    assert _open(factory, late) == ["超时处理"]  # the duration interrupted the wait


@pytest.mark.parametrize("cron", ["0 0 9 * * ?", "0 9 * * MON-FRI"])
def test_cron_cycles_are_refused_with_the_iso_way_to_write_them(factory, cron: str) -> None:
    with pytest.raises(ModelError, match=r"cron cycles are not supported; use ISO 8601 R/…/P…") as refused, \
            transaction(factory) as s:
        deploy(s, timer_model("PT5M", "2027-01-01T09:00:00+08:00", cron), "cron.bpmn", T0)
    assert refused.value.element_id == "Timer_Ping"


def test_juel_conditions_are_translated_and_route_the_case(factory, zone: Zone) -> None:
    xml = decision_model(("${decision == 'rework'}", "${decision == 'accept' &amp;&amp; amount gt 1000}",
                          "#{decision != 'rework' &amp;&amp; !(amount &gt; 1000)}"))
    big = _start(factory, zone, xml, "juel_routes")
    _complete(factory, zone, big, "决定", {"decision": "accept", "amount": 2000}, T0)
    small = _start(factory, zone, xml, "juel_routes")
    _complete(factory, zone, small, "决定", {"decision": "accept", "amount": 10}, T0)
    rework = _start(factory, zone, xml, "juel_routes")
    _complete(factory, zone, rework, "决定", {"decision": "rework", "amount": 0}, T0)
    assert (_open(factory, big), _open(factory, small), _open(factory, rework)) == (["大额"], ["小额"], ["返工"])


@pytest.mark.parametrize(("juel", "python"), [
    ("approved", "approved"),
    ("amount > 1000", "amount > 1000"),
    ("decision == 'rework'", "decision == 'rework'"),
    ("x != null", "x != None"),
    ("!approved || empty note", "not approved or (note is None or note == '' or note == [] or note == {})"),
    ("a eq 1 and not b", "a == 1 and not b"),
])
def test_simple_juel_becomes_python(juel: str, python: str) -> None:
    assert juel_to_python(juel) == python


@pytest.mark.parametrize(("condition", "words"), [
    ("${order.items.size() &gt; 0}", "property paths"),
    ("${amount * 2 &gt; 10}", "not supported"),
    ("${approved ? 1 : 0}", "not supported"),
    ("${execution.getVariable('x')}", "property paths"),
    ("${isValid(amount)}", "calls are not supported"),
])
def test_other_juel_is_refused_naming_the_flow_and_the_expression(factory, condition: str, words: str) -> None:
    xml = decision_model((condition, "${decision == 'b'}", "${decision == 'c'}"))
    with pytest.raises(ModelError, match=words) as refused, transaction(factory) as s:
        deploy(s, xml, "juel.bpmn", T0)
    assert refused.value.element_id == "F3" and condition.replace("&gt;", ">")[:12] in str(refused.value)


def test_a_conditional_event_written_in_juel_is_checked_at_deploy(factory) -> None:
    xml = model("conditional", f"""
    <bpmn:startEvent id="StartEvent_1" /><bpmn:userTask id="Task_1" name="一" />
    <bpmn:boundaryEvent id="Cond_1" attachedToRef="Task_1">
      <bpmn:conditionalEventDefinition>
        <bpmn:condition xsi:type="bpmn:tFormalExpression">${{risk.level()}}</bpmn:condition>
      </bpmn:conditionalEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="EndEvent_1" /><bpmn:endEvent id="EndEvent_2" />
    {flow("F1", "StartEvent_1", "Task_1")}{flow("F2", "Task_1", "EndEvent_1")}{flow("F3", "Cond_1", "EndEvent_2")}""")
    with pytest.raises(ModelError, match="property paths") as refused, transaction(factory) as s:
        deploy(s, xml, "conditional.bpmn", T0)
    assert refused.value.element_id == "Cond_1"
