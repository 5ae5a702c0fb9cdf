"""Yearly inspection plans (双随机一公开): a department draws at random which of the enterprises it
supervises it inspects in a year, and which of its inspectors go to each.

Both pools (active enterprises it supervises, its active users, ids ascending) and the seed are
recorded, so the draw can be redone from them and shown identical. An inspection of a drawn
enterprise by that department in that year fulfils its entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, extract, select, true
from sqlalchemy.orm import Session

from ..store.models import Inspection, InspectionPlan, InspectionPlanEntry, Organisation, Supervision, User
from . import audit
from .draws import new_seed, pick
from .errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError

MAX_SAMPLE = 10_000
MAX_INSPECTORS = 10


@dataclass(frozen=True)
class Drawn:
    """What a draw gives: the enterprises, and for each (same order) its inspectors."""

    enterprises: list[int]
    inspectors: list[list[int]]


def draw_from(enterprise_pool: list[int], inspector_pool: list[int], size: int, per_enterprise: int,
              seed: int) -> Drawn:
    """The draw itself, a pure function of its inputs: enterprises first, then each one's inspectors."""
    rng = random.Random(seed)
    enterprises = pick(rng, enterprise_pool, size)
    return Drawn(enterprises, [pick(rng, inspector_pool, per_enterprise) for _ in enterprises])


def enterprise_pool(session: Session, department_id: int) -> list[int]:
    """The active enterprises the department supervises (lead or not), ids ascending."""
    return list(session.scalars(select(Organisation.id).join(Supervision, Supervision.enterprise_id == Organisation.id)
                                .where(Supervision.department_id == department_id, Organisation.kind == "enterprise",
                                       Organisation.status == "active").order_by(Organisation.id)))


def inspector_pool(session: Session, department_id: int) -> list[int]:
    """The department's active users (its enforcement officers), ids ascending."""
    return list(session.scalars(select(User.id).where(User.organisation_id == department_id, User.role == "department",
                                                      User.active.is_(True)).order_by(User.id)))


def draw_plan(session: Session, actor: User, year: int, size: int, per_enterprise: int, now: datetime,
              seed: int | None = None) -> InspectionPlan:
    """Draw the department's plan for `year` (one per department and year); the seed is random unless given."""
    if actor.role != "department":
        raise PermissionDeniedError("检查计划由监管部门制定")
    if not 2000 <= year <= 2100:
        raise InvalidInputError(f"年度无效：{year}")
    if not 1 <= size <= MAX_SAMPLE or not 1 <= per_enterprise <= MAX_INSPECTORS:
        raise InvalidInputError(f"抽取企业数须为 1-{MAX_SAMPLE}，每家企业检查人员数须为 1-{MAX_INSPECTORS}")
    if seed is not None and not 0 <= seed < 2**63:
        raise InvalidInputError("随机种子须为非负整数")
    department_id = actor.organisation_id
    if session.scalar(select(InspectionPlan.id).where(InspectionPlan.department_id == department_id,
                                                      InspectionPlan.year == year)) is not None:
        raise ConflictError(f"本部门 {year} 年度的双随机抽查计划已抽取")
    enterprises, inspectors = enterprise_pool(session, department_id), inspector_pool(session, department_id)
    if not enterprises or len(inspectors) < per_enterprise:
        raise InvalidInputError(f"无可抽取的企业，或执法人员少于 {per_enterprise} 名")
    chosen_seed = seed if seed is not None else new_seed()
    plan = InspectionPlan(department_id=department_id, year=year, seed=str(chosen_seed), sample_size=size,
                          per_enterprise=per_enterprise, enterprise_pool=enterprises, inspector_pool=inspectors,
                          drawn_at=now, drawn_by_id=actor.id)
    session.add(plan)
    session.flush()
    drawn = draw_from(enterprises, inspectors, size, per_enterprise, chosen_seed)
    done = _first_inspections(session, department_id, year)
    session.add_all(InspectionPlanEntry(plan_id=plan.id, enterprise_id=enterprise_id, inspectors=chosen,
                                        inspection_id=done.get(enterprise_id))
                    for enterprise_id, chosen in zip(drawn.enterprises, drawn.inspectors, strict=True))
    audit.record(session, actor, "draw_inspection_plan", "inspection_plan", plan.id,
                 {"year": year, "seed": str(chosen_seed), "size": size, "per_enterprise": per_enterprise,
                  "enterprise_pool": len(enterprises), "inspector_pool": len(inspectors),
                  "drawn": drawn.enterprises}, now)
    return plan


