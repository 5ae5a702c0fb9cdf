"""Queue notices in the outbox, in the same transaction as the event that causes them.

Each notice has an idempotency key (the timer occurrence, the recipient and the channel),
so the same firing can never queue the same notice twice. In-app notices are delivered
by being written; e-mail and webhook notices wait in the outbox for the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import FiredTimer
from ..store.models import Hazard, InboxTask, Notice, Organisation
from .roles import acting_organisation_id

SUBJECTS = {
    "reminder": "隐患整改即将到期：{code} {title}（整改时限 {deadline}）",
    "overdue": "隐患整改已逾期：{code} {title}（整改时限 {deadline}）",
    "escalation": "隐患逾期未整改，升级督办：{code} {title}（整改时限 {deadline}）",
    "verify_reminder": "隐患验收即将到期，请及时验收：{code} {title}",
    "verify_overdue": "隐患逾期未验收，已报安委办督办：{code} {title}",
    "triage_overdue": "举报逾期未受理研判：{code} {title}",
    "plan_reminder": "治理方案即将到期，请及时提交：{code} {title}（方案时限 {due}）",
    "plan_overdue": "治理方案逾期未提交：{code} {title}（方案时限 {due}）",
    "plan_escalation": "治理方案逾期未提交，升级督办：{code} {title}（方案时限 {due}）",
    "review_reminder": "治理方案审核即将到期，请及时审核：{code} {title}（审核时限 {due}）",
    "review_overdue": "治理方案逾期未审核：{code} {title}（审核时限 {due}）",
    "review_escalation": "治理方案逾期未审核，升级督办：{code} {title}（审核时限 {due}）",
    "immediate_reminder": "立即整改今日到期：{code} {title}（整改时限 {due}）",
    "immediate_overdue": "立即整改已逾期：{code} {title}（整改时限 {due}）",
    "immediate_escalation": "立即整改逾期未完成，升级督办：{code} {title}（整改时限 {due}）",
    "extension_reminder": "延期申请审批即将到期，请及时审批：{code} {title}（审批时限 {due}）",
    "extension_overdue": "延期申请逾期未审批：{code} {title}（审批时限 {due}）",
    "extension_escalation": "延期申请逾期未审批，升级督办：{code} {title}（审批时限 {due}）",
}
"""Each kind's subject: `{deadline}` is the rectification deadline, `{due}` the due date of the step the timer
is attached to (its `due_field` on the diagram)."""
OVERDUE_KINDS = frozenset({"overdue", "plan_overdue", "review_overdue", "immediate_overdue", "extension_overdue"})
"""Notices that put the hazard on the overdue list (overdue_since): a step of its loop missed its deadline."""
ESCALATION_KINDS = frozenset({"escalation", "plan_escalation", "review_escalation", "immediate_escalation",
                              "extension_escalation"})
"""Notices that escalate the hazard to the safety committee office (escalated_at)."""


@dataclass(frozen=True)
class WatchedStep:
    """The open inbox row of the step a boundary timer watches (written before the notices are queued)."""

    due_on: date | None
    assignee_id: int | None  # who claimed it (None: nobody)
    organisation_id: int  # who acts on it


@dataclass(frozen=True)
class QueuedEvent:
    """An event's notices to organisations: what people named on it are sent too."""

    key: str
    kind: str
    subject: str
    body: str
    organisation_ids: set[int]
    watched: WatchedStep | None  # the step the timer watches (None: it watches none, or it is no longer open)
    timer: str  # the BPMN id of the timer that fired


