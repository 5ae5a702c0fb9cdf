"""Load an instance row into the engine and write the engine's result back as projections.

`load_locked` reads an instance with its hazard and model version in one locked query;
`apply_step` is the one place where an engine result becomes rows: the instance state,
the inbox, the timer projection, timer firings with their notices, and the hazard record.
The projections are diffed against what the restored instance held before the step, so
no projection is read back to write it. Both run inside the caller's transaction.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, contains_eager

from ..engine import ProcessInstance, StepResult, UserTaskView
from ..store.models import Hazard, InboxTask, ModelVersion, ProcessInstanceRow, TimerFiring, TimerRow, User
from . import notices
from .model_registry import process_model
from .roles import acting_organisation_id, role_of_lane

PLAN_FIELDS = ("responsible_person", "rectification_measures", "rectification_funds", "emergency_plan")


@dataclass(frozen=True)
class Projected:
    """The ready user tasks and waiting timers of an instance, as its projections hold them."""

    task_ids: frozenset[str] = frozenset()
    timer_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, instance: ProcessInstance) -> Projected:
        return cls(frozenset(t.task_id for t in instance.ready_user_tasks()),
                   frozenset(t.task_id for t in instance.waiting_timers()))


@dataclass
class LoadedInstance:
    """A locked instance row, its hazard, the restored engine instance and its projections."""

    row: ProcessInstanceRow
    hazard: Hazard
    instance: ProcessInstance
    projected: Projected


def compress_state(state: str) -> bytes:
    """Instance state as stored: zlib-compressed UTF-8 JSON."""
    return zlib.compress(state.encode("utf-8"), 6)


def load_locked(session: Session, instance_id: int, skip_locked: bool = False) -> LoadedInstance | None:
    """The instance row locked for this transaction (FOR UPDATE on PostgreSQL), with its hazard.

    With `skip_locked`, a row another transaction holds gives None instead of waiting.
    """
    query = (select(ProcessInstanceRow, Hazard)
             .join(ProcessInstanceRow.model_version).options(contains_eager(ProcessInstanceRow.model_version))
             .join(Hazard, Hazard.instance_id == ProcessInstanceRow.id)
             .where(ProcessInstanceRow.id == instance_id)
             .with_for_update(of=ProcessInstanceRow, skip_locked=skip_locked))
    found = session.execute(query).one_or_none()
    if found is None:
        return None
    row, hazard = found
    version: ModelVersion = row.model_version
    state = zlib.decompress(row.state).decode("utf-8")
    instance = ProcessInstance.restore(process_model(version), state, lambda: version.spec_json)
    return LoadedInstance(row, hazard, instance, Projected.of(instance))


def apply_step(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, hazard: Hazard,
               result: StepResult, now: datetime, actor: User | None = None,
               before: Projected = Projected()) -> None:
    """Write an engine result: state, inbox, timers, firings and notices, hazard record.

    `before` is what the projections held when the instance was loaded (nothing, for a
    new instance).
    """
    row.state = compress_state(instance.state())
    row.updated_at = now
    if instance.is_completed:
        row.status, row.completed_at = "completed", now
    ready = instance.ready_user_tasks()
    _update_hazard(hazard, instance, ready, now)
    _sync_inbox(session, row, instance.data, ready, before.task_ids, hazard, now, actor)
    _sync_timers(session, row, instance, before.timer_ids)
    for fired in result.fired_timers:
        session.add(TimerFiring(instance_id=row.id, timer_task_id=fired.task_id, bpmn_id=fired.bpmn_id,
                                notice_kind=fired.properties.get("notice"), due_at=fired.fire_at, fired_at=now))
        notices.queue_for_timer(session, hazard, row.id, fired, now)
    session.flush()  # a second firing of the same timer fails here, on the unique key


def _update_hazard(hazard: Hazard, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
    data = instance.data
    hazard.level = data.get("hazard_level", hazard.level)
    for name in PLAN_FIELDS:
        if data.get(name) is not None:
            setattr(hazard, name, data[name])
    if data.get("rectification_deadline"):
        deadline = date.fromisoformat(data["rectification_deadline"])
        if hazard.rectification_deadline != deadline:
            hazard.rectification_deadline, hazard.overdue_since, hazard.escalated_at = deadline, None, None
    hazard.supervision_listed = bool(data.get("supervision_listed", False))
    hazard.status = _status(instance, ready, hazard.status)
    if hazard.status == "closed" and hazard.closed_at is None:
        hazard.closed_at = now
    hazard.updated_at = now


def _status(instance: ProcessInstance, ready: list[UserTaskView], current: str) -> str:
    """The hazard's status as the model declares it (camunda property hazard_status)."""
    if instance.is_completed:
        return instance.reached_end_properties().get("hazard_status", "closed")
    for task in ready:
        if "hazard_status" in task.properties:
            return task.properties["hazard_status"]
    return current


def _due_on(task_properties: Any, data: dict[str, Any]) -> date | None:
    field = task_properties.get("due_field")
    value = data.get(field) if field else None
    return date.fromisoformat(value) if value else None


def _sync_inbox(session: Session, row: ProcessInstanceRow, data: dict[str, Any], ready: list[UserTaskView],
                before: frozenset[str], hazard: Hazard, now: datetime, actor: User | None) -> None:
    ready_ids = {t.task_id for t in ready}
    if gone := before - ready_ids:
        session.execute(update(InboxTask).where(InboxTask.task_id.in_(gone))
                        .values(completed_at=now, completed_by_id=actor.id if actor else None))
    rows = [{"task_id": view.task_id, "instance_id": row.id, "hazard_id": hazard.id,
             "enterprise_id": hazard.enterprise_id, "bpmn_id": view.bpmn_id, "name": view.name, "lane": view.lane,
             "role": role_of_lane(view.lane), "due_on": _due_on(view.properties, data), "created_at": now,
             "organisation_id": acting_organisation_id(session, role_of_lane(view.lane), hazard.enterprise)}
            for view in ready if view.task_id not in before]
    if rows:  # Core insert: new projection rows need none of the ORM's bookkeeping
        session.execute(insert(InboxTask.__table__), rows)


def _sync_timers(session: Session, row: ProcessInstanceRow, instance: ProcessInstance,
                 before: frozenset[str]) -> None:
    waiting = instance.waiting_timers()
    if gone := before - {t.task_id for t in waiting}:
        session.execute(delete(TimerRow).where(TimerRow.task_id.in_(gone)))
    rows = [{"task_id": view.task_id, "instance_id": row.id, "bpmn_id": view.bpmn_id, "name": view.name,
             "fire_at": view.fire_at} for view in waiting if view.task_id not in before]
    if rows:
        session.execute(insert(TimerRow.__table__), rows)