def _first_inspections(session: Session, department_id: int, year: int) -> dict[int, int]:
    """enterprise id → the department's first inspection of it in `year` (one made before the plan counts)."""
    rows = session.execute(select(Inspection.enterprise_id, Inspection.id).where(
        Inspection.department_id == department_id, extract("year", Inspection.inspected_on) == year)
        .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()))
    return dict(rows.all())


def fulfil(session: Session, inspection: Inspection) -> None:
    """Mark the plan entry this inspection carries out (its department, enterprise and year), if any is open."""
    entry = session.scalar(select(InspectionPlanEntry).join(InspectionPlan).where(
        InspectionPlan.department_id == inspection.department_id,
        InspectionPlan.year == inspection.inspected_on.year,
        InspectionPlanEntry.enterprise_id == inspection.enterprise_id,
        InspectionPlanEntry.inspection_id.is_(None)))
    if entry is not None:
        entry.inspection_id = inspection.id


def redraw_matches(plan: InspectionPlan, entries: list[InspectionPlanEntry]) -> bool:
    """Whether drawing again from the recorded pools, sizes and seed gives exactly the recorded entries."""
    again = draw_from(list(plan.enterprise_pool), list(plan.inspector_pool), plan.sample_size, plan.per_enterprise,
                      int(plan.seed))
    recorded = sorted(entries, key=lambda e: e.enterprise_id)
    return (again.enterprises == [e.enterprise_id for e in recorded]
            and again.inspectors == [list(e.inspectors) for e in recorded])


def _visible(actor: User) -> ColumnElement[bool]:
    if actor.role == "office":
        return true()
    if actor.role == "department":
        return InspectionPlan.department_id == actor.organisation_id
    raise PermissionDeniedError("检查计划仅供监管部门和安委办查看")


def plans(session: Session, actor: User) -> list[tuple[InspectionPlan, str]]:
    """The plans `actor` may read (a department its own, the office all), newest year first, with the department."""
    query = (select(InspectionPlan, Organisation.name)
             .join(Organisation, Organisation.id == InspectionPlan.department_id)
             .where(_visible(actor)).order_by(InspectionPlan.year.desc(), Organisation.name))
    return [(plan, name) for plan, name in session.execute(query)]


@dataclass(frozen=True)
class PlanEntryView:
    """One drawn enterprise as the plan page shows it."""

    entry: InspectionPlanEntry
    enterprise_name: str
    inspector_names: list[str]


def get_plan(session: Session, actor: User, plan_id: int) -> tuple[InspectionPlan, list[PlanEntryView]]:
    """One plan `actor` may read, with its entries by enterprise name; another's is not found."""
    plan = session.scalar(select(InspectionPlan).where(InspectionPlan.id == plan_id, _visible(actor)))
    if plan is None:
        raise NotFoundError(f"inspection plan {plan_id} not found")
    entries = list(session.execute(
        select(InspectionPlanEntry, Organisation.name)
        .join(Organisation, Organisation.id == InspectionPlanEntry.enterprise_id)
        .where(InspectionPlanEntry.plan_id == plan.id).order_by(Organisation.name, Organisation.id)))
    names = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({i for entry, _ in entries for i in entry.inspectors}))).all())
    return plan, [PlanEntryView(entry, name, [names.get(i, str(i)) for i in entry.inspectors])
                  for entry, name in entries]
