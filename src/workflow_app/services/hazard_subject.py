"""A hazard as the subject of its process instance: its record follows the instance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..engine import FieldError, FiredTimer, FormValidationError, ProcessInstance, UserTaskView
from ..engine.calendar import SHANGHAI
from ..store.models import Hazard, User
from . import audit, notices, rewards
from .notice_recipients import notify_people
from .personal_notices import NoticePolicy
from .roles import acting_organisation_id

PLAN_FIELDS = ("responsible_person", "rectification_measures", "rectification_funds", "emergency_plan")


class HazardSubject:
    """Adapts a Hazard row to `instances.Subject`."""

    audit_type = "hazard"

    def __init__(self, hazard: Hazard):
        self.hazard = hazard

    @property
    def audit_id(self) -> int:
        return self.hazard.id

    @property
    def code(self) -> str:
        return self.hazard.code

    @property
    def status(self) -> str:
        return self.hazard.status

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        hazard, data = self.hazard, instance.data
        hazard.level = data.get("hazard_level", hazard.level)
        for name in PLAN_FIELDS:
            if data.get(name) is not None:
                setattr(hazard, name, data[name])
        if data.get("rectification_deadline"):
            deadline = date.fromisoformat(data["rectification_deadline"])
            if hazard.rectification_deadline != deadline:  # once overdue, it stays on the overdue list until closed
                if hazard.rectification_deadline is not None:  # a new deadline ends the escalation of the old one;
                    hazard.escalated_at = None  # the first one does not end that of a late plan
                hazard.rectification_deadline = deadline
        hazard.status = _status(instance, ready, hazard.status)
        if hazard.status == "closed" and hazard.closed_at is None:
            hazard.closed_at = now
        hazard.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        return {"hazard_id": self.hazard.id, "enterprise_id": self.hazard.enterprise_id,
                "organisation_id": acting_organisation_id(session, role, self.hazard.enterprise,
                                                          hazard=self.hazard, step=view.bpmn_id)}

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        """The timer's notices to organisations, then to the people of them who can act; who got what goes on
        the hazard's history (under the timer's id, so it is hidden wherever that timer is)."""
        event = notices.queue_for_timer(session, self.hazard, instance_id, fired, now)
        if event is None:
            return
        notify_people(session, event, now, policy, enterprise=self.hazard.enterprise, hazard_id=self.hazard.id,
                      history=(self.audit_type, self.audit_id), responsible=self.hazard.responsible_person)

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """A major hazard always gets a plan (even one re-judged major after the choice was offered),
        and the deadline rules of a rectification."""
        if data.get("rectification_mode") == "immediate" and self.hazard.level == "major":
            raise FormValidationError([FieldError("rectification_mode", "major_needs_plan",
                                                  "重大事故隐患须制定治理方案（五落实），不能立即整改")])
        self._check_deadline(view, data, now)
        if view.properties.get("reward_rule"):
            rewards.check_award(self._session(), self.hazard, data)

    def _session(self) -> Session:
        session = Session.object_session(self.hazard)
        assert session is not None, "a hazard's subject works on a hazard loaded in the caller's transaction"
        return session

    def _check_deadline(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """The deadline rules of a rectification (a form with `rectify_action`), as practised in several provinces.

        An extension may be asked for only before the deadline, and for a later date; once the
        deadline has passed, the rectification needs a written explanation.
        """
        deadline = self.hazard.rectification_deadline
        if "rectify_action" not in view.form.field_ids() or deadline is None:
            return
        today = now.astimezone(SHANGHAI).date()
        if (data.get("rectify_action") or "done") == "extend":
            if today > deadline:
                raise FormValidationError([FieldError("rectify_action", "extension_too_late",
                                                      f"整改时限（{deadline}）已过，不能再申请延期；请完成整改并填写逾期说明")])
            requested = _as_date(data.get("requested_deadline"))
            if requested is not None and requested <= deadline:
                raise FormValidationError([FieldError("requested_deadline", "not_later",
                                                      f"申请的时限须晚于现在的整改时限（{deadline}）")])
        elif today > deadline and not str(data.get("overdue_explanation") or "").strip():
            raise FormValidationError([FieldError("overdue_explanation", "required",
                                                  f"已超过整改时限（{deadline}），须填写逾期说明")])

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """A reward decision (camunda property `reward_rule`) that awards sets the hazard's reward, audited with
        the rule that applied and the amount it suggested (under the task's id: hidden from the enterprise)."""
        if not view.properties.get("reward_rule"):
            return
        granted = rewards.record_award(self.hazard, submitted, now)
        if granted is not None:
            suggested = rewards.suggestion(session, self.hazard)
            audit.record(session, actor, "grant_reward", "hazard", self.hazard.id,
                         {"task": view.bpmn_id, "amount": str(granted), "suggested": str(suggested.amount),
                          "fines": str(suggested.fines), "rule": suggested.rule.as_params(),
                          "campaign": suggested.campaign}, now)


def form_facts(hazard: Hazard | None, today: date) -> frozenset[str]:
    """What is known of a task's record that its form depends on (engine.forms.FACTS): `overdue` once the
    hazard's rectification deadline has passed, or while it is on the overdue list (a new deadline after a
    failed verification does not take it off: it stays late until closed). The overdue explanation applies
    then, and only then."""
    if hazard is None:
        return frozenset()
    deadline = hazard.rectification_deadline
    late = hazard.overdue_since is not None or (deadline is not None and today > deadline)
    return frozenset({"overdue"}) if late else frozenset()


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None  # the form's own validation says what is wrong with it


def _status(instance: ProcessInstance, ready: list[UserTaskView], current: str) -> str:
    """The hazard's status as the model declares it (camunda property hazard_status)."""
    if instance.is_completed:
        return instance.reached_end_properties().get("hazard_status", "closed")
    for task in ready:
        if "hazard_status" in task.properties:
            return task.properties["hazard_status"]
    return current
