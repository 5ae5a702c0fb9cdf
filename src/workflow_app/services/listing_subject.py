"""A supervision listing (挂牌督办) as the subject of its process instance (bpmn/supervision_listing.bpmn)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine import FieldError, FiredTimer, FormValidationError, ProcessInstance, UserTaskView
from ..engine.calendar import SHANGHAI
from ..store.models import Organisation, Supervision, SupervisionListing, User
from . import documents, notices
from .notice_recipients import notify_people
from .personal_notices import NoticePolicy
from .roles import office_id

SUBJECTS = {
    "listing_decision_reminder": "挂牌督办提议待决定：{code} {title}",
    "listing_decision_overdue": "挂牌督办提议逾期未决定：{code} {title}",
    "listing_reminder": "挂牌督办即将到期：{code} {title}（督办时限 {deadline}）",
    "listing_overdue": "挂牌督办已逾期：{code} {title}（督办时限 {deadline}）",
    "listing_escalation": "挂牌督办逾期未摘牌，升级督办：{code} {title}（督办时限 {deadline}）",
}
STAMPS = {"Task_ListingDecision": ("decided_by_id", "decided_at"),
          "Task_Reinspect": ("reinspected_by_id", "reinspected_at"),
          "Task_ResumeProduction": ("production_resumed_by_id", "production_resumed_at")}
"""Who completed each step of the model, and when, as the listing's columns."""


