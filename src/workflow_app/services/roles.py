"""Who acts on a task and who may see a hazard.

Lanes in the BPMN name roles; the organisation that must act follows from the hazard:
the enterprise itself, its lead supervising department, its town, or the office.

Several departments may supervise one enterprise (三管三必须, table `supervisions`): each of them
sees it and may report and inspect there; the lead (one per enterprise) acts on the department's
steps: it reviews major-hazard plans, decides extensions and verifies closures, except that a
hazard found by another supervising department (by its enforcement inspection, or reported by
its staff) is verified by that department ("谁检查、谁验收"). Which hazards the government side
verifies at all (复查: every major one, and every one a department or a report found) is
decided on the diagram, at Gateway_VerifierLevel; only what the enterprise found itself, of
general level, is verified by the enterprise.

A public or whistleblower report protects its reporter: the reported enterprise sees nothing
of it until the office's triage accepts it (a rejected one never), and then sees a hazard
found by the supervisor, never the true source, the reporter, the triage or the reward. Every
page, API call and export asks the functions here, so that rule lives in this one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, func, not_, or_, select
from sqlalchemy.orm import Session

from ..store.models import AuditEntry, Hazard, InboxTask, Inspection, Organisation, Supervision, User
from .errors import InvalidInputError

LANE_ROLES = {"企业": "enterprise", "监管部门": "department", "镇街": "town", "安委办": "office"}
"""BPMN lane name → the role whose users act on tasks in that lane."""

ROLES = ("enterprise", "department", "town", "office")

PUBLIC_SOURCES = ("public_report", "whistleblower")
"""Reports by the public (群众举报) or an insider (内部吹哨人): the reported enterprise must not learn of them."""
UNCONFIRMED_STATUSES = ("reported", "pending_triage", "rejected")
"""A report in these states is not (or never will be) accepted by triage: hidden from the enterprise."""
SOURCE_SHOWN_INSTEAD = "enforcement"
"""The source an enterprise is shown for an accepted report: found by the supervisor (执法检查), as its
inspections find hazards, so the label itself does not tell a report apart."""
VERIFICATION_STEPS = frozenset({"Task_DepartmentVerify"})
"""The department's verification of a closure (部门验收) in bpmn/hazard_lifecycle.bpmn, and so the
boundary timers attached to it: the department that found the hazard verifies it."""
REPORT_STEPS = frozenset({"Service_TriageDue", "Task_Triage", "Timer_TriageOverdue", "Task_RewardDecision"})
"""The steps of bpmn/hazard_lifecycle.bpmn that exist only for a report: triage, its deadline, the reward."""


def role_of_lane(lane: str, extra: dict[str, str] | None = None) -> str:
    """The role acting in a lane (built-in names, then those given when the model was deployed)."""
    mapping = {**LANE_ROLES, **(extra or {})}
    try:
        return mapping[lane]
    except KeyError:
        raise InvalidInputError(f"lane {lane!r} maps to no role; known lanes: {sorted(mapping)}") from None


def acting_organisation_id(session: Session, role: str, enterprise: Organisation, *,
                           hazard: Hazard | None = None, step: str | None = None) -> int:
    """The organisation whose users act for `role` at `step` (a BPMN id) on a record of `enterprise`.

    A department's step is the lead department's, but the verification (`VERIFICATION_STEPS`) of a
    `hazard` a department found belongs to that department while it still supervises the enterprise:
    the one whose enforcement inspection found it, else the one whose staff reported it. Without a
    lead department (or town) the office acts.
    """
    if role == "enterprise":
        return enterprise.id
    if role == "town" and enterprise.town_id is not None:
        return enterprise.town_id
    if role == "department":
        department = None
        if hazard is not None and step in VERIFICATION_STEPS:
            department = _finding_department(session, hazard)
        if department is None:
            department = session.connection().execute(_LEAD_DEPARTMENT, {"id": enterprise.id}).scalar()
        if department is not None:
            return int(department)
    return office_id(session)


_LEAD_DEPARTMENT = select(Supervision.department_id).where(Supervision.enterprise_id == bindparam("id"),
                                                           Supervision.is_lead.is_(True))
_INSPECTING_DEPARTMENT = (select(Inspection.department_id)
                          .join(Supervision, and_(Supervision.enterprise_id == Inspection.enterprise_id,
                                                  Supervision.department_id == Inspection.department_id))
                          .where(Inspection.id == bindparam("id")))
_REPORTING_DEPARTMENT = (select(User.organisation_id)
                         .join(Supervision, and_(Supervision.enterprise_id == bindparam("enterprise"),
                                                 Supervision.department_id == User.organisation_id))
                         .where(User.id == bindparam("user"), User.role == "department"))
"""Built once; run on the connection (no ORM flush first) for every new department task."""


def _finding_department(session: Session, hazard: Hazard) -> int | None:
    """The supervising department that found `hazard`: its inspection's, else its reporter's (None: neither)."""
    connection = session.connection()
    if hazard.inspection_id is not None:
        found = connection.execute(_INSPECTING_DEPARTMENT, {"id": hazard.inspection_id}).scalar()
        if found is not None:
            return int(found)
    if hazard.reported_by_id is None:
        return None
    found = connection.execute(_REPORTING_DEPARTMENT, {"user": hazard.reported_by_id,
                                                       "enterprise": hazard.enterprise_id}).scalar()
    return None if found is None else int(found)


def supervised_by(department_id: Any) -> Select:
    """The ids of the enterprises a department supervises, as lead or not."""
    return select(Supervision.enterprise_id).where(Supervision.department_id == department_id)


def office_id(session: Session) -> int:
    """The safety committee office (安委办): there is one per zone."""
    office = session.scalar(select(Organisation.id).where(Organisation.kind == "office").limit(1))
    if office is None:
        raise InvalidInputError("no safety committee office (安委办) is set up")
    return office


def visible_hazards(query: Select, user: User) -> Select:
    """Limit a query over hazards to those `user` may see (an enterprise: not a report triage has not accepted)."""
    query = visible_by_enterprise(query, user, Hazard.enterprise_id)
    if _shielded_from_reports(user):
        query = query.where(not_(and_(Hazard.source.in_(PUBLIC_SOURCES), Hazard.status.in_(UNCONFIRMED_STATUSES))))
    return query


def _shielded_from_reports(user: User) -> bool:
    """Whether `user` belongs to an enterprise, which reports about it must not reach."""
    return user.role == "enterprise"


def source_shown_to(user: User, hazard: Hazard) -> str:
    """The source code `user` is told for `hazard` (an enterprise never learns of a report)."""
    return source_shown_to_enterprise(hazard) if _shielded_from_reports(user) else hazard.source


def source_shown_to_enterprise(hazard: Hazard) -> str:
    """The source code the enterprise is told (and what a document addressed to it prints, whoever prints it)."""
    return SOURCE_SHOWN_INSTEAD if hazard.source in PUBLIC_SOURCES else hazard.source


def sources_offered_to(user: User, sources: dict[str, str]) -> dict[str, str]:
    """The sources `user` may filter by: an enterprise is not offered the report sources it never sees."""
    if _shielded_from_reports(user):
        return {code: name for code, name in sources.items() if code not in PUBLIC_SOURCES}
    return sources


def source_is(user: User, source: str) -> ColumnElement[bool]:
    """The condition "the hazard's source, as `user` is told it, is `source`" (for filters)."""
    if not _shielded_from_reports(user):
        return Hazard.source == source
    if source in PUBLIC_SOURCES:
        return false()
    if source == SOURCE_SHOWN_INSTEAD:
        return Hazard.source.in_((source, *PUBLIC_SOURCES))
    return Hazard.source == source


def steps_hidden_from(user: User, hazard: Hazard) -> frozenset[str]:
    """The steps of `hazard` that `user` must not see (those of a report, for the enterprise)."""
    if _shielded_from_reports(user) and hazard.source in PUBLIC_SOURCES:
        return REPORT_STEPS
    return frozenset()


def steps_shown_to(user: User, hazard: Hazard) -> ColumnElement[bool]:
    """The condition selecting the inbox rows of `hazard` that `user` may see (open steps, the diagram)."""
    return and_(InboxTask.hazard_id == hazard.id, InboxTask.bpmn_id.not_in(sorted(steps_hidden_from(user, hazard))))


def history_shown_to(user: User, hazard: Hazard, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The history entries of `hazard` that `user` may read: without the report and its triage or reward
    for the enterprise (they carry the true source, opinions naming the reporter, the reward)."""
    hidden = steps_hidden_from(user, hazard)
    if not hidden:
        return list(entries)
    return [e for e in entries if e.action != "report_hazard"
            and (e.detail or {}).get("task", (e.detail or {}).get("timer")) not in hidden]