def queue_for_timer(session: Session, hazard: Hazard, instance_id: int, fired: FiredTimer,
                    now: datetime) -> QueuedEvent | None:
    """Queue one notice per recipient named on the timer (camunda property `notify`): a role's organisation
    for the task the timer is attached to (so a verification's notices reach the department that verifies).
    None when the same notice went out before."""
    kind = fired.properties.get("notice", "timer")
    if kind in OVERDUE_KINDS and hazard.overdue_since is None:
        hazard.overdue_since = fired.fire_at
    if kind in ESCALATION_KINDS and hazard.escalated_at is None:
        hazard.escalated_at = now
    watched = watched_step(session, instance_id, fired.attached_to)
    subject = SUBJECTS.get(kind, fired.name + "：{code} {title}").format(
        code=hazard.code, title=hazard.title, deadline=hazard.rectification_deadline or "—",
        due=(watched.due_on if watched else None) or "—")
    if kind in SUBJECTS and session.scalar(select(Notice.id).where(
            Notice.hazard_id == hazard.id, Notice.kind == kind, Notice.subject == subject).limit(1)) is not None:
        return None  # the same notice for the same deadline went out already (the task was re-entered, e.g. after a
        # refused extension, and its timers re-armed at the same instants)
    body = f"{subject}\n企业：{hazard.enterprise.name}\n隐患部位：{hazard.location}\n触发：{fired.name}"
    recipients = {acting_organisation_id(session, role.strip(), hazard.enterprise, hazard=hazard,
                                         step=fired.attached_to)
                  for role in fired.properties.get("notify", "enterprise").split(",") if role.strip()}
    key = timer_event_key(instance_id, fired)
    queue_event(session, key, kind, now, recipients, subject, body, hazard.id)
    return QueuedEvent(key, kind, subject, body, recipients, watched, fired.bpmn_id)


def timer_event_key(instance_id: int, fired: FiredTimer) -> str:
    """The event a timer occurrence is, in idempotency keys."""
    return f"timer:{instance_id}:{fired.task_id}"


def watched_step(session: Session, instance_id: int, step: str | None) -> WatchedStep | None:
    """The open inbox row of `step` on the instance, the newest if it was re-entered (None: no such row)."""
    if step is None:
        return None
    row = session.execute(select(InboxTask.due_on, InboxTask.assignee_id, InboxTask.organisation_id).where(
        InboxTask.instance_id == instance_id, InboxTask.bpmn_id == step, InboxTask.completed_at.is_(None))
        .order_by(InboxTask.id.desc()).limit(1)).first()
    return WatchedStep(row.due_on, row.assignee_id, row.organisation_id) if row is not None else None


def queue_timer(session: Session, instance_id: int, fired: FiredTimer, now: datetime, recipients: set[int],
                subject: str, body: str, hazard_id: int | None = None) -> QueuedEvent:
    """A timer occurrence's notices to organisations (queue_event); returns the event, for the people it names."""
    key, kind = timer_event_key(instance_id, fired), fired.properties.get("notice", "timer")
    queue_event(session, key, kind, now, recipients, subject, body, hazard_id)
    return QueuedEvent(key, kind, subject, body, recipients, watched_step(session, instance_id, fired.attached_to),
                       fired.bpmn_id)


def queue_event(session: Session, key: str, kind: str, now: datetime, recipients: set[int], subject: str,
                body: str, hazard_id: int | None = None) -> None:
    """One notice per recipient and channel for the event `key` names (a timer occurrence, a decision):
    the key, the recipient and the channel make the idempotency key."""
    for org_id in sorted(recipients):
        organisation = session.get(Organisation, org_id)
        assert organisation is not None
        for channel in channels_of(organisation):
            delivered = channel == "in_app"
            session.add(Notice(
                idempotency_key=f"{key}:{org_id}:{channel}", event_key=key, channel=channel,
                kind=kind, recipient_org_id=org_id, hazard_id=hazard_id, subject=subject, body=body, created_at=now,
                status="sent" if delivered else "pending", sent_at=now if delivered else None,
            ))


def channels_of(organisation: Organisation) -> list[str]:
    """Where an organisation's notices go: always in the app, and by e-mail / webhook if it has them."""
    return ["in_app"] + (["email"] if organisation.email else []) + (["webhook"] if organisation.webhook_url else [])
