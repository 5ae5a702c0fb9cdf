"""Load an instance row into the engine and write the engine's result back as projections.

`apply_step` is the one place where an engine result becomes rows: the instance state,
the inbox, the timer projection, timer firings with their notices, and the hazard record.
It runs inside the caller's transaction.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import ProcessInstance, StepResult
from ..store.models import Hazard, InboxTask, ProcessInstanceRow, TimerFiring, TimerRow, User
from . import notices
from .model_registry import process_model
from .roles import acting_organisation_id, role_of_lane

PLAN_FIELDS = ("responsible_person", "rectification_measures", "rectification_funds", "emergency_plan")


def compress_state(state: str) -> bytes:
    """Instance state as stored: zlib-compressed UTF-8 JSON."""
    return zlib.compress(state.encode("utf-8"), 6)


def restore(row: ProcessInstanceRow) -> ProcessInstance:
    """The engine instance of a stored row."""
    state = zlib.decompress(row.state).decode("utf-8")
    version = row.model_version
    return ProcessInstance.restore(process_model(version), state, lambda: version.spec_json)


def apply_step(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, hazard: Hazard,
               result: StepResult, now: datetime, actor: User | None = None) -> None:
    """Write an engine result: state, inbox, timers, firings and notices, hazard record."""
    row.state = compress_state(instance.state())
    row.updated_at = now
    if instance.is_completed:
        row.status, row.completed_at = "completed", now
    _update_hazard(hazard, instance, now)
    _sync_inbox(session, row, instance, hazard, now, actor)
    _sync_timers(session, row, instance)
    for fired in result.fired_timers:
        session.add(TimerFiring(instance_id=row.id, timer_task_id=fired.task_id, bpmn_id=fired.bpmn_id,
                                notice_kind=fired.properties.get("notice"), due_at=fired.fire_at, fired_at=now))
        notices.queue_for_timer(session, hazard, row.id, fired, now)
    session.flush()  # a second firing of the same timer fails here, on the unique key


def _update_hazard(hazard: Hazard, instance: ProcessInstance, now: datetime) -> None:
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
    hazard.status = _status(instance, hazard.status)
    if hazard.status == "closed" and hazard.closed_at is None:
        hazard.closed_at = now
    hazard.updated_at = now


def _status(instance: ProcessInstance, current: str) -> str:
    """The hazard's status as the model declares it (camunda property hazard_status)."""
    if instance.is_completed:
        return instance.reached_end_properties().get("hazard_status", "closed")
    for task in instance.ready_user_tasks():
        if "hazard_status" in task.properties:
            return task.properties["hazard_status"]
    return current


def _due_on(task_properties: Any, data: dict[str, Any]) -> date | None:
    field = task_properties.get("due_field")
    value = data.get(field) if field else None
    return date.fromisoformat(value) if value else None


def _sync_inbox(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, hazard: Hazard,
                now: datetime, actor: User | None) -> None:
    open_rows = {t.task_id: t for t in session.scalars(
        select(InboxTask).where(InboxTask.instance_id == row.id, InboxTask.completed_at.is_(None)))}
    ready = {t.task_id: t for t in instance.ready_user_tasks()}
    for task_id, task_row in open_rows.items():
        if task_id not in ready:
            task_row.completed_at, task_row.completed_by_id = now, actor.id if actor else None
    data = instance.data
    for task_id, view in ready.items():
        if task_id in open_rows:
            continue
        role = role_of_lane(view.lane)
        session.add(InboxTask(
            task_id=task_id, instance_id=row.id, hazard_id=hazard.id, bpmn_id=view.bpmn_id, name=view.name,
            lane=view.lane, role=role, organisation_id=acting_organisation_id(session, role, hazard.enterprise),
            due_on=_due_on(view.properties, data), created_at=now,
        ))


def _sync_timers(session: Session, row: ProcessInstanceRow, instance: ProcessInstance) -> None:
    stored = {t.task_id: t for t in session.scalars(select(TimerRow).where(TimerRow.instance_id == row.id))}
    waiting = {t.task_id: t for t in instance.waiting_timers()}
    for task_id, timer_row in stored.items():
        if task_id not in waiting:
            session.delete(timer_row)
    for task_id, view in waiting.items():
        if task_id not in stored:
            session.add(TimerRow(task_id=task_id, instance_id=row.id, bpmn_id=view.bpmn_id, name=view.name,
                                 fire_at=view.fire_at))