class ListingSubject:
    """Adapts a SupervisionListing row to `instances.Subject`: the department's steps go to the supervising
    unit (the proposing department until the office names one), the office's to the office."""

    audit_type = "supervision_listing"

    def __init__(self, listing: SupervisionListing):
        self.listing = listing

    @property
    def audit_id(self) -> int:
        return self.listing.id

    @property
    def code(self) -> str:
        return f"{self.listing.hazard.code}/挂牌{self.listing.id}"

    @property
    def status(self) -> str:
        return self.listing.status

    def refresh(self, instance: ProcessInstance, ready: list[UserTaskView], now: datetime) -> None:
        listing, data = self.listing, instance.data
        status = _status(instance, ready, listing.status)
        if status != listing.status and status in ("listed", "refused"):
            listing.decision_opinion = data.get("decision_opinion")
        if status == "listed" and listing.status == "proposed":
            listing.supervising_unit_id = int(data.get("supervising_unit_id") or listing.proposing_department_id)
            listing.deadline = date.fromisoformat(data["listing_deadline"])
            listing.stop_production = bool(data.get("stop_production"))
        if status == "delisted" and listing.delisted_at is None:
            listing.delisted_at = now
        listing.status = status
        listing.hazard.supervision_listed = status == "listed"
        listing.updated_at = now

    def task_row(self, session: Session, view: UserTaskView, role: str) -> dict[str, Any]:
        return {"enterprise_id": self.listing.hazard.enterprise_id, "organisation_id": self._acting(session, role)}

    def _acting(self, session: Session, role: str) -> int:
        if role == "department":
            return self.listing.supervising_unit_id or self.listing.proposing_department_id
        if role == "enterprise":
            return self.listing.hazard.enterprise_id
        return office_id(session)

    def queue_notices(self, session: Session, instance_id: int, fired: FiredTimer, now: datetime,
                      policy: NoticePolicy) -> None:
        kind = fired.properties.get("notice", "timer")
        hazard = self.listing.hazard
        subject = SUBJECTS.get(kind, fired.name + "：{code} {title}").format(
            code=hazard.code, title=hazard.title, deadline=self.listing.deadline or "—")
        recipients = {self._acting(session, role.strip())
                      for role in fired.properties.get("notify", "office").split(",") if role.strip()}
        body = f"{subject}\n企业：{hazard.enterprise.name}\n隐患部位：{hazard.location}\n触发：{fired.name}"
        event = notices.queue_timer(session, instance_id, fired, now, recipients, subject, body, hazard.id)
        notify_people(session, event, now, policy, enterprise=hazard.enterprise, hazard_id=hazard.id,
                      history=(self.audit_type, self.audit_id))

    def check_submission(self, view: UserTaskView, data: dict[str, Any], now: datetime) -> None:
        """The office lists an open hazard under a department supervising the enterprise, with a future deadline;
        the re-inspection passes only a closed hazard."""
        if view.bpmn_id == "Task_Reinspect" and self.listing.hazard.status != "closed":
            raise FormValidationError([FieldError("reinspected_on", "hazard_open",
                                                  "隐患尚未验收销号，不能摘牌复查；请待隐患销号后再办理")])
        if view.bpmn_id == "Task_ListingDecision" and data.get("listing_decision") == "list":
            if self.listing.hazard.status == "closed":
                raise FormValidationError([FieldError("listing_decision", "hazard_closed",
                                                      "隐患已验收销号，无需挂牌督办；请选择不予挂牌")])
            _check_unit(self.listing, data.get("supervising_unit_id"))
            deadline = _as_date(data.get("listing_deadline"))
            if deadline is not None and deadline <= now.astimezone(SHANGHAI).date():
                raise FormValidationError([FieldError("listing_deadline", "not_future", "督办整改时限须晚于今天")])

    def task_completed(self, session: Session, view: UserTaskView, submitted: dict[str, Any], actor: User,
                       now: datetime) -> None:
        """Stamp who did the step; a listing decision sends the 督办通知 to the enterprise and the supervising unit."""
        by, at = STAMPS.get(view.bpmn_id, (None, None))
        if by and at:
            setattr(self.listing, by, actor.id)
            setattr(self.listing, at, now)
        if view.bpmn_id == "Task_Reinspect":
            self.listing.reinspection_opinion = submitted.get("reinspection_opinion")
        if view.bpmn_id == "Task_ListingDecision" and self.listing.status == "listed":
            self._notify_listed(session, actor, now)

    def _notify_listed(self, session: Session, actor: User, now: datetime) -> None:
        """Issue the 挂牌督办通知书 (the office decides, so it issues) and tell the enterprise and the unit."""
        listing, hazard = self.listing, self.listing.hazard
        notice = documents.issue(session, actor, "listing_notice", listing.id, now)
        unit = session.get(Organisation, listing.supervising_unit_id)
        assert unit is not None
        stop = "整改期间停产停业" if listing.stop_production else "不停产整改"
        subject = f"重大事故隐患挂牌督办通知：{hazard.code} {hazard.title}（督办时限 {listing.deadline}，{stop}）"
        body = (f"{subject}\n挂牌督办通知书：{notice.serial}（在隐患页面下载）\n"
                f"企业：{hazard.enterprise.name}\n隐患部位：{hazard.location}\n督办责任单位：{unit.name}\n"
                f"决定意见：{listing.decision_opinion or ''}")
        notices.queue_event(session, f"listing:{listing.id}:listed", "listing_notice", now,
                            {hazard.enterprise_id, unit.id}, subject, body, hazard.id)


def _check_unit(listing: SupervisionListing, chosen: Any) -> None:
    """A supervising unit must be a department that supervises the hazard's enterprise (三管三必须)."""
    if chosen in (None, ""):
        return
    session = Session.object_session(listing)
    assert session is not None
    try:
        unit_id = int(chosen)
    except (TypeError, ValueError):
        return  # the form's own validation says what is wrong with it
    if not 0 < unit_id < 2**31:
        return  # likewise: out of the form's range
    supervises = session.scalar(select(Supervision.department_id).where(
        Supervision.enterprise_id == listing.hazard.enterprise_id, Supervision.department_id == unit_id))
    if supervises is None:
        raise FormValidationError([FieldError("supervising_unit_id", "not_supervising",
                                              "督办责任单位须为监管该企业的部门")])


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None  # the form's own validation says what is wrong with it


def _status(instance: ProcessInstance, ready: list[UserTaskView], current: str) -> str:
    """The listing's status as the model declares it (camunda property listing_status)."""
    if instance.is_completed:
        return instance.reached_end_properties().get("listing_status", current)
    for task in ready:
        if "listing_status" in task.properties:
            return task.properties["listing_status"]
    return current
