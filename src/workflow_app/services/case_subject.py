"""A case (a run of a permit or third-party model) as the subject of its process instance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..engine import FiredTimer, ProcessInstance, UserTaskView
from ..store.models import Case, User
from . import notices
from .notice_recipients import notify_people
from .personal_notices import NoticePolicy
from .roles import acting_organisation_id


class CaseSubject:
    """Adapts a Case row to `instances.Subject`: tasks go to the case's enterprise and its supervisors."""

    audit_type = "case"

    def __init__(self, case: Case):
        self.case = case

    @property
    def audit_id(self) -> int:
        return self.case.id

    @property
    def code(self) -> str:
        return self.case.code

    @property
    def status(self) -> str:
        return self.case.outcome or self.case.status

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        if instance.is_completed and self.case.status != "completed":
            self.case.status, self.case.closed_at = "completed", now
            self.case.outcome = instance.reached_end_properties().get("outcome")
        self.case.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        return {"case_id": self.case.id, "enterprise_id": self.case.enterprise_id,
                "organisation_id": acting_organisation_id(session, role, self.case.enterprise)}

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        recipients = {acting_organisation_id(session, role.strip(), self.case.enterprise)
                      for role in fired.properties.get("notify", "enterprise").split(",") if role.strip()}
        subject = f"{fired.name}：{self.case.title}（{self.case.code}）"
        body = f"{subject}\n企业：{self.case.enterprise.name}"
        event = notices.queue_timer(session, instance_id, fired, now, recipients, subject, body)
        notify_people(session, event, now, policy, enterprise=self.case.enterprise, hazard_id=None,
                      history=(self.audit_type, self.audit_id))

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """No rules beyond the form's."""

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """What was submitted is the instance's data and the audit entry."""
