"""Listing major hazards for supervision (挂牌督办): a department proposes, the office decides.

A department supervising the enterprise proposes listing an open, confirmed major hazard;
bpmn/supervision_listing.bpmn then runs the office's decision (supervising unit, deadline,
whether production stops), the deadline's reminders and escalation, the supervising unit's
re-inspection once the hazard is closed (摘牌复查) and, where production stopped, the office's
approval to resume it (恢复生产). A hazard has at most one active (proposed or listed) listing;
a refused one may be proposed again.

The re-inspection task opens as soon as the hazard is listed (its boundary timers carry the
deadline) and refuses to pass while the hazard is open: the listing reads the hazard's status
when the department acts, so the hazard's own process needs no link to the listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..engine import ProcessInstance
from ..store.models import Hazard, Organisation, ProcessInstanceRow, Supervision, SupervisionListing, User
from . import audit
from .errors import InvalidInputError, NotFoundError, PermissionDeniedError
from .hazards import get_hazard
from .instances import apply_step
from .listing_subject import ListingSubject
from .model_registry import latest_version, process_model
from .roles import UNCONFIRMED_STATUSES, visible_by_enterprise

LISTING_PROCESS = "supervision_listing"
ACTIVE = ("proposed", "listed")
"""A hazard has at most one listing in these states."""
SHOWN_TO_ENTERPRISE = ("listed", "delisted")
"""An enterprise learns of a listing once the office lists it (the 督办通知书), never of a proposal or refusal."""
NOT_LISTABLE = ("closed", *UNCONFIRMED_STATUSES)


def propose(session: Session, actor: User, hazard_id: int, reason: str, now: datetime) -> SupervisionListing:
    """A supervising department proposes listing a major hazard; the office's decision task opens.

    The hazard row is locked first, so two departments proposing at once cannot both succeed.
    """
    if actor.role != "department":
        raise PermissionDeniedError("只有监管部门可以提议挂牌督办")
    hazard = get_hazard(session, actor, hazard_id)
    if session.get(Supervision, (hazard.enterprise_id, actor.organisation_id)) is None:
        raise PermissionDeniedError("只有监管该企业的部门可以提议挂牌督办")
    session.execute(select(Hazard.id).where(Hazard.id == hazard.id).with_for_update())
    if hazard.level != "major":
        raise InvalidInputError("只有重大事故隐患可以挂牌督办")
    if hazard.status in NOT_LISTABLE:
        raise InvalidInputError("隐患已销号或尚未确认，不能挂牌督办")
    if active_listing(session, hazard.id) is not None:
        raise InvalidInputError("该隐患已有提议中或挂牌中的督办，不能重复提议")
    version = latest_version(session, LISTING_PROCESS)
    instance, result = ProcessInstance.start(process_model(version), {"proposal_reason": reason}, now,
                                             {"hazard_id": hazard.id, "proposed_by": actor.id})
    row = ProcessInstanceRow(model_version=version, state=b"", status="running", started_at=now, updated_at=now)
    session.add(row)
    session.flush()
    listing = SupervisionListing(hazard=hazard, instance_id=row.id, status="proposed",
                                 proposing_department_id=actor.organisation_id, proposed_by_id=actor.id,
                                 proposed_at=now, proposal_reason=instance.data["proposal_reason"], updated_at=now)
    session.add(listing)
    session.flush()
    apply_step(session, row, instance, ListingSubject(listing), result, now, actor)
    audit.record(session, actor, "propose_listing", ListingSubject.audit_type, listing.id,
                 {"hazard": hazard.code, "reason": listing.proposal_reason}, now)
    return listing


def active_listing(session: Session, hazard_id: int) -> SupervisionListing | None:
    """The hazard's proposed or listed listing, if any."""
    return session.scalar(select(SupervisionListing).where(SupervisionListing.hazard_id == hazard_id,
                                                           SupervisionListing.status.in_(ACTIVE)))


