"""Who acts on a task and who may see a hazard.

Lanes in the BPMN name roles; the organisation that must act follows from the hazard:
the enterprise itself, the department supervising its sector, its town, or the office.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from ..store.models import Hazard, InboxTask, Organisation, Sector, User
from .errors import InvalidInputError

LANE_ROLES = {"企业": "enterprise", "监管部门": "department", "镇街": "town", "安委办": "office"}
"""BPMN lane name → the role whose users act on tasks in that lane."""

ROLES = ("enterprise", "department", "town", "office")


def role_of_lane(lane: str, extra: dict[str, str] | None = None) -> str:
    """The role acting in a lane (built-in names, then those given when the model was deployed)."""
    mapping = {**LANE_ROLES, **(extra or {})}
    try:
        return mapping[lane]
    except KeyError:
        raise InvalidInputError(f"lane {lane!r} maps to no role; known lanes: {sorted(mapping)}") from None


def acting_organisation_id(session: Session, role: str, enterprise: Organisation) -> int:
    """The organisation whose users act for `role` on a hazard of `enterprise`."""
    if role == "enterprise":
        return enterprise.id
    if role == "town" and enterprise.town_id is not None:
        return enterprise.town_id
    if role == "department" and enterprise.sector_code:
        department = session.connection().execute(_DEPARTMENT_OF_SECTOR, {"code": enterprise.sector_code}).scalar()
        if department is not None:
            return int(department)
    return office_id(session)


_DEPARTMENT_OF_SECTOR = select(Sector.department_id).where(Sector.code == bindparam("code"))
"""Built once; run on the connection (no ORM flush first) for every new department task."""


def office_id(session: Session) -> int:
    """The safety committee office (安委办): there is one per zone."""
    office = session.scalar(select(Organisation.id).where(Organisation.kind == "office").limit(1))
    if office is None:
        raise InvalidInputError("no safety committee office (安委办) is set up")
    return office


def visible_hazards(query: Select, user: User) -> Select:
    """Limit a query over hazards to those `user` may see."""
    return visible_by_enterprise(query, user, Hazard.enterprise_id)


def visible_by_enterprise(query: Select, user: User, enterprise_id: Any) -> Select:
    """Limit a query over records of enterprises (column `enterprise_id`) to those `user` may see:
    an enterprise its own, a town its territory, a department its sectors, the office all."""
    if user.role == "office":
        return query
    enterprise = Organisation.__table__.alias("visible_enterprise")
    query = query.join(enterprise, enterprise.c.id == enterprise_id)
    if user.role == "enterprise":
        return query.where(enterprise_id == user.organisation_id)
    if user.role == "town":
        return query.where(enterprise.c.town_id == user.organisation_id)
    supervised = select(Sector.code).where(Sector.department_id == user.organisation_id)
    return query.where(enterprise.c.sector_code.in_(supervised))


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
    sector = session.get(Sector, enterprise.sector_code) if enterprise.sector_code else None
    return sector is not None and sector.department_id == user.organisation_id
