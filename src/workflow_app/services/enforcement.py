"""Enforcement inspections (部门精准执法) by liaison teams, and what they find.

Each supervising department has one liaison team (包联执法组) per enterprise for the whole year
(plan: "针对同一家企业的所有执法检查均由同一个执法工作组承担"): the department's first inspection of
the year assigns it, and an inspection by another team of that department is refused; another
supervising department has its own team. Hazards found enter
the hazard loop with source "enforcement"; a major one the enterprise had not reported is
flagged for 一案双罚 (penalising the enterprise and its responsible people), while a major
hazard the enterprise reported itself and is rectifying is recorded as not penalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Hazard, Inspection, LiaisonAssignment, Organisation, User
from . import audit, inspection_plans
from .errors import InvalidInputError, PermissionDeniedError
from .hazards import report_hazard
from .roles import may_report_for

SELF_REPORTED = ("self_inspection", "whistleblower", "lesson_learned")
TEAM_LENGTH = 100
"""The longest liaison team name stored (inspections.team, liaison_assignments.team)."""
INSPECTORS_LENGTH = 200


@dataclass(frozen=True)
class InspectionResult:
    """The inspection and the hazards it found or acknowledged."""

    inspection_id: int
    new_hazard_ids: list[int]
    double_penalty: list[int]
    not_penalised: list[int]


def record_inspection(session: Session, actor: User, enterprise_id: int, team: str, inspected_on: date,
                      findings: str, found: list[dict[str, Any]], self_reported_ids: list[int],
                      now: datetime, inspectors: str = "") -> InspectionResult:
    """Record an inspection of an enterprise by the actor's department (one transaction); `inspectors`
    names the officers who inspected (谁检查、谁签名)."""
    enterprise = session.get(Organisation, enterprise_id)
    if enterprise is None or enterprise.kind != "enterprise":
        raise InvalidInputError(f"no enterprise with id {enterprise_id}")
    if actor.role != "department" or not may_report_for(session, actor, enterprise):
        raise PermissionDeniedError("only a department supervising this enterprise inspects it")
    team = team.strip()
    if not team or not findings.strip():
        raise InvalidInputError("须填写包联执法组和检查情况")
    if len(team) > TEAM_LENGTH or len(inspectors.strip()) > INSPECTORS_LENGTH:
        raise InvalidInputError(f"包联执法组名称不超过 {TEAM_LENGTH} 个字，检查人员不超过 {INSPECTORS_LENGTH} 个字")
    _check_liaison(session, actor, enterprise, team, inspected_on.year)
    inspection = Inspection(enterprise_id=enterprise.id, department_id=actor.organisation_id, team=team,
                            inspected_on=inspected_on, inspectors=inspectors.strip() or None,
                            findings=findings.strip(), recorded_by_id=actor.id, recorded_at=now)
    session.add(inspection)
    session.flush()
    inspection_plans.fulfil(session, inspection)
    acknowledged = [_acknowledge(session, enterprise, hazard_id, inspection) for hazard_id in self_reported_ids]
    new_ids, flagged = [], []
    for data in found:
        reported = report_hazard(session, actor, enterprise.id,
                                 {"found_on": inspected_on.isoformat(), **data, "source": "enforcement"}, now)
        hazard = session.get(Hazard, reported.hazard_id)
        assert hazard is not None
        hazard.inspection_id = inspection.id
        if hazard.level == "major":
            hazard.penalty = "double_penalty"
            flagged.append(hazard.id)
        new_ids.append(hazard.id)
    audit.record(session, actor, "record_inspection", "inspection", inspection.id,
                 {"enterprise": enterprise.name, "team": team, "inspectors": inspection.inspectors,
                  "on": inspected_on.isoformat(), "found": new_ids, "double_penalty": flagged,
                  "not_penalised": acknowledged}, now)
    return InspectionResult(inspection.id, new_ids, flagged, acknowledged)


def _check_liaison(session: Session, actor: User, enterprise: Organisation, team: str, year: int) -> None:
    """The department's first inspection of the enterprise in `year` assigns its team; another team is refused."""
    assignment = session.scalar(select(LiaisonAssignment).where(
        LiaisonAssignment.enterprise_id == enterprise.id, LiaisonAssignment.year == year,
        LiaisonAssignment.department_id == actor.organisation_id))
    if assignment is None:
        session.add(LiaisonAssignment(enterprise_id=enterprise.id, year=year, department_id=actor.organisation_id,
                                      team=team))
    elif assignment.team != team:
        raise InvalidInputError(f"{enterprise.name} {year} 年度由本部门包联执法组“{assignment.team}”负责检查，"
                                f"不能由“{team}”检查")


def _acknowledge(session: Session, enterprise: Organisation, hazard_id: int, inspection: Inspection) -> int:
    """A major hazard the enterprise reported itself and is rectifying: recorded as not penalised."""
    hazard = session.get(Hazard, hazard_id)
    if (hazard is None or hazard.enterprise_id != enterprise.id or hazard.level != "major"
            or hazard.source not in SELF_REPORTED or hazard.status in ("closed", "rejected")):
        raise InvalidInputError(f"hazard {hazard_id} is not an open major hazard {enterprise.name} reported itself")
    hazard.penalty = "not_penalised"
    return hazard.id
