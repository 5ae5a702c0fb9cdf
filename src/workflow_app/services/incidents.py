"""Incidents: an instance stopped at a failed script, service task or gateway, and what an admin does.

The admin (the safety committee office) sees the error and the task's data, then either
retries the task after correcting its data or, for a script or service task, skips it
with a reason. Either is one transaction, audited; until then nothing of the instance
moves (its tasks refuse completion, its timers are not swept).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import TaskNotReadyError
from ..store.models import Incident, User
from . import audit
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from .instances import apply_step, load_locked
from .subjects import subject_of


def _admin(actor: User) -> None:
    if actor.role != "office":
        raise PermissionDeniedError("流程异常由安委办处理")


def list_incidents(session: Session, actor: User, open_only: bool = True) -> list[Incident]:
    """Incidents, oldest open first."""
    _admin(actor)
    query = select(Incident).order_by(Incident.resolved_at.is_not(None), Incident.occurred_at, Incident.id)
    if open_only:
        query = query.where(Incident.resolved_at.is_(None))
    return list(session.scalars(query.limit(500)))


def get_incident(session: Session, actor: User, incident_id: int) -> Incident:
    _admin(actor)
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError(f"incident {incident_id} not found")
    return incident


def retry(session: Session, actor: User, incident_id: int, corrections: dict[str, Any], now: datetime) -> Incident:
    """Merge `corrections` into the failed task's data and run it again (it may fail again: a new incident)."""
    incident = _open(session, actor, incident_id)
    loaded = load_locked(session, incident.instance_id)
    assert loaded is not None
    try:
        result = loaded.instance.retry(incident.task_id, corrections, now)
    except TaskNotReadyError as exc:
        raise ConflictError(str(exc)) from exc
    return _resolve(session, actor, incident, loaded, result, "retried", None, {"corrections": corrections}, now)


def skip(session: Session, actor: User, incident_id: int, reason: str, now: datetime) -> Incident:
    """Mark the failed script or service task done without running it; a reason is required."""
    if not reason.strip():
        raise InvalidInputError("跳过须说明理由")
    incident = _open(session, actor, incident_id)
    loaded = load_locked(session, incident.instance_id)
    assert loaded is not None
    try:
        result = loaded.instance.skip(incident.task_id, now)
    except TaskNotReadyError as exc:
        raise InvalidInputError(str(exc)) from exc
    return _resolve(session, actor, incident, loaded, result, "skipped", reason.strip(), {"reason": reason.strip()},
                    now)


def _open(session: Session, actor: User, incident_id: int) -> Incident:
    incident = get_incident(session, actor, incident_id)
    if incident.resolved_at is not None:
        raise ConflictError(f"incident {incident_id} was already {incident.resolution}")
    return incident


def _resolve(session: Session, actor: User, incident: Incident, loaded: Any, result: Any, resolution: str,
             reason: str | None, detail: dict[str, Any], now: datetime) -> Incident:
    incident.resolved_at, incident.resolution, incident.reason, incident.resolved_by_id = now, resolution, reason, \
        actor.id
    subject = subject_of(loaded.record)
    apply_step(session, loaded.row, loaded.instance, subject, result, now, actor, loaded.projected)
    audit.record(session, actor, f"incident_{resolution}", subject.audit_type, subject.audit_id,
                 {"incident": incident.id, "task": incident.bpmn_id, **detail}, now)
    return incident