_VISIBLE_ENTERPRISE = Organisation.__table__.alias("visible_enterprise")
"""Built once: an alias builds a proxy of every column of organisations when first read (~1 ms a query)."""


def visible_by_enterprise(query: Select, user: User, enterprise_id: Any) -> Select:
    """Limit a query over records of enterprises (column `enterprise_id`) to those `user` may see:
    an enterprise its own, a town its territory, a department those it supervises, the office all."""
    if user.role == "office":
        return query
    if user.role == "enterprise":
        return query.where(enterprise_id == user.organisation_id)
    if user.role == "town":
        return query.join(_VISIBLE_ENTERPRISE, _VISIBLE_ENTERPRISE.c.id == enterprise_id).where(
            _VISIBLE_ENTERPRISE.c.town_id == user.organisation_id)
    return query.where(enterprise_id.in_(supervised_by(user.organisation_id)))


def may_act(user: User, task: InboxTask) -> bool:
    """Whether `user` may complete `task`: right role, right organisation, not assigned to another."""
    return (user.active and task.role == user.role and task.organisation_id == user.organisation_id
            and (task.assignee_id is None or task.assignee_id == user.id))


def may_report_for(session: Session, user: User, enterprise: Organisation) -> bool:
    """Whether `user` may report a hazard of `enterprise`."""
    if user.role == "office":
        return True
    if user.role == "enterprise":
        return user.organisation_id == enterprise.id
    if user.role == "town":
        return enterprise.town_id == user.organisation_id
    return user.role == "department" and session.get(Supervision, (enterprise.id, user.organisation_id)) is not None


