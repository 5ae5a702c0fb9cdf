"""Who acts on a task, for models that say it the Camunda way instead of with our lanes.

Done on the parsed document before SpiffWorkflow reads it (a task's lane is where the engine reads the role):
- ``camunda:candidateGroups="Name"`` puts the task in a lane called Name (mapped to a role at deploy like any
  lane); several groups on one task are refused, one role must act;
- tasks in no lane go into `default_lane` when one is given (a model drawn without lanes);
- ``camunda:assignee`` with a literal user name becomes the task's ``assignee`` property (the inbox assigns the
  task to that user when they may act on it); an expression is refused;
- ``camunda:formKey`` (an external or Camunda form) is reported as a warning: a generic form is used instead.
"""

from __future__ import annotations

from typing import Any

from .errors import ModelError

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
HUMAN_TASKS = ("userTask", "manualTask", "task")
PROCESS_HEAD = ("documentation", "extensionElements", "auditing", "monitoring", "property")
"""What the BPMN schema puts before a process's lane sets."""


def assign(document: Any, file_name: str, default_lane: str | None = None) -> list[str]:
    """Rewrite the document's assignment into lanes and properties; return warnings for the deployer."""
    warnings: list[str] = []
    for process in document.iter(f"{{{BPMN}}}process"):
        lane_of = {ref.text.strip(): lane for lane in process.iter(f"{{{BPMN}}}lane")
                   for ref in lane.findall(f"{{{BPMN}}}flowNodeRef") if ref.text}
        for tag in HUMAN_TASKS:
            for task in process.iter(f"{{{BPMN}}}{tag}"):
                task_id = task.get("id", "")
                groups = [g.strip() for g in (task.get(f"{{{CAMUNDA}}}candidateGroups") or "").split(",") if g.strip()]
                if len(groups) > 1:
                    raise ModelError(file_name, task_id, f"candidate groups {', '.join(groups)}: give one group, "
                                                         "one role acts on a task")
                if groups:
                    _move(process, lane_of, task_id, groups[0])
                _assignee(task, file_name)
                if task.get(f"{{{CAMUNDA}}}formKey"):
                    warnings.append(f"{file_name} [{task_id}]: form {task.get(f'{{{CAMUNDA}}}formKey')!r} not used; "
                                    "a generic form is generated")
        if default_lane:
            for element in list(process):
                element_id = element.get("id")
                if element_id and element_id not in lane_of and _is_flow_node(element):
                    _move(process, lane_of, element_id, default_lane)
    return warnings


def _assignee(task: Any, file_name: str) -> None:
    assignee = (task.get(f"{{{CAMUNDA}}}assignee") or "").strip()
    if not assignee:
        return
    if "{" in assignee:
        raise ModelError(file_name, task.get("id"), f"assignee {assignee!r} is an expression: name a user, or "
                                                    "leave it out (the task goes to the lane's role)")
    extensions = task.find(f"{{{BPMN}}}extensionElements")
    if extensions is None:
        extensions = task.makeelement(f"{{{BPMN}}}extensionElements", {})
        task.insert(_after_leading(task, ("documentation",)), extensions)
    properties = extensions.find(f"{{{CAMUNDA}}}properties")
    if properties is None:
        properties = extensions.makeelement(f"{{{CAMUNDA}}}properties", {})
        extensions.append(properties)
    properties.append(properties.makeelement(f"{{{CAMUNDA}}}property", {"name": "assignee", "value": assignee}))


def _move(process: Any, lane_of: dict[str, Any], element_id: str, lane_name: str) -> None:
    """Put one flow node into the lane called `lane_name` (made when missing), out of any other."""
    old = lane_of.get(element_id)
    if old is not None:
        for ref in old.findall(f"{{{BPMN}}}flowNodeRef"):
            if (ref.text or "").strip() == element_id:
                old.remove(ref)
    target = next((lane for lane in process.iter(f"{{{BPMN}}}lane") if lane.get("name") == lane_name), None)
    if target is None:
        lane_set = process.find(f"{{{BPMN}}}laneSet")
        if lane_set is None:
            lane_set = process.makeelement(f"{{{BPMN}}}laneSet", {"id": f"{process.get('id')}_lanes"})
            process.insert(_after_leading(process, PROCESS_HEAD), lane_set)
        number = sum(1 for _ in process.iter(f"{{{BPMN}}}lane")) + 1
        target = lane_set.makeelement(f"{{{BPMN}}}lane", {"id": f"{process.get('id')}_lane_{number}",
                                                          "name": lane_name})
        lane_set.append(target)
    reference = target.makeelement(f"{{{BPMN}}}flowNodeRef", {})
    reference.text = element_id
    target.append(reference)
    lane_of[element_id] = target


def _after_leading(parent: Any, tags: tuple[str, ...]) -> int:
    """The index after `parent`'s leading children with these tags (where the schema wants the next one)."""
    index = 0
    for child in parent:
        if str(child.tag).rsplit("}", 1)[-1] not in tags:
            break
        index += 1
    return index


def _is_flow_node(element: Any) -> bool:
    tag = str(element.tag).rsplit("}", 1)[-1]
    return tag.endswith(("Task", "Event", "Gateway")) or tag in ("task", "callActivity", "subProcess")
