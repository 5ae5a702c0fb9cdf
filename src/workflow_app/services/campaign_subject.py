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
from sqlalchemy.orm import Session, object_session

from ..engine import FieldError, FiredTimer, FormValidationError, ProcessInstance, UserTaskView
from ..store.models import Campaign, CampaignSubmission, InboxTask, Organisation, User
from . import notices
from .campaign_figures import counted_values, overridden, totals_below_week, week_window
from .personal_notices import NoticePolicy
from .roles import office_id

PHASES = ("mobilization", "self_inspection", "enforcement", "summary")
PHASE_SCRIPTS = {"Script_SelfInspection": "self_inspection", "Script_Enforcement": "enforcement",
                 "Script_Summary": "summary"}
UNIT_REPORTS = {"Task_TownReport1": "report", "Task_DepartmentReport1": "report", "Task_TownReport2": "report",
                "Task_DepartmentReport2": "report", "Task_TownUnitSummary": "summary",
                "Task_DepartmentUnitSummary": "summary"}
"""The reports every town and department files (plan 三、(五), lines 127-131: 贯彻落实情况 by 8/18 and 12/18;
the 总结提高 phase's summaries): their period is their due date."""
SUBMISSION_KINDS = {"Task_TownPlan": "plan", "Task_DepartmentPlan": "plan", "Task_TownWeekly": "weekly",
                    "Task_DepartmentWeekly": "weekly", "Task_PublishBulletin": "bulletin", **UNIT_REPORTS,
                    "Task_Summary": "summary",
                    "Task_Report1": "report", "Task_Report2": "report"}  # the office's, in campaigns started before
FIELD_LABELS = {"inspections_week": "执法检查·本周", "inspections_total": "执法检查·累计",
                "penalties_week": "行政处罚·本周", "penalties_total": "行政处罚·累计"}
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

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        kind = fired.properties.get("notice", "timer")
        recipients = self._recipients(session, instance_id, fired)
        task_name = fired.name
        if fired.attached_to:
            task_name = session.scalar(select(InboxTask.name).where(
                InboxTask.instance_id == instance_id, InboxTask.bpmn_id == fired.attached_to).limit(1)) or task_name
        subject = SUBJECTS.get(kind, "{task}（{campaign}）").format(task=task_name, campaign=self.campaign.name)
        notices.queue_event(session, notices.timer_event_key(instance_id, fired), kind, now, recipients, subject,
                            f"{subject}\n触发：{fired.name}")

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
        """A weekly table's totals include its week, and its enforcement columns are what the records count
        unless the unit gives a reason for another value."""
        if view.properties.get("prefill") != "weekly_figures":
            return
        errors = [FieldError(f"{figure}_total", "total_below_week", "累计数不能小于本周数")
                  for figure in totals_below_week(data)]
        differs = overridden(data, self._counted(view))
        if differs and not str(data.get("override_reason") or "").strip():
            said = "；".join(f"{FIELD_LABELS[f]} 按记录统计为 {counted}，填报 {typed}"
                            for f, (counted, typed) in differs.items())
            errors.append(FieldError("override_reason", "override_needs_reason",
                                     f"执法检查、行政处罚与执法记录统计不一致，须填写原因（{said}）"))
        if errors:
            raise FormValidationError(errors)

    def _counted(self, view: UserTaskView) -> dict[str, int]:
        """The enforcement columns as the records count them for this task's unit and week."""
        session = object_session(self.campaign)  # the caller's transaction, which loaded the campaign
        assert session is not None
        unit = session.get(Organisation, int(view.task_data[view.properties["acting_unit"]]))
        assert unit is not None
        period = str(view.task_data[view.properties["period_field"]])
        return counted_values(session, unit, week_window(self.campaign, period))

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """Keep the submission; a weekly table keeps the counted enforcement figures beside the typed ones."""
        kind = SUBMISSION_KINDS.get(view.bpmn_id)
        if kind is None:
            return
        period_variable = view.properties.get("period_field")
        period = str(view.task_data.get(period_variable, "")) if period_variable else view.bpmn_id
        data = {**submitted, "counted": self._counted(view)} if kind == "weekly" else submitted
        session.add(CampaignSubmission(campaign_id=self.campaign.id, organisation_id=actor.organisation_id,
                                       kind=kind, period=period or view.bpmn_id, data=data, submitted_at=now,
                                       submitted_by_id=actor.id))
