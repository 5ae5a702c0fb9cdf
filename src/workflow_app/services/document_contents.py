"""What each printable document says, read from its record as plain data (reports/documents.py lays it out).

Every document is addressed to the enterprise, whoever prints it: a hazard reported by the public
or an insider shows the source the enterprise is told (roles.source_shown_to_enterprise), and no
reporter's name, triage or reward is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import Hazard, InboxTask, Inspection, Organisation, Penalty, SupervisionListing
from .documents import DEPARTMENT_VERIFY, VERIFY_STEPS, latest_verification
from .errors import NotFoundError
from .review_facts import RECTIFY_STEPS, last_submission
from .roles import source_shown_to_enterprise


@dataclass(frozen=True)
class HazardFacts:
    """One hazard as a document names it."""

    id: int
    code: str
    title: str
    level: str
    source: str  # as the enterprise is told it
    location: str
    description: str
    found_on: date
    deadline: date | None  # the rectification deadline, or the due date of its open step (the plan) if none yet


@dataclass(frozen=True)
class PenaltyFacts:
    """A penalty decided on an inspection's findings."""

    case_number: str
    kind: str
    target: str  # unit | principal
    target_name: str
    legal_basis: str
    amount: float | None


@dataclass(frozen=True)
class Rectification:
    """What the enterprise reported when it finished rectifying."""

    result: str
    rectified_on: str
    cost: Any  # 万元, as submitted (None when not given)


@dataclass(frozen=True)
class Verification:
    """A verification (验收) of the rectification, as signed."""

    unit: str
    passed: bool
    opinion: str
    signature: str
    verified_at: datetime
    new_deadline: str | None  # a failed one sets a new rectification deadline


@dataclass(frozen=True)
class Plan:
    """The rectification plan's five in place (五落实)."""

    responsible_person: str | None
    measures: str | None
    funds: Any
    deadline: date | None
    emergency_plan: str | None


@dataclass(frozen=True)
class RectificationOrder:
    """责令限期整改指令书: an inspection's findings and the order to rectify them by their deadlines."""

    enterprise: str
    enterprise_address: str | None
    department: str
    team: str
    inspected_on: date
    findings: str
    hazards: list[HazardFacts]
    penalties: list[PenaltyFacts]
    record: tuple[str, int]  # the page the document links to: ("inspection" | "hazard", id)


@dataclass(frozen=True)
class ReinspectionOpinion:
    """整改复查意见书: a department's verification of one hazard's rectification."""

    enterprise: str
    hazard: HazardFacts
    rectification: Rectification | None
    verification: Verification
    record: tuple[str, int]


@dataclass(frozen=True)
class CloseoutSlip:
    """隐患验收销号单: a closed hazard, its plan, rectification, verification and close."""

    enterprise: str
    hazard: HazardFacts
    plan: Plan
    rectification: Rectification | None
    verification: Verification
    closed_at: datetime
    record: tuple[str, int]


@dataclass(frozen=True)
class ListingNotice:
    """挂牌督办通知书: the office lists a major hazard for supervision."""

    enterprise: str
    hazard: HazardFacts
    supervising_unit: str
    deadline: date | None
    stop_production: bool
    opinion: str | None
    listed_at: datetime | None
    record: tuple[str, int]


def _name(session: Session, organisation_id: int) -> str:
    organisation = session.get(Organisation, organisation_id)
    assert organisation is not None
    return organisation.name


def _hazard_facts(session: Session, hazard: Hazard) -> HazardFacts:
    deadline = hazard.rectification_deadline or session.scalar(
        select(func.min(InboxTask.due_on)).where(InboxTask.hazard_id == hazard.id, InboxTask.completed_at.is_(None)))
    return HazardFacts(hazard.id, hazard.code, hazard.title, hazard.level, source_shown_to_enterprise(hazard),
                       hazard.location, hazard.description, hazard.found_on, deadline)


def _rectification(session: Session, hazard_id: int, as_of: datetime) -> Rectification | None:
    data = last_submission(session, hazard_id, RECTIFY_STEPS, as_of)
    if data is None:
        return None
    return Rectification(str(data.get("rectification_result") or data.get("rectification_measures") or ""),
                         str(data.get("rectified_on") or ""), data.get("rectification_cost"))


