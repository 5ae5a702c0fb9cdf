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

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..engine import FiredTimer, ProcessInstance, StepResult, TimerView, UserTaskView
from ..store.models import (
    Campaign,
    Case,
    Duty,
    Hazard,
    InboxTask,
    Incident,
    ModelVersion,
    ProcessInstanceRow,
    SupervisionListing,
    TimerFiring,
    TimerRow,
    User,
)
from . import audit, live_instances
from .model_registry import process_model
from .personal_notices import NO_SMS, NoticePolicy
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

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        """Queue the notices a fired timer asks for."""

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """Refuse (FormValidationError) what the record's rules forbid beyond the form, before the step runs."""

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
    record: Hazard | Campaign | Duty | Case | SupervisionListing
    instance: ProcessInstance
    projected: Projected


def compress_state(state: str) -> bytes:
    """Instance state as stored: zlib-compressed UTF-8 JSON (fastest level: it is written on every step,
    and level 6 saves only ~0.15 KB of ~2.3)."""
    return zlib.compress(state.encode("utf-8"), 1)


def _load_query(skip_locked: bool) -> Any:
    return (select(ProcessInstanceRow, Hazard, Campaign, Duty, Case, SupervisionListing)
            .join(ProcessInstanceRow.model_version)
            .options(contains_eager(ProcessInstanceRow.model_version)  # not its XML and spec: cached by sha256
                     .defer(ModelVersion.xml).defer(ModelVersion.spec_json))
            .outerjoin(Hazard, Hazard.instance_id == ProcessInstanceRow.id)
            .outerjoin(Campaign, Campaign.instance_id == ProcessInstanceRow.id)
            .outerjoin(Duty, Duty.instance_id == ProcessInstanceRow.id)
            .outerjoin(Case, Case.instance_id == ProcessInstanceRow.id)
            .outerjoin(SupervisionListing, SupervisionListing.instance_id == ProcessInstanceRow.id)
            .where(ProcessInstanceRow.id == bindparam("instance_id"))
            .with_for_update(of=ProcessInstanceRow, skip_locked=skip_locked))


_LOAD, _LOAD_SKIP_LOCKED = _load_query(False), _load_query(True)
"""Built once: every step of every instance runs one of them."""


def load_locked(session: Session, instance_id: int, skip_locked: bool = False) -> LoadedInstance | None:
    """The instance row locked for this transaction (FOR UPDATE on PostgreSQL), with its hazard or campaign.

    With `skip_locked`, a row another transaction holds gives None instead of waiting.
    """
    query = _LOAD_SKIP_LOCKED if skip_locked else _LOAD
    found = session.execute(query, {"instance_id": instance_id}).one_or_none()
    if found is None or all(record is None for record in found[1:]):
        return None
    row, *records = found
    record = next(r for r in records if r is not None)
    version: ModelVersion = row.model_version
    live = live_instances.take(row.id, row.state, version.sha256)
    if live is not None:
        return LoadedInstance(row, record, live.instance, live.projected)
    state = zlib.decompress(row.state).decode("utf-8")
    instance = ProcessInstance.restore(process_model(version), state, lambda: version.spec_json)
    return LoadedInstance(row, record, instance, Projected.of(instance))


def apply_step(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, subject: Subject,
               result: StepResult, now: datetime, actor: User | None = None,
               before: Projected = Projected(), policy: NoticePolicy = NO_SMS) -> None:
    """Write an engine result: state, business record, inbox, timers, firings and notices.

    `before` is what the projections held when the instance was loaded (nothing, for a
    new instance); `policy` what notices to people may use (SMS, the daily cap). A step
    that stopped at a failed task puts the instance in an incident.
    """
    _save_state(session, row, instance, result, now)
    if result.incident is not None:
        _open_incident(session, row, subject, result, now)
    ready, waiting = instance.ready_user_tasks(), instance.waiting_timers()
    subject.refresh(instance, ready, now)
    _sync_inbox(session, row, instance.data, ready, before.task_ids, subject, now, actor)
    _sync_timers(session, row, waiting, before.timer_ids)
    projected = Projected(frozenset(t.task_id for t in ready), frozenset(t.task_id for t in waiting))
    live_instances.keep(row.id, live_instances.LiveInstance(
        row.state, row.model_version.sha256, instance, projected))
    for fired in result.fired_timers:
        session.add(TimerFiring(instance_id=row.id, timer_task_id=fired.task_id, bpmn_id=fired.bpmn_id,
                                notice_kind=fired.properties.get("notice"), due_at=fired.fire_at, fired_at=now))
        subject.queue_notices(session, row.id, fired, now, policy)
    session.flush()  # a second firing of the same timer fails here, on the unique key


