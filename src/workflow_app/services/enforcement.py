"""Enforcement inspections (部门精准执法) by liaison teams, and what they find.

Each supervising department has one liaison team (包联执法组) per enterprise for the whole year
(plan: "针对同一家企业的所有执法检查均由同一个执法工作组承担"): the department's first inspection of
the year assigns it, and an inspection by another team of that department is refused; another
supervising department has its own team. Hazards found enter
the hazard loop with source "enforcement"; a major one the enterprise had not reported is
flagged for 一案双罚 (penalising the enterprise and its responsible people), while a major
hazard the enterprise found and reported itself and is actively rectifying is recorded as not
penalised (不予处罚, see `_acknowledge`); any other is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Hazard, Inspection, LiaisonAssignment, Organisation, User
from . import audit, inspection_plans
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .hazards import report_hazard
from .roles import may_report_for
from .vocabulary import STATUSES

SELF_REPORTED = ("self_inspection", "lesson_learned")
"""Sources of a hazard the enterprise found itself (自查, 举一反三). A whistleblower's or the public's report is
someone else's finding, an enforcement inspection the department's: neither earns 不予处罚."""
ACTIVELY_RECTIFYING = ("rectifying", "extension_review", "verifying")
"""Statuses of a hazard whose plan is made and being carried out (正在采取有效措施消除): the department approved
the plan and the enterprise is rectifying (rectifying; extension_review, as an extension is asked before the
deadline, by an enterprise still at work), or has rectified and awaits verification (verifying). Not before:
awaiting_plan has no plan, plan_review a plan not yet approved and so not yet carried out; pending_triage and
reported are reports nobody has confirmed; closed and rejected are no longer hazards to rectify."""
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
        raise NotFoundError("没有该企业")
    if actor.role != "department" or not may_report_for(session, actor, enterprise):
        raise PermissionDeniedError("只有监管该企业的部门可以对其执法检查")
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
    """Record as not penalised (不予处罚) a major hazard the enterprise found and reported itself and is actively
    rectifying; refuse any other, naming why.

    The plan (campaign-plan-2023.zh.txt, 二(二)3): "对企业自查查出的重大事故隐患，已按规定报告并正在采取有效
    措施消除的，依法不予行政处罚". Found by the enterprise: `SELF_REPORTED`; reported: it is in the ledger;
    being eliminated: `ACTIVELY_RECTIFYING`.
    """
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or hazard.enterprise_id != enterprise.id:
        raise InvalidInputError(f"{enterprise.name} 没有编号为 {hazard_id} 的隐患")
    if hazard.level != "major":
        raise InvalidInputError(f"{hazard.code} 不是重大事故隐患，不适用自查自报不予处罚")
    if hazard.source not in SELF_REPORTED:
        raise InvalidInputError(f"{hazard.code} 不是企业自查发现并报告的隐患（由举报或执法检查发现），"
                                "不能认定为自查自报不予处罚")
    if hazard.status not in ACTIVELY_RECTIFYING:
        raise InvalidInputError(f"{hazard.code} 当前为“{STATUSES.get(hazard.status, hazard.status)}”，"
                                "不是正在按经审核的治理方案整改，不能认定为自查自报不予处罚")
    hazard.penalty = "not_penalised"
    return hazard.id
