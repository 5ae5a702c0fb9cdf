"""Cases: runs of deployed models that are not the built-in records (permits, third-party processes).

A case belongs to an enterprise; its tasks go to the lane's role for that enterprise (the
enterprise itself, its department, town or the office), exactly as a hazard's do, and it
is visible to the same people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..engine import ProcessInstance
from ..store.models import Case, ModelVersion, Organisation, ProcessInstanceRow, User
from . import audit
from .campaigns import CAMPAIGN_PROCESS
from .case_subject import CaseSubject
from .duties import DUTY_PROCESS
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .hazards import HAZARD_PROCESS
from .instances import apply_step
from .model_registry import latest_version, process_model
from .roles import may_report_for, visible_by_enterprise
from .supervision_listings import LISTING_PROCESS

BUILT_IN_PROCESSES = frozenset({HAZARD_PROCESS, CAMPAIGN_PROCESS, DUTY_PROCESS, LISTING_PROCESS})
"""Processes started by their own use cases (report a hazard, start a campaign, open duties, propose a listing)."""


def startable_models(session: Session) -> list[ModelVersion]:
    """The newest version of every deployed process that runs as a case."""
    newest = (select(ModelVersion.process_id, func.max(ModelVersion.version).label("version"))
              .where(ModelVersion.process_id.not_in(BUILT_IN_PROCESSES)).group_by(ModelVersion.process_id)
              .subquery())
    query = (select(ModelVersion).join(newest, (newest.c.process_id == ModelVersion.process_id)
                                       & (newest.c.version == ModelVersion.version)).order_by(ModelVersion.name))
    return list(session.scalars(query))


def start_case(session: Session, actor: User, process_id: str, data: dict[str, Any], now: datetime,
               enterprise_id: int | None = None, title: str = "") -> Case:
    """Start the newest version of `process_id` for an enterprise; `data` is checked against its start form.

    An enterprise user starts cases of its own; others name an enterprise they supervise.
    """
    if process_id in BUILT_IN_PROCESSES:
        raise InvalidInputError(f"{process_id} is not started as a case")
    enterprise = _enterprise_for(session, actor, enterprise_id)
    version = latest_version(session, process_id)
    model = process_model(version)
    instance, result = ProcessInstance.start(model, data, now,
                                             {"started_by": actor.id, "enterprise_id": enterprise.id})
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    prefix = "".join(word[0] for word in process_id.split("_") if word).upper()[:8] or "CASE"
    case = Case(code=f"{prefix}-{now.year}-{row.id:05d}", process_id=process_id,
                title=(title.strip() or str(data.get("title") or "") or model.name)[:200],
                enterprise=enterprise, instance_id=row.id, status="running", started_by_id=actor.id,
                created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    apply_step(session, row, instance, CaseSubject(case), result, now, actor)
    audit.record(session, actor, "start_case", "case", case.id,
                 {"code": case.code, "process": process_id, "version": version.version, "data": instance.data}, now)
    return case


def _enterprise_for(session: Session, actor: User, enterprise_id: int | None) -> Organisation:
    if enterprise_id is None:
        if actor.role != "enterprise":
            raise InvalidInputError("name the enterprise the case is for")
        enterprise_id = actor.organisation_id
    enterprise = session.get(Organisation, enterprise_id)
    if enterprise is None or enterprise.kind != "enterprise":
        raise InvalidInputError(f"no enterprise with id {enterprise_id}")
    if not may_report_for(session, actor, enterprise):
        raise PermissionDeniedError("您无权为该企业立案")
    return enterprise


def get_case(session: Session, actor: User, case_id: int) -> Case:
    """One case the actor may see; any other id is simply not found."""
    case = session.scalar(visible_by_enterprise(select(Case), actor, Case.enterprise_id).where(Case.id == case_id))
    if case is None:
        raise NotFoundError(f"case {case_id} not found")
    return case


def list_cases(session: Session, actor: User, limit: int = 200) -> list[Case]:
    """Cases the actor may see, newest first."""
    query = visible_by_enterprise(select(Case), actor, Case.enterprise_id).order_by(Case.id.desc()).limit(limit)
    return list(session.scalars(query))
