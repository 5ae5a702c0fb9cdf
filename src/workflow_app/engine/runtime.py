"""Running process instances: start, list ready user tasks, complete one, fire due timers.

Every operation takes the instant it acts at (`now`); timers compare with it, never
with the wall clock. An operation returns what it changed (tasks completed, timers
fired) so the caller can project the new state and queue notices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptEngineTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from .errors import ProcessError, TaskNotReadyError
from .forms import FormSpec, validate_submission
from .parser import ProcessModel
from .serializer import dump_state, load_state
from .timers import ClockedScriptEngine


@dataclass(frozen=True)
class UserTaskView:
    """A user task waiting for a person: which one, in which lane, with which form."""

    task_id: str
    bpmn_id: str
    name: str
    lane: str
    form: FormSpec
    properties: Mapping[str, str]
    task_data: Mapping[str, Any] = field(default_factory=dict)
    """The task's own data (e.g. the unit of one instance of a multi-instance task)."""


@dataclass(frozen=True)
class TimerView:
    """A timer waiting to fire, with the instant it is due."""

    task_id: str
    bpmn_id: str
    name: str
    fire_at: datetime
    properties: Mapping[str, str]


@dataclass(frozen=True)
class FiredTimer:
    """A timer that fired during an operation (its `fire_at` is when it was due)."""

    task_id: str
    bpmn_id: str
    name: str
    fire_at: datetime
    properties: Mapping[str, str]
    attached_to: str | None = None
    """The bpmn id of the activity a boundary timer is attached to (None for other timers)."""


@dataclass(frozen=True)
class IncidentView:
    """A script, service task or gateway that failed: the instance waits there for an admin."""

    task_id: str
    bpmn_id: str
    name: str
    message: str
    data: Mapping[str, Any]
    skippable: bool
    """Script and service tasks may be skipped; a gateway must be retried with data it can route on."""


@dataclass
class StepResult:
    """What one operation did: tasks completed, timers fired, and the incident it stopped at (if any)."""

    completed: list[str] = field(default_factory=list)
    fired_timers: list[FiredTimer] = field(default_factory=list)
    submitted: dict[str, Any] = field(default_factory=dict)
    """The validated form data of the completed user task (cleaned values)."""
    incident: IncidentView | None = None


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _attached_to(task: Any) -> str | None:
    """A boundary event's activity: its sibling under the boundary split that is not an event."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None
    return next((c.task_spec.bpmn_id for c in task.parent.children if not isinstance(c.task_spec, BoundaryEvent)),
                None)


PENDING_STATES = (TaskState.FUTURE, TaskState.WAITING, TaskState.READY, TaskState.STARTED)
"""States of a task that has not run yet but will: one failing in them becomes the instance's incident."""


def _is_timer(task: Any) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _waits_for_event(task: Any) -> bool:
    """A timer or conditional event: retried by waiting again, not by running as if it had fired."""
    return isinstance(getattr(task.task_spec, "event_definition", None),
                      TimerEventDefinition | ConditionalEventDefinition)


def _properties(task_spec: Any) -> Mapping[str, str]:
    return dict(getattr(task_spec, "extensions", None) or {})