def may_propose(session: Session, actor: User, hazard: Hazard) -> bool:
    """Whether the page offers `actor` to propose listing `hazard` (propose() checks again)."""
    return (actor.role == "department" and hazard.level == "major" and hazard.status not in NOT_LISTABLE
            and session.get(Supervision, (hazard.enterprise_id, actor.organisation_id)) is not None
            and active_listing(session, hazard.id) is None)


def _visible(query: Select, actor: User) -> Select:
    """Listings `actor` may see, loaded with what their pages show (hazard, enterprise, units)."""
    query = query.options(joinedload(SupervisionListing.hazard), joinedload(SupervisionListing.supervising_unit),
                          joinedload(SupervisionListing.proposing_department))
    query = visible_by_enterprise(query.join(Hazard, Hazard.id == SupervisionListing.hazard_id), actor,
                                  Hazard.enterprise_id)
    if actor.role == "enterprise":
        query = query.where(SupervisionListing.status.in_(SHOWN_TO_ENTERPRISE))
    return query


def listings_of(session: Session, actor: User, hazard: Hazard) -> list[SupervisionListing]:
    """The listings of a hazard `actor` may see, newest first."""
    query = _visible(select(SupervisionListing), actor).where(SupervisionListing.hazard_id == hazard.id)
    return list(session.scalars(query.order_by(SupervisionListing.id.desc())))


def list_listings(session: Session, actor: User, status: str = "", limit: int = 500) -> list[SupervisionListing]:
    """Listings `actor` may see (the office all, a department those of enterprises it supervises, an
    enterprise its own listed ones), optionally of one status; active ones first, then newest."""
    query = _visible(select(SupervisionListing), actor)
    if status:
        query = query.where(SupervisionListing.status == status)
    order = (SupervisionListing.status.not_in(ACTIVE), SupervisionListing.id.desc())
    return list(session.scalars(query.order_by(*order).limit(limit)))


def get_listing(session: Session, actor: User, listing_id: int) -> SupervisionListing:
    """One listing `actor` may see; any other id is simply not found."""
    listing = session.scalar(_visible(select(SupervisionListing), actor).where(SupervisionListing.id == listing_id))
    if listing is None:
        raise NotFoundError(f"listing {listing_id} not found")
    return listing


def candidate_units(session: Session, listing: SupervisionListing) -> list[tuple[int, str]]:
    """The departments (id, name) the office may name as supervising unit: those supervising the enterprise."""
    return [(unit_id, name) for unit_id, name in session.execute(
        select(Organisation.id, Organisation.name).join(Supervision, Supervision.department_id == Organisation.id)
        .where(Supervision.enterprise_id == listing.hazard.enterprise_id).order_by(Organisation.name))]


@dataclass(frozen=True)
class BulletinListings:
    """Section 五 of the monthly bulletin: listings still listed at the month's end, and those delisted in it."""

    listed: list[SupervisionListing]
    listed_total: int
    delisted: list[SupervisionListing]


def for_bulletin(session: Session, start: datetime, end: datetime, at_most: int) -> BulletinListings:
    """The listings listed before `end` and not delisted by then (by deadline), and those delisted in [start, end);
    at most `at_most` of each, with the number still listed."""
    still_listed = and_(SupervisionListing.status.in_(("listed", "delisted")), SupervisionListing.decided_at < end,
                        or_(SupervisionListing.delisted_at.is_(None), SupervisionListing.delisted_at >= end))
    listed = session.scalars(select(SupervisionListing).where(still_listed)
                             .order_by(SupervisionListing.deadline, SupervisionListing.id).limit(at_most))
    total = session.scalar(select(func.count(SupervisionListing.id)).where(still_listed)) or 0
    delisted = session.scalars(select(SupervisionListing).where(
        SupervisionListing.delisted_at >= start, SupervisionListing.delisted_at < end)
        .order_by(SupervisionListing.delisted_at).limit(at_most))
    return BulletinListings(list(listed), total, list(delisted))
