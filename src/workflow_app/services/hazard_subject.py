"""A hazard as the subject of its process instance: its record follows the instance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..engine import FiredTimer, ProcessInstance, UserTaskView
from ..store.models import Hazard, User
from . import notices
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
            if hazard.rectification_deadline != deadline:
                hazard.rectification_deadline, hazard.overdue_since, hazard.escalated_at = deadline, None, None
        hazard.supervision_listed = bool(data.get("supervision_listed", False))
        hazard.status = _status(instance, ready, hazard.status)
        if hazard.status == "closed" and hazard.closed_at is None:
            hazard.closed_at = now
        hazard.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        return {"hazard_id": self.hazard.id, "enterprise_id": self.hazard.enterprise_id,
                "organisation_id": acting_organisation_id(session, role, self.hazard.enterprise)}

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime) -> None:
        notices.queue_for_timer(session, self.hazard, instance_id, fired, now)

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """Nothing beyond the hazard record and the audit log."""


def _status(instance: ProcessInstance, ready: list[UserTaskView], current: str) -> str:
    """The hazard's status as the model declares it (camunda property hazard_status)."""
    if instance.is_completed:
        return instance.reached_end_properties().get("hazard_status", "closed")
    for task in ready:
        if "hazard_status" in task.properties:
            return task.properties["hazard_status"]
    return current
