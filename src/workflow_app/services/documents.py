"""Issuing the printable enforcement documents (文书) and who may read them.

A document is issued from one record (an inspection, a hazard, a supervision listing) by the
unit it speaks for, with a serial number of that unit's series for its kind and year:
"{unit}{prefix}〔{year}〕{number}号", e.g. 应急管理分局责改〔2023〕12号. A record's document of one
kind is issued once: issuing it again returns the same serial. Two first issues at the same
moment never share a number: the table's unique keys refuse the second insert, which then
re-reads (the same record: the other's serial; another record: the next number) in a savepoint.

The issuing unit's users and the office may issue and read; the enterprise concerned (and the
supervising unit a listing names) may read one once issued; anyone else is told it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.models import Hazard, InboxTask, Inspection, IssuedDocument, Organisation, SupervisionListing, User
from . import audit
from .errors import ConflictError, NotFoundError
from .roles import visible_hazards

ATTEMPTS = 5
"""How often a first issue re-reads after a concurrent issue took its number (each loser moves one on)."""
DEPARTMENT_VERIFY = "Task_DepartmentVerify"
VERIFY_STEPS = (DEPARTMENT_VERIFY, "Task_EnterpriseVerify")
"""The verification steps of bpmn/hazard_lifecycle.bpmn: the department's, or the enterprise's own."""


@dataclass(frozen=True)
class Kind:
    """One kind of document: its title, the serial's prefix and the kind of record it is issued from."""

    title: str
    prefix: str
    subject_type: str


KINDS = {
    "rectification_order": Kind("责令限期整改指令书", "责改", "inspection"),
    "reinspection_opinion": Kind("整改复查意见书", "复查", "hazard"),
    "closeout_slip": Kind("隐患验收销号单", "销号", "hazard"),
    "listing_notice": Kind("挂牌督办通知书", "督办", "listing"),
}


@dataclass(frozen=True)
class Parties:
    """Who a record's document is from and to."""

    issuer_id: int
    enterprise_id: int
    hazard: Hazard | None  # the enterprise reads a hazard's document only while it may see the hazard
    also_addressed: frozenset[int] = frozenset()  # a listing's supervising unit


@dataclass(frozen=True)
class Issued:
    """An issued document as the renderer needs it."""

    kind: str
    subject_id: int
    serial: str
    issuer_name: str
    issued_at: datetime


def kind_of(code: str) -> Kind:
    """The kind named `code`; an unknown one is simply not found."""
    if code not in KINDS:
        raise NotFoundError(f"no document kind {code!r}")
    return KINDS[code]


def serial(document: IssuedDocument, issuer_name: str) -> str:
    """The printed serial number, e.g. 应急管理分局责改〔2023〕12号."""
    return f"{issuer_name}{KINDS[document.kind].prefix}〔{document.year}〕{document.number}号"


def latest_verification(session: Session, hazard_id: int, steps: tuple[str, ...],
                        as_of: datetime | None = None) -> InboxTask | None:
    """The hazard's most recent completed verification step among `steps` (a failed one is followed by
    another; a reopened hazard has several), completed by `as_of` when given."""
    query = select(InboxTask).where(InboxTask.hazard_id == hazard_id, InboxTask.bpmn_id.in_(steps),
                                    InboxTask.completed_at.is_not(None))
    if as_of is not None:
        query = query.where(InboxTask.completed_at <= as_of)
    return session.scalar(query.order_by(InboxTask.completed_at.desc(), InboxTask.id.desc()).limit(1))


def parties(session: Session, kind: str, subject_id: int) -> Parties:
    """The issuer and addressees of `kind` for the record; NotFoundError when the record does not qualify
    (no such record, a hazard not verified by a department or not closed, a listing not listed)."""
    subject_type = kind_of(kind).subject_type
    if subject_type == "inspection":
        inspection = session.get(Inspection, subject_id)
        if inspection is None:
            raise NotFoundError(f"inspection {subject_id} not found")
        return Parties(inspection.department_id, inspection.enterprise_id, None)
    if subject_type == "listing":
        listing = session.get(SupervisionListing, subject_id)
        if listing is None or listing.status not in ("listed", "delisted") or listing.supervising_unit_id is None:
            raise NotFoundError(f"no listed supervision {subject_id}")
        hazard = session.get(Hazard, listing.hazard_id)
        assert hazard is not None
        office = session.scalar(select(Organisation.id).where(Organisation.kind == "office").limit(1))
        if office is None:
            raise NotFoundError("no safety committee office (安委办) is set up")
        return Parties(office, hazard.enterprise_id, hazard, frozenset({listing.supervising_unit_id}))
    hazard = session.get(Hazard, subject_id)
    if hazard is None or (kind == "closeout_slip" and hazard.status != "closed"):
        raise NotFoundError(f"no {kind} for hazard {subject_id}")
    step = latest_verification(session, hazard.id, (DEPARTMENT_VERIFY,) if kind == "reinspection_opinion"
                               else VERIFY_STEPS)
    if step is None:
        raise NotFoundError(f"hazard {subject_id} has no verification for a {kind}")
    return Parties(step.organisation_id, hazard.enterprise_id, hazard)