def reportable_enterprises(session: Session, user: User | None, active_only: bool = True) -> list[tuple[int, str]]:
    """The enterprises (id, name) `user` may report for, by name (None: the public, who may name any);
    closed or merged ones only when not `active_only`, as nothing new is reported of them."""
    query = select(Organisation.id, Organisation.name).where(Organisation.kind == "enterprise")
    if active_only:
        query = query.where(Organisation.status == "active")
    if user is not None:
        query = visible_by_enterprise(query, user, Organisation.id)
    return [(row.id, row.name) for row in session.execute(query.order_by(Organisation.name))]


def public_enterprise_choices(session: Session, text: str = "") -> list[tuple[int, str, str]]:
    """The active enterprises (id, name, pinyin initials) the public may report, those whose name or
    initials contain `text` when it is given (as people type on a phone to find one among hundreds)."""
    query = select(Organisation.id, Organisation.name, Organisation.name_initials).where(
        Organisation.kind == "enterprise", Organisation.status == "active")
    if lowered := text.strip().lower()[:60]:
        query = query.where(or_(func.lower(Organisation.name).contains(lowered, autoescape=True),
                                Organisation.name_initials.contains(lowered, autoescape=True)))
    return [(row.id, row.name, row.name_initials or "") for row in session.execute(query.order_by(Organisation.name))]