def _save_state(session: Session, row: ProcessInstanceRow, instance: ProcessInstance, result: StepResult,
                now: datetime) -> None:
    """One UPDATE guarded by the version the row was read at (the ORM's version check, without its flush).

    Another transaction that saved the row meanwhile makes it match nothing: StaleDataError.
    """
    completed = instance.is_completed
    values: dict[str, Any] = {
        "state": compress_state(instance.state()), "updated_at": now, "version": row.version + 1,
        "status": "completed" if completed else "incident" if result.incident is not None else "running",
        "completed_at": now if completed else None}
    saved = session.connection().execute(
        _SAVE_STATE, {"row_id": row.id, "read_version": row.version, **{f"new_{k}": v for k, v in values.items()}})
    if saved.rowcount != 1:
        raise StaleDataError(f"process instance {row.id} was saved by another transaction meanwhile")
    for name, value in values.items():
        set_committed_value(row, name, value)


def _open_incident(session: Session, row: ProcessInstanceRow, subject: Subject, result: StepResult,
                   now: datetime) -> None:
    failed = result.incident
    assert failed is not None
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


_INSTANCES, _TASKS, _TIMERS = ProcessInstanceRow.__table__, InboxTask.__table__, TimerRow.__table__
_SAVE_STATE = (update(_INSTANCES)
               .where(_INSTANCES.c.id == bindparam("row_id"), _INSTANCES.c.version == bindparam("read_version"))
               .values({name: bindparam(f"new_{name}")
                        for name in ("state", "updated_at", "version", "status", "completed_at")}))
_CLOSE_TASK = update(_TASKS).where(_TASKS.c.task_id == bindparam("gone_id"))
_INSERT_TASK = insert(_TASKS)
_DELETE_TIMER = delete(_TIMERS).where(_TIMERS.c.task_id == bindparam("gone_id"))
_INSERT_TIMER = insert(_TIMERS)


def _due_on(view: UserTaskView, data: dict[str, Any]) -> date | None:
    field = view.properties.get("due_field")
    value = (view.task_data.get(field) or data.get(field)) if field else None
    return date.fromisoformat(str(value)[:10]) if value else None


def _sync_inbox(session: Session, row: ProcessInstanceRow, data: dict[str, Any], ready: list[UserTaskView],
                before: frozenset[str], subject: Subject, now: datetime, actor: User | None) -> None:
    ready_ids = {t.task_id for t in ready}
    connection = session.connection()
    if gone := before - ready_ids:
        connection.execute(_CLOSE_TASK, [{"gone_id": task_id, "completed_at": now,
                                          "completed_by_id": actor.id if actor else None} for task_id in gone])
    lanes = row.model_version.lane_roles
    rows = []
    for view in ready:
        if view.task_id in before:
            continue
        role = role_of_lane(view.lane, lanes)
        task_row = subject.task_row(session, view, role)
        rows.append({"task_id": view.task_id, "instance_id": row.id, "bpmn_id": view.bpmn_id, "name": view.name,
                     "lane": view.lane, "role": role, "due_on": _due_on(view, data), "created_at": now,
                     "assignee_id": _named_assignee(session, view, role, task_row["organisation_id"]), **task_row})
    if rows:  # Core insert: new projection rows need none of the ORM's bookkeeping
        connection.execute(_INSERT_TASK, rows)


def _named_assignee(session: Session, view: UserTaskView, role: str, organisation_id: int) -> int | None:
    """The user a model names as the task's assignee (camunda:assignee), when that user may act on it;
    otherwise the task waits in the inbox of everyone acting in its lane."""
    username = view.properties.get("assignee")
    if not username:
        return None
    return session.scalar(select(User.id).where(User.username == username, User.role == role,
                                                User.organisation_id == organisation_id, User.active.is_(True)))


def _sync_timers(session: Session, row: ProcessInstanceRow, waiting: list[TimerView],
                 before: frozenset[str]) -> None:
    connection = session.connection()
    if gone := before - {t.task_id for t in waiting}:
        connection.execute(_DELETE_TIMER, [{"gone_id": task_id} for task_id in gone])
    rows = [{"task_id": view.task_id, "instance_id": row.id, "bpmn_id": view.bpmn_id, "name": view.name,
             "fire_at": view.fire_at} for view in waiting if view.task_id not in before]
    if rows:
        connection.execute(_INSERT_TIMER, rows)