def may_issue(actor: User, who: Parties) -> bool:
    """The issuing unit's users and the office."""
    return actor.active and (actor.role == "office" or actor.organisation_id == who.issuer_id)


def _may_read(session: Session, actor: User, who: Parties) -> bool:
    if may_issue(actor, who) or (actor.active and actor.organisation_id in who.also_addressed):
        return True
    if not actor.active or actor.organisation_id != who.enterprise_id:
        return False
    return who.hazard is None or session.scalar(
        visible_hazards(select(Hazard.id), actor).where(Hazard.id == who.hazard.id)) is not None


def _as_issued(session: Session, document: IssuedDocument) -> Issued:
    issuer = session.get(Organisation, document.issuer_id)
    assert issuer is not None
    return Issued(document.kind, document.subject_id, serial(document, issuer.name), issuer.name, document.issued_at)


def _existing(session: Session, kind: str, subject_id: int) -> IssuedDocument | None:
    return session.scalar(select(IssuedDocument).where(IssuedDocument.kind == kind,
                                                       IssuedDocument.subject_type == KINDS[kind].subject_type,
                                                       IssuedDocument.subject_id == subject_id))


def issue(session: Session, actor: User, kind: str, subject_id: int, now: datetime) -> Issued:
    """Issue `kind` from the record (or return the one issued before, with its serial); audited when new.

    Concurrency: the number is the series' highest + 1, inserted in a savepoint; a concurrent first issue
    that committed the same number (or the same record's document) makes the insert fail, and the next
    attempt reads what it committed. Callers see a ConflictError only after `ATTEMPTS` such losses.
    """
    who = parties(session, kind, subject_id)
    if not may_issue(actor, who):  # the enterprise reads what was issued to it, it issues nothing
        raise NotFoundError(f"no {kind} {subject_id}")
    year = now.astimezone(SHANGHAI).year
    for _attempt in range(ATTEMPTS):
        if (found := _existing(session, kind, subject_id)) is not None:
            return _as_issued(session, found)
        series = (IssuedDocument.issuer_id == who.issuer_id, IssuedDocument.kind == kind, IssuedDocument.year == year)
        number = (session.scalar(select(func.max(IssuedDocument.number)).where(*series)) or 0) + 1
        document = IssuedDocument(kind=kind, issuer_id=who.issuer_id, year=year, number=number,
                                  subject_type=KINDS[kind].subject_type, subject_id=subject_id, issued_at=now,
                                  issued_by_id=actor.id)
        try:
            with session.begin_nested():
                session.add(document)
        except IntegrityError:
            continue
        made = _as_issued(session, document)
        audit.record(session, actor, "issue_document", KINDS[kind].subject_type, subject_id,
                     {"kind": kind, "serial": made.serial, "document": document.id}, now)
        return made
    raise ConflictError("文书编号被同时占用，请重试")


def issued(session: Session, actor: User, kind: str, subject_id: int) -> Issued:
    """The document issued from the record, for a reader allowed it; not issued yet or not allowed: not found."""
    who = parties(session, kind, subject_id)
    document = _existing(session, kind, subject_id)
    if document is None or not _may_read(session, actor, who):
        raise NotFoundError(f"no {kind} {subject_id}")
    return _as_issued(session, document)


@dataclass(frozen=True)
class Offer:
    """A document a hazard's page offers the signed-in user: to read (issued) or to issue."""

    kind: str
    subject_id: int
    title: str
    serial: str | None  # None: not issued yet, and the user may issue it


def offers_on_hazard(session: Session, actor: User, hazard: Hazard) -> list[Offer]:
    """The documents of the hazard (and of its inspection and listings) `actor` may read or issue."""
    subjects = [("reinspection_opinion", hazard.id), ("closeout_slip", hazard.id)]
    if hazard.inspection_id is not None:
        subjects.insert(0, ("rectification_order", hazard.inspection_id))
    subjects += [("listing_notice", listing_id) for listing_id in session.scalars(
        select(SupervisionListing.id).where(SupervisionListing.hazard_id == hazard.id).order_by(SupervisionListing.id))]
    return offers_of(session, actor, subjects)


def offers_of(session: Session, actor: User, subjects: list[tuple[str, int]]) -> list[Offer]:
    """Of the documents (kind, record id), those `actor` may read (issued) or issue (not yet)."""
    offers = []
    for kind, subject_id in subjects:
        try:
            who = parties(session, kind, subject_id)
        except NotFoundError:
            continue
        document = _existing(session, kind, subject_id)
        if document is not None and _may_read(session, actor, who):
            offers.append(Offer(kind, subject_id, KINDS[kind].title, _as_issued(session, document).serial))
        elif document is None and may_issue(actor, who):
            offers.append(Offer(kind, subject_id, KINDS[kind].title, None))
    return offers
