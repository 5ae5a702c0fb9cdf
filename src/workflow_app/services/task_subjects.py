"""What each task is about, in words: the hazard (code, title, enterprise), the duty (kind, enterprise,
period), the case's title, the campaign and period, or the listed hazard, so that no task list shows a
bare step name ("完成履职事项") or a number ("办件 #2").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Campaign, Case, Duty, Hazard, InboxTask, Organisation, SupervisionListing
from .duty_subject import KIND_NAMES as DUTY_KINDS


@dataclass(frozen=True)
class TaskSubject:
    """The subject of a task: `kind` (hazard | duty | case | campaign | listing), the key its page is found
    by (None: it has no page of its own), the words naming it, and its enterprise's name if it has one."""

    kind: str
    key: str | int | None
    text: str
    enterprise: str = ""
    period: str = ""


def subjects_of(session: Session, tasks: Iterable[InboxTask]) -> dict[int, TaskSubject]:
    """The subject of each task (by `InboxTask.id`), read in one query per kind of record among `tasks`."""
    tasks = list(tasks)
    found: dict[int, TaskSubject] = {}
    hazards = _by_id(session, Hazard, {t.hazard_id for t in tasks if t.hazard_id is not None})
    cases = _by_id(session, Case, {t.case_id for t in tasks if t.case_id is not None})
    campaigns = _by_id(session, Campaign, {t.campaign_id for t in tasks if t.campaign_id is not None})
    others = {t.instance_id for t in tasks if t.hazard_id is None and t.case_id is None and t.campaign_id is None}
    duties = {d.instance_id: d for d in session.scalars(select(Duty).where(Duty.instance_id.in_(others)))} \
        if others else {}
    listings = {row.instance_id: row for row in session.execute(
        select(SupervisionListing.instance_id, Hazard.id, Hazard.code, Hazard.title, Organisation.name)
        .join(Hazard, Hazard.id == SupervisionListing.hazard_id)
        .join(Organisation, Organisation.id == Hazard.enterprise_id)
        .where(SupervisionListing.instance_id.in_(others)))} if others else {}
    for task in tasks:
        subject = _subject(task, hazards, cases, campaigns, duties, listings)
        if subject is not None:
            found[task.id] = subject
    return found


def _subject(task: InboxTask, hazards: dict, cases: dict, campaigns: dict, duties: dict,  # type: ignore[type-arg]
             listings: dict) -> TaskSubject | None:  # type: ignore[type-arg]
    if task.hazard_id in hazards:
        hazard = hazards[task.hazard_id]
        return TaskSubject("hazard", hazard.id, f"{hazard.code} {hazard.title}", hazard.enterprise.name)
    if task.case_id in cases:
        case = cases[task.case_id]
        return TaskSubject("case", case.id, case.title, case.enterprise.name)
    if task.campaign_id in campaigns:
        return TaskSubject("campaign", campaigns[task.campaign_id].code, campaigns[task.campaign_id].name,
                           period=task.period or "")
    if task.instance_id in duties:
        duty = duties[task.instance_id]
        return TaskSubject("duty", None, DUTY_KINDS.get(duty.kind, duty.kind), duty.enterprise.name, duty.period)
    if task.instance_id in listings:
        row = listings[task.instance_id]
        return TaskSubject("listing", row.id, f"{row.code} {row.title}", row.name)
    return None


def _by_id(session: Session, model: type, ids: set[int]) -> dict:  # type: ignore[type-arg]
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}  # type: ignore[attr-defined]
