"""A campaign as the subject of its process instance: phase, unit tasks, submissions, notices.

Multi-instance tasks carry the acting unit in their data (camunda property `acting_unit`
names the variable); `period_field` names the week or month a task is for. A timer with
`notify=assignees` goes to the units whose instance of the task it is attached to is
still open, so only the late units are reminded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import FiredTimer, ProcessInstance, UserTaskView
from ..store.models import Campaign, CampaignSubmission, InboxTask, User
from . import notices
from .roles import office_id

PHASES = ("mobilization", "self_inspection", "enforcement", "summary")
PHASE_SCRIPTS = {"Script_SelfInspection": "self_inspection", "Script_Enforcement": "enforcement",
                 "Script_Summary": "summary"}
SUBMISSION_KINDS = {"Task_TownPlan": "plan", "Task_DepartmentPlan": "plan", "Task_TownWeekly": "weekly",
                    "Task_DepartmentWeekly": "weekly", "Task_PublishBulletin": "bulletin", "Task_Report1": "report",
                    "Task_Report2": "report", "Task_Summary": "summary"}
SUBJECTS = {"reminder": "专项行动报送提醒：{task}（{campaign}）", "overdue": "专项行动逾期未报：{task}（{campaign}）"}


class CampaignSubject:
    """Adapts a Campaign row to `instances.Subject`."""

    audit_type = "campaign"

    def __init__(self, campaign: Campaign):
        self.campaign = campaign

    @property
    def audit_id(self) -> int:
        return self.campaign.id

    @property
    def code(self) -> str:
        return self.campaign.code

    @property
    def status(self) -> str:
        return self.campaign.phase

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        campaign = self.campaign
        done = instance.completed_bpmn_ids()
        campaign.phase = next((phase for script, phase in reversed(PHASE_SCRIPTS.items()) if script in done),
                              "mobilization")
        if instance.is_completed and campaign.status != "closed":
            campaign.status, campaign.closed_at = "closed", now
        campaign.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        unit_variable = view.properties.get("acting_unit")
        period_variable = view.properties.get("period_field")
        organisation = view.task_data.get(unit_variable) if unit_variable else None
        return {"campaign_id": self.campaign.id,
                "period": str(view.task_data.get(period_variable) or "") or None if period_variable else None,
                "organisation_id": int(organisation) if organisation is not None else office_id(session)}

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime) -> None:
        kind = fired.properties.get("notice", "timer")
        recipients = self._recipients(session, instance_id, fired)
        task_name = fired.name
        if fired.attached_to:
            task_name = session.scalar(select(InboxTask.name).where(
                InboxTask.instance_id == instance_id, InboxTask.bpmn_id == fired.attached_to).limit(1)) or task_name
        subject = SUBJECTS.get(kind, "{task}（{campaign}）").format(task=task_name, campaign=self.campaign.name)
        notices.queue(session, instance_id, fired, now, recipients, subject, f"{subject}\n触发：{fired.name}")

    def _recipients(self, session: Session, instance_id: int, fired: FiredTimer) -> set[int]:
        recipients: set[int] = set()
        for role in (r.strip() for r in fired.properties.get("notify", "office").split(",")):
            if role == "assignees" and fired.attached_to:
                recipients.update(session.scalars(select(InboxTask.organisation_id).where(
                    InboxTask.instance_id == instance_id, InboxTask.bpmn_id == fired.attached_to,
                    InboxTask.completed_at.is_(None))))
            elif role == "office":
                recipients.add(office_id(session))
        return recipients

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """No rules beyond the form's."""

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        kind = SUBMISSION_KINDS.get(view.bpmn_id)
        if kind is None:
            return
        period_variable = view.properties.get("period_field")
        period = str(view.task_data.get(period_variable, "")) if period_variable else view.bpmn_id
        session.add(CampaignSubmission(campaign_id=self.campaign.id, organisation_id=actor.organisation_id,
                                       kind=kind, period=period or view.bpmn_id, data=submitted, submitted_at=now,
                                       submitted_by_id=actor.id))
