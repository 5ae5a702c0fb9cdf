"""Load an instance row into the engine and write the engine's result back as projections.

`load_locked` reads an instance with its business record (hazard or campaign) and model
version in one locked query; `apply_step` is the one place where an engine result becomes
rows: the instance state, the inbox, the timer projection, timer firings with their
notices, and the business record (through its `Subject`).
The projections are diffed against what the restored instance held before the step, so
no projection is read back to write it. Both run inside the caller's transaction.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, contains_eager

from ..engine import FiredTimer, ProcessInstance, StepResult, UserTaskView
from ..store.models import (
    Campaign,
    Case,
    Duty,
    Hazard,
    InboxTask,
    Incident,
    ModelVersion,
    ProcessInstanceRow,
    TimerFiring,
    TimerRow,
    User,
)
from . import audit
from .model_registry import process_model
from .roles import role_of_lane


class Subject(Protocol):
    """The business record an instance runs for (a hazard, a campaign): what the projections need."""

    audit_type: str
    audit_id: int
    code: str

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        """Bring the record in step with the instance after a step."""

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        """Inbox columns for a new ready task: who acts in `role` (organisation_id) and what it belongs to."""

    @property
    def status(self) -> str:
        """The record's state in words of its model (a hazard's status, a campaign's phase)."""

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime) -> None:
        """Queue the notices a fired timer asks for."""

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """Keep what a person submitted where the record's reports need it."""


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
    """A locked instance row, its business record, the restored engine instance and its projections."""

    row: ProcessInstanceRow
    record: Hazard | Campaign | Duty | Case
    instance: ProcessInstance
    projected: Projected


def compress_state(state: str) -> bytes:
    """Instance state as stored: zlib-compressed UTF-8 JSON."""
    return zlib.compress(state.encode("utf-8"), 6)


def load_locked(session: Session, instance_id: int, skip_locked: bool = False) -> LoadedInstance | None:
    """The instance row locked for this transaction (FOR UPDATE on PostgreSQL), with its hazard or campaign.

    With `skip_locked`, a row another transaction holds gives None instead of waiting.
    """
    query = (select(ProcessInstanceRow, Hazard, Campaign, Duty, Case)
             .join(ProcessInstanceRow.model_version).options(contains_eager(ProcessInstanceRow.model_version))
             .outerjoin(Hazard, Hazard.instance_id == ProcessInstanceRow.id)
             .outerjoin(Campaign, Campaign.instance_id == ProcessInstanceRow.id)
             .outerjoin(Duty, Duty.instance_id == ProcessInstanceRow.id)
             .outerjoin(Case, Case.instance_id == ProcessInstanceRow.id)
             .where(ProcessInstanceRow.id == instance_id)
             .with_for_update(of=ProcessInstanceRow, skip_locked=skip_locked))
    found = session.execute(query).one_or_none()
    if found is None or all(record is None for record in found[1:]):
        return None
    row, *records = found
    version: ModelVersion = row.model_version
    state = zlib.decompress(row.state).decode("utf-8")
    instance = ProcessInstance.restore(process_model(version), state, lambda: version.spec_json)
    record = next(r for r in records if r is not None)
    return LoadedInstance(row, record, instance, Projected.of(instance))


def apply_step(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, subject: Subject,
               result: StepResult, now: datetime, actor: User | None = None,
               before: Projected = Projected()) -> None:
    """Write an engine result: state, business record, inbox, timers, firings and notices.

    `before` is what the projections held when the instance was loaded (nothing, for a
    new instance). A step that stopped at a failed task puts the instance in an incident.
    """
    row.state = compress_state(instance.state())
    row.updated_at = now
    if instance.is_completed:
        row.status, row.completed_at = "completed", now
    elif result.incident is not None:
        _open_incident(session, row, subject, result, now)
    ready = instance.ready_user_tasks()
    subject.refresh(instance, ready, now)
    _sync_inbox(session, row, instance.data, ready, before.task_ids, subject, now, actor)
    _sync_timers(session, row, instance, before.timer_ids)
    for fired in result.fired_timers:
        session.add(TimerFiring(instance_id=row.id, timer_task_id=fired.task_id, bpmn_id=fired.bpmn_id,
                                notice_kind=fired.properties.get("notice"), due_at=fired.fire_at, fired_at=now))
        subject.queue_notices(session, row.id, fired, now)
    session.flush()  # a second firing of the same timer fails here, on the unique key


def _open_incident(session: Session, row: ProcessInstanceRow, subject: Subject, result: StepResult,
                   now: datetime) -> None:
    failed = result.incident
    assert failed is not None
    row.status = "incident"
    session.add(Incident(instance_id=row.id, task_id=failed.task_id, bpmn_id=failed.bpmn_id, name=failed.name,
                         error=failed.message, data=_json_ready(failed.data), skippable=failed.skippable,
                         occurred_at=now))
    audit.record(session, None, "incident", subject.audit_type, subject.audit_id,
                 {"task": failed.bpmn_id, "name": failed.name, "error": failed.message}, now)


def _json_ready(data: Any) -> Any:
    """Task data as JSON can hold it (dates and other objects as text)."""
    if isinstance(data, dict):
        return {str(k): _json_ready(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_json_ready(v) for v in data]
    return data if data is None or isinstance(data, str | int | float | bool) else str(data)


def _due_on(view: UserTaskView, data: dict[str, Any]) -> date | None:
    field = view.properties.get("due_field")
    value = (view.task_data.get(field) or data.get(field)) if field else None
    return date.fromisoformat(str(value)[:10]) if value else None


def _sync_inbox(session: Session, row: ProcessInstanceRow, data: dict[str, Any], ready: list[UserTaskView],
                before: frozenset[str], subject: Subject, now: datetime, actor: User | None) -> None:
    ready_ids = {t.task_id for t in ready}
    if gone := before - ready_ids:
        session.execute(update(InboxTask).where(InboxTask.task_id.in_(gone))
                        .values(completed_at=now, completed_by_id=actor.id if actor else None))
    lanes = row.model_version.lane_roles
    rows = []
    for view in ready:
        if view.task_id in before:
            continue
        role = role_of_lane(view.lane, lanes)
        rows.append({"task_id": view.task_id, "instance_id": row.id, "bpmn_id": view.bpmn_id, "name": view.name,
                     "lane": view.lane, "role": role, "due_on": _due_on(view, data), "created_at": now,
                     **subject.task_row(session, view, role)})
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
