"""Reading enforcement inspections: who sees which, one inspection with what it found and decided,
and what the inspection form offers (the enterprises a department may inspect, the major hazards
the enterprise reported itself that an inspector may acknowledge)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..store.models import AuditEntry, Hazard, Inspection, LiaisonAssignment, Organisation, Penalty, User
from .enforcement import SELF_REPORTED
from .errors import NotFoundError, PermissionDeniedError
from .penalties import for_inspection
from .roles import supervised_by, visible_by_enterprise, visible_hazards

MAX_LISTED = 500


def visible_inspections(query: Select, user: User) -> Select:
    """Limit a query over inspections: a department its own, the office all, a town its territory's,
    an enterprise those of itself."""
    if user.role == "department":
        return query.where(Inspection.department_id == user.organisation_id)
    return visible_by_enterprise(query, user, Inspection.enterprise_id)


@dataclass(frozen=True)
class InspectionRow:
    """One line of the inspections list."""

    inspection: Inspection
    enterprise_name: str
    department_name: str
    hazards: int
    penalties: int


def list_inspections(session: Session, user: User, enterprise_id: int | None = None) -> list[InspectionRow]:
    """The inspections `user` may see, newest first (at most MAX_LISTED)."""
    enterprise, department = aliased(Organisation), aliased(Organisation)
    hazards = select(func.count(Hazard.id)).where(Hazard.inspection_id == Inspection.id).scalar_subquery()
    penalties = select(func.count(Penalty.id)).where(Penalty.inspection_id == Inspection.id).scalar_subquery()
    query = (select(Inspection, enterprise.name, department.name, hazards, penalties)
             .join(enterprise, enterprise.id == Inspection.enterprise_id)
             .join(department, department.id == Inspection.department_id))
    if enterprise_id is not None:
        query = query.where(Inspection.enterprise_id == enterprise_id)
    query = visible_inspections(query, user).order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
    return [InspectionRow(*row) for row in session.execute(query.limit(MAX_LISTED))]


@dataclass(frozen=True)
class InspectionFile:
    """One inspection as its page shows it."""

    inspection: Inspection
    enterprise: Organisation
    department_name: str
    recorded_by: str
    found: list[Hazard]
    acknowledged: list[Hazard]
    penalties: list[Penalty]
    liaison_team: str | None


def get_inspection(session: Session, user: User, inspection_id: int) -> InspectionFile:
    """One inspection `user` may see, with the hazards it found or acknowledged (those `user` may see),
    its penalties and the department's liaison team that year; any other id is not found."""
    inspection = session.scalar(visible_inspections(select(Inspection), user).where(Inspection.id == inspection_id))
    if inspection is None:
        raise NotFoundError(f"inspection {inspection_id} not found")
    enterprise = session.get(Organisation, inspection.enterprise_id)
    department = session.get(Organisation, inspection.department_id)
    recorder = session.get(User, inspection.recorded_by_id)
    assert enterprise is not None and department is not None and recorder is not None
    shown = visible_hazards(select(Hazard), user).order_by(Hazard.id)
    found = list(session.scalars(shown.where(Hazard.inspection_id == inspection.id)))
    acknowledged = list(session.scalars(shown.where(Hazard.id.in_(_acknowledged_ids(session, inspection.id)))))
    team = session.scalar(select(LiaisonAssignment.team).where(
        LiaisonAssignment.enterprise_id == inspection.enterprise_id,
        LiaisonAssignment.department_id == inspection.department_id,
        LiaisonAssignment.year == inspection.inspected_on.year))
    return InspectionFile(inspection, enterprise, department.name, recorder.display_name, found, acknowledged,
                          for_inspection(session, inspection.id), team)


def _acknowledged_ids(session: Session, inspection_id: int) -> list[int]:
    """The self-reported major hazards the inspection recorded as not penalised (kept in its audit record)."""
    detail = session.scalar(select(AuditEntry.detail).where(
        AuditEntry.object_type == "inspection", AuditEntry.object_id == str(inspection_id),
        AuditEntry.action == "record_inspection"))
    return [int(i) for i in (detail or {}).get("not_penalised", [])]


def inspectable_enterprises(session: Session, user: User, text: str = "") -> list[tuple[int, str]]:
    """The active enterprises a department supervises (id, name), by name; `text` matches the name or its
    pinyin initials (as the enterprise list does). Nobody else inspects."""
    if user.role != "department":
        raise PermissionDeniedError("执法检查由监管部门记录")
    query = select(Organisation.id, Organisation.name).where(
        Organisation.kind == "enterprise", Organisation.status == "active",
        Organisation.id.in_(supervised_by(user.organisation_id)))
    if text.strip():
        lowered = text.strip().lower()
        query = query.where(or_(func.lower(Organisation.name).contains(lowered, autoescape=True),
                                Organisation.name_initials.contains(lowered, autoescape=True)))
    return [(row.id, row.name) for row in session.execute(query.order_by(Organisation.name))]


def self_reported_open_majors(session: Session, enterprise_ids: list[int]) -> list[Hazard]:
    """Open major hazards these enterprises reported themselves: what an inspection may acknowledge."""
    return list(session.scalars(select(Hazard).where(
        Hazard.enterprise_id.in_(enterprise_ids), Hazard.level == "major", Hazard.source.in_(SELF_REPORTED),
        Hazard.status.not_in(("closed", "rejected"))).order_by(Hazard.enterprise_id, Hazard.id)))


def teams_of(session: Session, user: User, year: int) -> dict[int, str]:
    """enterprise id → the liaison team of `user`'s department in `year` (to prefill the form)."""
    return dict(session.execute(select(LiaisonAssignment.enterprise_id, LiaisonAssignment.team).where(
        LiaisonAssignment.department_id == user.organisation_id, LiaisonAssignment.year == year)).all())
