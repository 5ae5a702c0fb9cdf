"""The inbox: list the tasks an actor may act on, and complete one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..engine import FieldError, FormSpec, FormValidationError, validate_submission
from ..engine.calendar import SHANGHAI
from ..store.models import Hazard, InboxTask, ProcessInstanceRow, User
from . import audit, delegation, evidence
from .errors import ConflictError, NotFoundError, PermissionDeniedError
from .evidence import Uploads
from .hazard_subject import form_facts
from .instances import apply_step, load_locked
from .model_registry import process_model
from .roles import may_act
from .subjects import subject_of


def open_tasks(session: Session, actor: User, limit: int = 200) -> list[InboxTask]:
    """Tasks waiting for the actor's role and organisation, earliest due first."""
    query = (select(InboxTask)
             .where(InboxTask.completed_at.is_(None), InboxTask.role == actor.role,
                    InboxTask.organisation_id == actor.organisation_id)
             .where((InboxTask.assignee_id.is_(None)) | (InboxTask.assignee_id == actor.id))
             .order_by(InboxTask.due_on.is_(None), InboxTask.due_on, InboxTask.id).limit(limit))
    return list(session.scalars(query))


def task_form(session: Session, actor: User, task_id: str, today: date | None = None) -> tuple[InboxTask, FormSpec]:
    """An open task the actor may act on (`today`: the date delegations are checked for), with its form as it
    applies today (a field that depends on what is known of the record, e.g. `only_when` overdue, only then)."""
    task = actionable_task(session, actor, task_id, today)
    row = session.get(ProcessInstanceRow, task.instance_id)
    assert row is not None
    form = process_model(row.model_version).forms.get(task.bpmn_id, FormSpec(key=""))
    hazard = session.get(Hazard, task.hazard_id) if task.hazard_id is not None else None
    return task, form.for_facts(form_facts(hazard, today or datetime.now(SHANGHAI).date()))


def actionable_task(session: Session, actor: User, task_id: str, today: date | None = None) -> InboxTask:
    """An open task `actor` may act on; any other task id is simply not found.

    A task claimed by a colleague is actionable when the colleague delegated to `actor`
    for `today` (no delegation applies when `today` is None).
    """
    task = session.scalar(select(InboxTask).where(InboxTask.task_id == task_id))
    if task is None or not (task.role == actor.role and task.organisation_id == actor.organisation_id):
        raise NotFoundError(f"task {task_id} not found")
    if task.completed_at is not None:
        raise ConflictError("该事项已经办理完毕")
    if not may_act(actor, task) and acting_for_on(session, actor, task, today) is None:
        raise PermissionDeniedError("该事项已由他人认领办理")
    return task


def _check_signature(field_id: str | None, data: dict[str, Any], actor: User) -> None:
    """A signature field (camunda property `signature_field`) must carry the signer's own name."""
    if not field_id:
        return
    signed = str(data.get(field_id) or "").strip()
    if signed and signed != actor.display_name:
        raise FormValidationError([FieldError(field_id, "not_your_signature",
                                              f"签名须为本人姓名（{actor.display_name}）")])


def acting_for_on(session: Session, actor: User, task: InboxTask, today: date | None) -> User | None:
    """The colleague `actor` acts for on `task` (claimed by them, delegated to `actor` today), if any."""
    if today is None or task.assignee_id is None or task.assignee_id == actor.id or not actor.active:
        return None
    return delegation.acting_for(session, actor, task.assignee_id, today)


def complete_task(session: Session, actor: User, task_id: str, data: dict[str, Any], now: datetime,
                  uploads: Uploads | None = None) -> InboxTask:
    """Complete one task with form data, in the caller's transaction.

    The instance row is locked (FOR UPDATE on PostgreSQL; SQLite's single writer) and
    its version checked on write: of two people completing the same task, one wins and
    the other gets ConflictError; nothing of the loser's submission is kept.
    `uploads` are photos for the form's file fields, stored only if the step succeeds.
    """
    today = now.astimezone(SHANGHAI).date()
    task = actionable_task(session, actor, task_id, today)
    principal = acting_for_on(session, actor, task, today)
    loaded = load_locked(session, task.instance_id)
    assert loaded is not None
    if loaded.row.status == "incident":
        raise ConflictError("流程在某一步骤出错，正等待管理员处理（重试或跳过）；处理后即可继续办理")
    instance, record = loaded.instance, loaded.record
    view = next((t for t in instance.ready_user_tasks() if t.task_id == task_id), None)
    if view is None:  # completed by someone else while we waited for the lock
        raise ConflictError("该事项刚刚已由他人办理")
    excluded = view.properties.get("exclude_actor")
    if excluded and instance.data.get(excluded) == actor.id:
        raise PermissionDeniedError("此环节须由他人办理：不能审核或验收自己提交的事项")
    _check_signature(view.properties.get("signature_field"), data, actor)
    subject = subject_of(record)
    if uploads:
        data = uploads.merged_into(data)
    shown = view.form.for_facts(form_facts(record if isinstance(record, Hazard) else None, today))
    validate_submission(shown, data)  # the form as it applies now: every error at once
    data = {k: v for k, v in data.items() if k not in {f.id for f in shown.withheld}}
    try:
        subject.check_submission(view, data, now)
    except FormValidationError as refused:
        raise view.form.labelled(refused) from None
    recorded = view.properties.get("record_actor_as")
    result = instance.complete_task(task_id, data, now, {recorded: actor.id} if recorded else None)
    if isinstance(record, Hazard):
        evidence.check_known(session, record.id, evidence.file_hashes(instance.data, view.form.file_field_ids()),
                             uploads)
        if uploads:
            uploads.save(session, actor, record.id, now)
    try:
        apply_step(session, loaded.row, instance, subject, result, now, actor, loaded.projected)
    except StaleDataError as exc:
        raise ConflictError("记录刚刚已被他人修改，请刷新后重试") from exc
    submitted = {k: result.submitted.get(k) for k in data}
    subject.task_completed(session, view, submitted, actor, now)
    audit.record(session, actor, "complete_task", subject.audit_type, subject.audit_id,
                 {"task": view.bpmn_id, "name": view.name, "data": submitted, "status": subject.status}, now,
                 on_behalf_of=principal)
    return task