class ProcessInstance:
    """One running workflow of a model, restored from and saved to its state text."""

    def __init__(self, model: ProcessModel, workflow: BpmnWorkflow, engine: ClockedScriptEngine):
        self.model = model
        self.workflow = workflow
        self._engine = engine

    @classmethod
    def start(cls, model: ProcessModel, data: dict[str, Any], now: datetime,
              extra: dict[str, Any] | None = None) -> tuple[ProcessInstance, StepResult]:
        """Start the model with `data` validated against its start form, then run engine steps.

        `extra` is data the application adds beside the form (e.g. the units taking part).
        """
        cleaned = validate_submission(model.start_form, data)
        engine = ClockedScriptEngine(_utc(now))
        workflow = BpmnWorkflow(model.spec, model.subprocess_specs, script_engine=engine)
        workflow.task_tree.data.update(cleaned)
        workflow.task_tree.data.update(extra or {})
        instance = cls(model, workflow, engine)
        return instance, instance._run_engine_steps(StepResult())

    @classmethod
    def restore(cls, model: ProcessModel, state: str, spec_text: Callable[[], str]) -> ProcessInstance:
        """Restore an instance from its stored state onto the model's spec.

        `spec_text` gives the stored spec JSON; it is called only when the state was
        written by an older serializer and must be migrated together with its spec.
        """
        workflow = load_state(state, model.spec, model.subprocess_specs, spec_text)
        engine = ClockedScriptEngine()
        workflow.script_engine = engine
        return cls(model, workflow, engine)

    def _tasks_in(self, state: int) -> list[Any]:
        """Tasks in `state`, in the process and its subprocesses, in the order they were created.

        A scan of the task dictionaries: SpiffWorkflow's tree iterator (get_tasks) walks
        every branch and costs more than the step that asked.
        """
        workflows = [self.workflow, *self.workflow.subprocesses.values()]
        return [task for workflow in workflows for task in workflow.tasks.values() if task.state == state]

    def state(self) -> str:
        """The instance's own state as JSON text (the spec is stored apart)."""
        return dump_state(self.workflow)

    @property
    def is_completed(self) -> bool:
        """True when the process reached its end."""
        return bool(self.workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """The process data as of the last completed task."""
        last = self.workflow.last_task or self.workflow.task_tree
        return dict(last.data)

    def ready_user_tasks(self) -> list[UserTaskView]:
        """User tasks waiting for a person, in the order the engine holds them."""
        return [
            UserTaskView(
                task_id=str(task.id), bpmn_id=task.task_spec.bpmn_id, name=task.task_spec.bpmn_name or "",
                lane=task.task_spec.lane or "", form=self.model.forms.get(task.task_spec.bpmn_id, FormSpec(key="")),
                properties=_properties(task.task_spec), task_data=MappingProxyType(task.data),
            )
            for task in self._tasks_in(TaskState.READY)
            if isinstance(task.task_spec, UserTask)
        ]

    def waiting_timers(self) -> list[TimerView]:
        """Timers waiting to fire, each with its due instant."""
        views = []
        for task in self._tasks_in(TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            event_value = task._get_internal_data("event_value")
            if not isinstance(definition, TimerEventDefinition) or event_value is None:
                continue
            due = event_value["next"] if isinstance(event_value, dict) else event_value
            views.append(TimerView(
                task_id=str(task.id), bpmn_id=task.task_spec.bpmn_id, name=task.task_spec.bpmn_name or "",
                fire_at=datetime.fromisoformat(due), properties=_properties(task.task_spec),
            ))
        return views

    def incident(self, message: str = "") -> IncidentView | None:
        """The failed task the instance waits at, if any (`message`: the error, when just raised)."""
        failed = self._tasks_in(TaskState.ERROR)
        if not failed:
            return None
        task = failed[0]
        return IncidentView(task_id=str(task.id), bpmn_id=task.task_spec.bpmn_id or task.task_spec.name,
                            name=task.task_spec.bpmn_name or "", message=message, data=dict(task.data),
                            skippable=isinstance(task.task_spec, ScriptEngineTask))

    def retry(self, task_id: str, corrections: dict[str, Any], now: datetime) -> StepResult:
        """Run a failed task again, after merging `corrections` into its data."""
        task = self._failed_task(task_id)
        task.data.update(corrections)
        self._engine.now = _utc(now)
        if not _waits_for_event(task):
            task._set_state(TaskState.READY)
            return self._run_engine_steps(StepResult())
        task._set_state(TaskState.WAITING)
        if _is_timer(task):
            return self._run_engine_steps(StepResult(), before=self._evaluate_pending_timers)
        return self._run_engine_steps(StepResult(), before=lambda: task.task_spec._update(task))  # its condition

    def _evaluate_pending_timers(self) -> None:
        """Work out when each waiting timer is due that has not been (one failed before its siblings could be)."""
        for task in self._tasks_in(TaskState.WAITING):
            if _is_timer(task) and task._get_internal_data("event_value") is None:
                task.task_spec._update(task)

    def skip(self, task_id: str, now: datetime) -> StepResult:
        """Mark a failed script or service task done without running it, and go on."""
        task = self._failed_task(task_id)
        if not isinstance(task.task_spec, ScriptEngineTask):
            raise TaskNotReadyError("only a script or service task can be skipped; correct the data and retry")
        self._engine.now = _utc(now)
        task.complete()
        return self._run_engine_steps(StepResult())

    def _failed_task(self, task_id: str) -> Any:
        task = self._task(task_id)
        if task.state != TaskState.ERROR:
            raise TaskNotReadyError(f"task {task_id} has not failed")
        return task

    def set_data(self, values: dict[str, Any]) -> None:
        """Change data the application owns (e.g. a re-judged level) for every step still to come."""
        for task in self._tasks_in(TaskState.READY) + self._tasks_in(TaskState.WAITING):
            task.data.update(values)
        if self.workflow.last_task is not None:
            self.workflow.last_task.data.update(values)

    def completed_bpmn_ids(self) -> set[str]:
        """The bpmn ids of every element completed so far."""
        return {task.task_spec.bpmn_id for task in self.workflow.get_tasks(state=TaskState.COMPLETED)
                if task.task_spec.bpmn_id}

    def reached_end_properties(self) -> Mapping[str, str]:
        """camunda:properties of the end event the process finished on (empty if running)."""
        if not self.is_completed:
            return {}
        for task in self.workflow.get_tasks(state=TaskState.COMPLETED):
            if isinstance(task.task_spec, EndEvent) and _properties(task.task_spec) and \
                    not isinstance(task.parent.task_spec, BoundaryEvent):
                return _properties(task.task_spec)
        return {}

    def complete_task(self, task_id: str, data: dict[str, Any], now: datetime,
                      extra: dict[str, Any] | None = None) -> StepResult:
        """Validate `data` against the task's form, complete it and run engine steps.

        `extra` is data the application adds beside the form (e.g. who acted); it is not
        validated against the form because no person typed it.
        """
        task = self._ready_user_task(task_id)
        cleaned = validate_submission(self.model.forms.get(task.task_spec.bpmn_id, FormSpec(key="")), data)
        self._engine.now = _utc(now)
        task.data.update(cleaned)
        task.data.update(extra or {})
        result = StepResult(submitted=cleaned)
        try:
            task.run()
        except SpiffWorkflowException as exc:
            element = getattr(getattr(exc, "task_spec", None), "bpmn_id", None) or task.task_spec.bpmn_id
            if task.state != TaskState.COMPLETED:  # the person's step itself failed: nothing happened
                raise ProcessError(element, str(exc)) from exc
            result.incident = self._incident_of(exc)  # a step it led to failed (a timer's value, a condition)
            if result.incident is None:
                raise ProcessError(element, str(exc)) from exc
            result.completed.append(task.task_spec.bpmn_id)
            return result
        result.completed.append(task.task_spec.bpmn_id)
        return self._run_engine_steps(result)

    def fire_due_timers(self, now: datetime) -> StepResult:
        """Fire every timer due at or before `now` and run what follows."""
        self._engine.now = _utc(now)
        return self._run_engine_steps(StepResult(), before=self.workflow.refresh_timers)

    def _task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, WorkflowException, KeyError) as exc:
            raise TaskNotReadyError(f"no task {task_id} in this instance") from exc
        if task is None:
            raise TaskNotReadyError(f"no task {task_id} in this instance")
        return task

    def _ready_user_task(self, task_id: str) -> Any:
        task = self._task(task_id)
        if not isinstance(task.task_spec, UserTask) or task.state != TaskState.READY:
            raise TaskNotReadyError(f"task {task_id} is not waiting for a person")
        return task

    def _run_engine_steps(self, result: StepResult, before: Callable[[], None] | None = None) -> StepResult:
        def did_complete(task: Any) -> None:
            result.completed.append(task.task_spec.bpmn_id or task.task_spec.name)
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition):
                value = task._get_internal_data("event_value")
                due = value["next"] if isinstance(value, dict) else value
                result.fired_timers.append(FiredTimer(
                    task_id=str(task.id), bpmn_id=task.task_spec.bpmn_id, name=task.task_spec.bpmn_name or "",
                    fire_at=datetime.fromisoformat(due) if due else self._engine.current_time(),
                    properties=_properties(task.task_spec),
                    attached_to=_attached_to(task),
                ))

        try:
            if before is not None:
                before()
            self.workflow.do_engine_steps(did_complete_task=did_complete)
            # Events no task of ours caught are queued for an outside listener we do not have; a terminate end
            # event queues its own, which would otherwise stay in the state (and its serializer cannot write it).
            self.workflow.get_events()
        except SpiffWorkflowException as exc:
            result.incident = self._incident_of(exc)
            if result.incident is None:  # not a task failure (e.g. a broken timer): nothing to wait at
                element = getattr(getattr(exc, "task_spec", None), "bpmn_id", None) or "engine"
                raise ProcessError(element, str(exc)) from exc
        return result

    def _incident_of(self, exc: SpiffWorkflowException) -> IncidentView | None:
        """The incident an engine error leaves: the failed task, which waits for an admin to retry or skip it.
        A task the engine did not mark failed itself (a conditional event's condition) is marked here."""
        failing = getattr(exc, "task", None)
        if failing is not None and failing.state in PENDING_STATES:
            failing._set_state(TaskState.ERROR)
        return self.incident(str(exc))