def _verification(session: Session, hazard: Hazard, steps: tuple[str, ...], as_of: datetime) -> Verification:
    step = latest_verification(session, hazard.id, steps, as_of)
    data = last_submission(session, hazard.id, steps, as_of)
    if step is None or data is None:
        raise NotFoundError(f"hazard {hazard.id} has no verification")
    return Verification(_name(session, step.organisation_id), data.get("verification_result") == "passed",
                        str(data.get("verification_opinion") or ""), str(data.get("verifier_signature") or ""),
                        data["_at"], data.get("rectification_deadline") if data.get("verification_result") == "failed"
                        else None)


def rectification_order(session: Session, inspection_id: int, as_of: datetime) -> RectificationOrder:
    """The order's content from an inspection (the deadlines as they stand now, extensions included)."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFoundError(f"inspection {inspection_id} not found")
    found = session.scalars(select(Hazard).where(Hazard.inspection_id == inspection.id).order_by(Hazard.id))
    penalties = session.scalars(select(Penalty).where(Penalty.inspection_id == inspection.id).order_by(Penalty.id))
    enterprise = session.get(Organisation, inspection.enterprise_id)
    assert enterprise is not None
    return RectificationOrder(
        enterprise.name, enterprise.address, _name(session, inspection.department_id), inspection.team,
        inspection.inspected_on, inspection.findings, [_hazard_facts(session, h) for h in found],
        [PenaltyFacts(p.case_number, p.kind, p.target, p.target_name, p.legal_basis,
                      float(p.amount) if p.amount is not None else None) for p in penalties],
        ("inspection", inspection.id))


def _hazard(session: Session, hazard_id: int) -> Hazard:
    hazard = session.get(Hazard, hazard_id)
    if hazard is None:
        raise NotFoundError(f"hazard {hazard_id} not found")
    return hazard


def reinspection_opinion(session: Session, hazard_id: int, as_of: datetime) -> ReinspectionOpinion:
    """The opinion's content from a hazard a department verified: its latest verification when the opinion
    was issued (`as_of`), so a later verification does not rewrite an opinion already handed out."""
    hazard = _hazard(session, hazard_id)
    return ReinspectionOpinion(hazard.enterprise.name, _hazard_facts(session, hazard),
                               _rectification(session, hazard.id, as_of),
                               _verification(session, hazard, (DEPARTMENT_VERIFY,), as_of), ("hazard", hazard.id))


def closeout_slip(session: Session, hazard_id: int, as_of: datetime) -> CloseoutSlip:
    """The slip's content from a closed hazard."""
    hazard = _hazard(session, hazard_id)
    if hazard.closed_at is None:
        raise NotFoundError(f"hazard {hazard_id} is not closed")
    plan = Plan(hazard.responsible_person, hazard.rectification_measures, hazard.rectification_funds,
                hazard.rectification_deadline, hazard.emergency_plan)
    return CloseoutSlip(hazard.enterprise.name, _hazard_facts(session, hazard), plan,
                        _rectification(session, hazard.id, as_of), _verification(session, hazard, VERIFY_STEPS, as_of),
                        hazard.closed_at, ("hazard", hazard.id))


def listing_notice(session: Session, listing_id: int, as_of: datetime) -> ListingNotice:
    """The notice's content from a supervision listing the office decided."""
    listing = session.get(SupervisionListing, listing_id)
    if listing is None or listing.supervising_unit_id is None:
        raise NotFoundError(f"no listed supervision {listing_id}")
    hazard = _hazard(session, listing.hazard_id)
    return ListingNotice(hazard.enterprise.name, _hazard_facts(session, hazard),
                         _name(session, listing.supervising_unit_id), listing.deadline, listing.stop_production,
                         listing.decision_opinion, listing.decided_at, ("hazard", hazard.id))


Content = RectificationOrder | ReinspectionOpinion | CloseoutSlip | ListingNotice
CONTENTS: dict[str, Callable[[Session, int, datetime], Content]] = {
    "rectification_order": rectification_order, "reinspection_opinion": reinspection_opinion,
    "closeout_slip": closeout_slip, "listing_notice": listing_notice}
"""Each kind's content from its record's id, as it stood when the document was issued where that matters."""
