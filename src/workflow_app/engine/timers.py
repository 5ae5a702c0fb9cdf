"""Timer event definitions that read the time from the engine's clock, not the wall clock.

SpiffWorkflow's own timer definitions compare with ``datetime.now()``. A sweep that
fires timers "as of" an explicit instant (replays, tests, catching up after downtime)
needs that instant to reach the comparison, so these subclasses ask the workflow's
script engine for the time. They are swapped in by our parser and registered with our
serializer; nothing in SpiffWorkflow is patched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent
from SpiffWorkflow.util.task import TaskState

from .calendar import SCRIPT_FUNCTIONS
from .sandbox import SandboxEnvironment


class ClockedScriptEngine(PythonScriptEngine):
    """The script engine of every instance: expressions run in the sandbox; it carries the instant it acts at."""

    def __init__(self, now: datetime | None = None) -> None:
        super().__init__(environment=SandboxEnvironment(SCRIPT_FUNCTIONS))
        self.now = now

    def evaluate(self, task: Any, expression: str, external_context: dict[str, Any] | None = None) -> Any:
        """SpiffWorkflow's evaluate, with the reason an expression failed in the message (an incident shows it)."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except Exception as exc:
            raise WorkflowTaskException(f"{type(exc).__name__}: {exc} (in expression {expression!r})", task=task,
                                        exception=exc) from exc

    def current_time(self) -> datetime:
        """The instant set for this operation, or the wall clock when none was set."""
        return self.now or datetime.now(UTC)


def _now(my_task: Any) -> datetime:
    engine = my_task.workflow.script_engine
    if isinstance(engine, ClockedScriptEngine):
        return engine.current_time()
    return datetime.now(UTC)


def _evaluate(my_task: Any, expression: str) -> Any:
    """The timer's expression; one that fails leaves the timer failed, so the instance waits in an incident."""
    try:
        return my_task.workflow.script_engine.evaluate(my_task, expression)
    except WorkflowTaskException:
        my_task._set_state(TaskState.ERROR)
        raise


def _failed(my_task: Any, expression: str, exc: Exception) -> WorkflowTaskException:
    """A timer whose value is not a time: the task fails, so the instance waits in an incident (never stuck)."""
    my_task._set_state(TaskState.ERROR)
    return WorkflowTaskException(f"{type(exc).__name__}: {exc} (timer value of {expression!r})", task=my_task,
                                 exception=exc)


def _to_utc_iso(value: Any) -> str:
    """Normalise an evaluated timeDate expression (ISO text or datetime) to UTC ISO text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = TimerEventDefinition.parse_time_or_duration(str(value))
        if not isinstance(moment, datetime):
            raise ValueError(f"timeDate must be a date-time, got {value!r}")
    return moment.astimezone(UTC).isoformat()


class ClockedTimeDateEventDefinition(TimeDateEventDefinition):
    """A timer at a date-time given by an expression, evaluated once when it starts waiting."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            evaluated = _evaluate(my_task, self.expression)
            try:
                event_value = _to_utc_iso(evaluated)
            except Exception as exc:
                raise _failed(my_task, self.expression, exc) from exc
            my_task._set_internal_data(event_value=event_value)
        if datetime.fromisoformat(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A timer a duration after it starts waiting."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = _evaluate(my_task, self.expression)
            try:
                parsed = TimerEventDefinition.parse_iso_duration(expression)
            except Exception as exc:
                raise _failed(my_task, self.expression, exc) from exc
            start = _now(my_task)
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if datetime.fromisoformat(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class ClockedCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A repeating timer (``R3/PT1D``, ``R/2024-05-22T09:00:00+08:00/P7D``)."""

    def cycle_complete(self, my_task: Any) -> bool:
        now = _now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = _evaluate(my_task, self.expression)
            try:
                event_value = _parse_cycle(expression, now)
            except Exception as exc:
                raise _failed(my_task, self.expression, exc) from exc
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready

    def details(self, my_task: Any) -> PendingBpmnEvent:
        event_value = my_task._get_internal_data("event_value")
        if event_value is not None and event_value["cycles"] != 0:
            event_value = event_value["next"]
        return PendingBpmnEvent(self.name, self.__class__.__name__, event_value)


def _parse_cycle(expression: str, now: datetime) -> dict[str, Any]:
    """Parse an ISO 8601 repeating interval; a bare duration starts counting at `now`."""
    parts = expression.upper().replace("--", "/").strip("R").split("/")
    cycles = int(parts[0]) if parts[0] else -1
    first = TimerEventDefinition.parse_time_or_duration(parts[1])
    second = TimerEventDefinition.parse_time_or_duration(parts[2]) if len(parts) == 3 else None
    if isinstance(first, datetime) and isinstance(second, dict):
        start, duration = first, TimerEventDefinition.get_timedelta_from_start(second, first)
    elif isinstance(first, dict) and isinstance(second, datetime):
        duration = TimerEventDefinition.get_timedelta_from_end(first, second)
        start = second - duration
    elif isinstance(first, dict) and second is None:
        duration = TimerEventDefinition.get_timedelta_from_start(first, now)
        start = now + duration
    else:
        raise ValueError(f"invalid repeating interval {expression!r}")
    return {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}


CLOCKED_TIMERS: dict[type, type] = {
    TimeDateEventDefinition: ClockedTimeDateEventDefinition,
    DurationTimerEventDefinition: ClockedDurationTimerEventDefinition,
    CycleTimerEventDefinition: ClockedCycleTimerEventDefinition,
}
"""SpiffWorkflow's timer definition classes mapped to ours."""
