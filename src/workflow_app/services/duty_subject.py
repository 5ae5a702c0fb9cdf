"""An enterprise duty occurrence as the subject of its process instance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..engine import FiredTimer, ProcessInstance, UserTaskView
from ..store.models import Duty, User
from . import notices
from .notice_recipients import notify_people
from .personal_notices import NoticePolicy
from .roles import acting_organisation_id

KIND_NAMES = {"principal_inspection": "主要负责人带队检查", "special_plan_drill": "专项应急预案演练",
              "onsite_plan_drill": "现场处置方案演练"}
SUBJECTS = {"reminder": "履职事项即将到期：{kind}（{period}，时限 {due}）",
            "overdue": "履职事项已逾期：{kind}（{period}，时限 {due}）",
            "escalation": "履职事项逾期未完成，升级督办：{kind}（{period}，时限 {due}）"}


class DutySubject:
    """Adapts a Duty row to `instances.Subject`."""

    audit_type = "duty"

    def __init__(self, duty: Duty):
        self.duty = duty

    @property
    def audit_id(self) -> int:
        return self.duty.id

    @property
    def code(self) -> str:
        return f"{self.duty.enterprise.code}/{self.duty.kind}/{self.duty.period}"

    @property
    def status(self) -> str:
        return self.duty.status

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        if instance.is_completed:
            self.duty.status = "done"
            performed = instance.data.get("performed_on")
            self.duty.performed_on = date.fromisoformat(performed) if performed else None
        self.duty.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        return {"enterprise_id": self.duty.enterprise_id, "organisation_id": self.duty.enterprise_id,
                "period": self.duty.period}

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        kind = fired.properties.get("notice", "timer")
        if kind == "overdue" and self.duty.overdue_since is None:
            self.duty.overdue_since = fired.fire_at
        subject = SUBJECTS.get(kind, fired.name + "：{kind}（{period}）").format(
            kind=KIND_NAMES.get(self.duty.kind, self.duty.kind), period=self.duty.period, due=self.duty.due_on)
        recipients = {acting_organisation_id(session, role.strip(), self.duty.enterprise)
                      for role in fired.properties.get("notify", "enterprise").split(",") if role.strip()}
        body = f"{subject}\n企业：{self.duty.enterprise.name}\n触发：{fired.name}"
        subject = f"{subject} {self.duty.enterprise.name}"
        event = notices.queue_timer(session, instance_id, fired, now, recipients, subject, body)
        notify_people(session, event, now, policy, enterprise=self.duty.enterprise, hazard_id=None,
                      history=(self.audit_type, self.audit_id))

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """No rules beyond the form's."""

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """The record (who, when, what) is the task's own data and the audit entry."""
