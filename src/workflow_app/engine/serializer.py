"""Serialization: a model version's spec once, each instance's own state apart from it.

SpiffWorkflow's default serializer writes the whole spec into every workflow document.
We store the spec once per model version and only the instance's state per row, so a
closed instance costs a few KB. Our serializer is configured from a copy of the Camunda
config (forms survive a round trip) with our own converters added; the library's
globals are never changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter, EventConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.task_spec import UserTaskConverter
from SpiffWorkflow.camunda.specs.user_task import Form

from .parser import FormStartEvent
from .service_tasks import NamedServiceTask
from .timers import CLOCKED_TIMERS


class FormStartEventConverter(EventConverter):
    """Keeps a start event's form across a round trip."""

    def to_dict(self, spec: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(spec)
        dct["form"] = UserTaskConverter.form_to_dict(self, spec.form) if spec.form is not None else None  # type: ignore[arg-type]
        return dct

    def from_dict(self, dct: dict[str, Any]) -> Any:
        form = dct.pop("form", None)
        spec = super().from_dict(dct)
        spec.form = Form(init=form) if form is not None else None
        return spec


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec; restores it onto a spec object given by the caller."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> Any:
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_config() -> dict[type, type]:
    config = deepcopy(CAMUNDA_CONFIG)
    config[FormStartEvent] = FormStartEventConverter
    config[BpmnWorkflow] = StateOnlyWorkflowConverter
    config[NamedServiceTask] = BpmnTaskSpecConverter
    for clocked in CLOCKED_TIMERS.values():
        config[clocked] = TimerConditionalEventDefinitionConverter
    return config


_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_build_config()))
SERIALIZER_VERSION: str = _SERIALIZER.VERSION


def dump_spec(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """The JSON of a process spec and its subprocess specs (stored once per model version)."""
    registry = _SERIALIZER.registry
    document = {
        "serializer_version": SERIALIZER_VERSION,
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(sub) for name, sub in subprocess_specs.items()},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def load_spec(text: str) -> tuple[Any, dict[str, Any]]:
    """Restore (spec, subprocess_specs) from `dump_spec`'s output."""
    registry = _SERIALIZER.registry
    document = json.loads(text)
    spec = registry.restore(document["spec"])
    subs = {name: registry.restore(sub) for name, sub in document["subprocess_specs"].items()}
    return spec, subs


def dump_state(workflow: BpmnWorkflow) -> str:
    """The JSON of a workflow's own state, without its spec."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        document = registry.convert(workflow)
    finally:
        registry._encoder_mode = False
    document["serializer_version"] = SERIALIZER_VERSION
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def load_state(text: str, spec: Any, subprocess_specs: dict[str, Any], spec_text: Callable[[], str]) -> BpmnWorkflow:
    """Restore a workflow from `dump_state`'s output onto its (shared) spec objects.

    State written by an older SpiffWorkflow is first migrated by SpiffWorkflow's own
    migrations, which expect the spec beside the state: then the stored spec text is
    merged in and restored along with it.
    """
    document = json.loads(text)
    registry = _SERIALIZER.registry
    if document.get("serializer_version") != SERIALIZER_VERSION:
        stored_spec = json.loads(spec_text())
        document["spec"] = stored_spec["spec"]
        document["subprocess_specs"] = stored_spec["subprocess_specs"]
        _SERIALIZER.migrate(document)
        spec = registry.restore(document.pop("spec"))
        subprocess_specs = {k: registry.restore(v) for k, v in document.pop("subprocess_specs").items()}
    else:
        document.pop("serializer_version")
    workflow: BpmnWorkflow = registry.restore(document, spec=spec, subprocess_specs=subprocess_specs)
    return workflow
