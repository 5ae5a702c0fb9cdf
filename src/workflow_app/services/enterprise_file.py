"""The enterprise file (一企一档), read side: the enterprises a user may see, searched and filtered with
counts, and one enterprise's whole file (profile, supervisors, colour history, hazards, duties, walks,
enforcement inspections, confirmed public reports, cases).

Who sees which enterprise is services/roles.py's to say (`visible_by_enterprise`); anyone else is told
the enterprise does not exist. Hazards are counted and listed through `visible_hazards`, so the
enterprise itself neither counts nor sees a report triage has not accepted, and public reports are
listed as such only to viewers that roles.py does not shield from them. Each page costs a fixed
handful of queries, however many rows it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from ..store.counting import count_where
from ..store.models import (
    AuditEntry,
    Case,
    Duty,
    EnterpriseSector,
    Hazard,
    Inspection,
    LiaisonAssignment,
    Organisation,
    RiskColourChange,
    Sector,
    SelfInspection,
    Supervision,
    User,
)
from . import audit
from .credit_code import normalised
from .errors import NotFoundError
from .roles import (
    PUBLIC_SOURCES,
    UNCONFIRMED_STATUSES,
    source_shown_to,
    sources_offered_to,
    visible_by_enterprise,
    visible_hazards,
)

RISK_COLOURS = ("red", "orange", "yellow", "blue")
NO_COLOUR = "none"
"""The colour filter's value for enterprises not graded yet."""
STATUSES = ("active", "closed", "merged")
PER_PAGE = 50
RECENT = 10
"""How many of each kind of record the file lists (the counts cover them all)."""
FINISHED = ("closed", "rejected")


@dataclass(frozen=True)
class EnterpriseQuery:
    """What the list page was asked for; None (or "") means no filter."""

    text: str = ""  # name, credit code or pinyin initials
    town_id: int | None = None
    sector: str | None = None  # any of its sectors
    department_id: int | None = None  # a supervising department
    colour: str | None = None  # a risk colour or NO_COLOUR
    high_risk: bool | None = None  # flagged or in a high-risk sector
    major_hazard_source: bool | None = None
    status: str | None = None
    page: int = 1


@dataclass(frozen=True)
class EnterpriseRow:
    """One line of the list."""

    enterprise: Organisation
    town: str | None
    sector: str | None
    lead_department: str | None
    high_risk: bool


@dataclass
class EnterprisePage:
    """A page of the list, the number matching and the matching set's count per colour."""

    query: EnterpriseQuery
    rows: list[EnterpriseRow]
    total: int
    colour_counts: dict[str, int]  # colour (or NO_COLOUR) → enterprises, the colour filter left out

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def effectively_high_risk() -> ColumnElement[bool]:
    """An enterprise is high-risk when flagged so or when any of its sectors is (高危行业)."""
    risky_sector = (select(EnterpriseSector.enterprise_id).join(Sector, Sector.code == EnterpriseSector.sector_code)
                    .where(EnterpriseSector.enterprise_id == Organisation.id, Sector.high_risk.is_(True)).exists())
    return or_(Organisation.high_risk.is_(True), risky_sector)


def _conditions(wanted: EnterpriseQuery, with_colour: bool) -> list[ColumnElement[bool]]:
    """The WHERE terms of `wanted` over Organisation (the colour's left out for the per-colour counts)."""
    terms: list[ColumnElement[bool]] = [Organisation.kind == "enterprise"]
    text = wanted.text.strip()
    if text:
        lowered = text.lower()
        terms.append(or_(func.lower(Organisation.name).contains(lowered, autoescape=True),
                         Organisation.credit_code.contains(normalised(text), autoescape=True),
                         Organisation.name_initials.contains(lowered, autoescape=True)))
    if wanted.town_id is not None:
        terms.append(Organisation.town_id == wanted.town_id)
    if wanted.sector:
        terms.append(Organisation.id.in_(select(EnterpriseSector.enterprise_id)
                                         .where(EnterpriseSector.sector_code == wanted.sector)))
    if wanted.department_id is not None:
        terms.append(Organisation.id.in_(select(Supervision.enterprise_id)
                                         .where(Supervision.department_id == wanted.department_id)))
    if wanted.high_risk is not None:
        terms.append(effectively_high_risk() if wanted.high_risk else not_(effectively_high_risk()))
    if wanted.major_hazard_source is not None:
        terms.append(Organisation.major_hazard_source.is_(wanted.major_hazard_source))
    if wanted.status:
        terms.append(Organisation.status == wanted.status)
    if with_colour and wanted.colour:
        terms.append(Organisation.risk_colour.is_(None) if wanted.colour == NO_COLOUR
                     else Organisation.risk_colour == wanted.colour)
    return terms


def list_enterprises(session: Session, user: User, wanted: EnterpriseQuery) -> EnterprisePage:
    """The page of enterprises `user` may see that match `wanted`, by name (two queries)."""
    counted = visible_by_enterprise(select(Organisation.risk_colour, func.count(Organisation.id)), user,
                                    Organisation.id).where(*_conditions(wanted, with_colour=False))
    colour_counts = {colour or NO_COLOUR: count for colour, count in
                     session.execute(counted.group_by(Organisation.risk_colour))}
    total = colour_counts.get(wanted.colour, 0) if wanted.colour else sum(colour_counts.values())
    town, lead = aliased(Organisation), aliased(Organisation)
    query = (select(Organisation, town.name, Sector.name, lead.name, effectively_high_risk())
             .outerjoin(town, town.id == Organisation.town_id)
             .outerjoin(Sector, Sector.code == Organisation.sector_code)
             .outerjoin(Supervision, and_(Supervision.enterprise_id == Organisation.id, Supervision.is_lead.is_(True)))
             .outerjoin(lead, lead.id == Supervision.department_id))
    query = visible_by_enterprise(query, user, Organisation.id).where(*_conditions(wanted, with_colour=True))
    offset = (max(wanted.page, 1) - 1) * PER_PAGE
    rows = [EnterpriseRow(*row) for row in
            session.execute(query.order_by(Organisation.name, Organisation.id).offset(offset).limit(PER_PAGE))]
    return EnterprisePage(wanted, rows, total, colour_counts)


@dataclass(frozen=True)
class Choices:
    """What the filters and the edit form offer: towns, sectors and departments, by name."""

    towns: list[tuple[int, str]]
    sectors: list[tuple[str, str]]
    departments: list[tuple[int, str]]


def choices(session: Session) -> Choices:
    organisations = list(session.execute(select(Organisation.id, Organisation.name, Organisation.kind)
                                         .where(Organisation.kind.in_(("town", "department")))
                                         .order_by(Organisation.name)))
    return Choices(towns=[(o.id, o.name) for o in organisations if o.kind == "town"],
                   sectors=[(code, name) for code, name in session.execute(select(Sector.code, Sector.name)
                                                                           .order_by(Sector.name))],
                   departments=[(o.id, o.name) for o in organisations if o.kind == "department"])


def get_enterprise(session: Session, user: User, enterprise_id: int) -> Organisation:
    """The enterprise if `user` may see it; any other id (a town, an unseen enterprise) is not found."""
    query = visible_by_enterprise(select(Organisation), user, Organisation.id)
    enterprise = session.scalar(query.where(Organisation.id == enterprise_id, Organisation.kind == "enterprise"))
    if enterprise is None:
        raise NotFoundError(f"enterprise {enterprise_id} not found")
    return enterprise


@dataclass(frozen=True)
class HazardCounts:
    """The enterprise's hazards as the viewer may see them."""

    total: int = 0
    open: int = 0
    overdue: int = 0
    closed: int = 0
    major: int = 0
    major_open: int = 0


@dataclass(frozen=True)
class InspectionOutcome:
    """An enforcement inspection, its department and the hazards it found."""

    inspection: Inspection
    department: str
    found: list[Hazard]


@dataclass
class EnterpriseFile:
    """Everything the file page shows of one enterprise (lists: newest first, RECENT at most)."""

    enterprise: Organisation
    town: str | None
    merged_into: str | None
    high_risk: bool
    sectors: list[tuple[Sector, bool]]  # (sector, is the main one)
    supervisors: list[tuple[Organisation, bool]]  # (department, is the lead)
    liaison: list[tuple[LiaisonAssignment, str]]  # this year's teams, each with its department
    colour_history: list[RiskColourChange]
    hazard_counts: HazardCounts
    hazards: list[tuple[Hazard, str]]  # (hazard, the source as the viewer is told it)
    duty_counts: dict[str, int]  # done | missed | open
    duties: list[Duty]
    walks: list[SelfInspection]
    inspections: list[InspectionOutcome]
    public_reports: list[Hazard] | None  # None: the viewer is not shown reports as such
    cases: list[Case]
    edits: list[AuditEntry]  # audit entries of the profile, newest first

    @property
    def lead_department_id(self) -> int | None:
        return next((department.id for department, lead in self.supervisors if lead), None)


def enterprise_file(session: Session, user: User, enterprise_id: int, today: date) -> EnterpriseFile:
    """The file of an enterprise `user` may see (NotFoundError otherwise); `today` decides what is overdue."""
    enterprise = get_enterprise(session, user, enterprise_id)
    names: dict[int | None, str] = dict(session.execute(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_([i for i in (enterprise.town_id, enterprise.merged_into_id) if i is not None]))).all())
    sectors = [(sector, sector.code == enterprise.sector_code) for sector in session.scalars(
        select(Sector).join(EnterpriseSector, EnterpriseSector.sector_code == Sector.code)
        .where(EnterpriseSector.enterprise_id == enterprise.id).order_by(Sector.name))]
    supervisors = [(department, bool(lead)) for department, lead in session.execute(
        select(Organisation, Supervision.is_lead).join(Supervision, Supervision.department_id == Organisation.id)
        .where(Supervision.enterprise_id == enterprise.id).order_by(Supervision.is_lead.desc(), Organisation.name))]
    return EnterpriseFile(
        enterprise=enterprise, town=names.get(enterprise.town_id), merged_into=names.get(enterprise.merged_into_id),
        high_risk=enterprise.high_risk or any(sector.high_risk for sector, _ in sectors),
        sectors=sectors, supervisors=supervisors, liaison=_liaison(session, enterprise.id, today.year),
        colour_history=list(session.scalars(select(RiskColourChange).where(
            RiskColourChange.enterprise_id == enterprise.id).order_by(RiskColourChange.id.desc()))),
        hazard_counts=_hazard_counts(session, user, enterprise.id, today),
        hazards=[(h, source_shown_to(user, h)) for h in session.scalars(
            _hazards(user, enterprise.id).order_by(Hazard.id.desc()).limit(RECENT))],
        duty_counts=_duty_counts(session, enterprise.id, today),
        duties=list(session.scalars(select(Duty).where(Duty.enterprise_id == enterprise.id)
                                    .order_by(Duty.due_on.desc(), Duty.id.desc()).limit(RECENT))),
        walks=list(session.scalars(select(SelfInspection).where(SelfInspection.enterprise_id == enterprise.id)
                                   .order_by(SelfInspection.id.desc()).limit(RECENT))),
        inspections=_inspections(session, user, enterprise.id),
        public_reports=_public_reports(session, user, enterprise.id),
        cases=list(session.scalars(select(Case).where(Case.enterprise_id == enterprise.id)
                                   .order_by(Case.id.desc()).limit(RECENT))),
        edits=audit.history(session, "organisation", enterprise.id)[::-1][:RECENT],
    )


def _hazards(user: User, enterprise_id: int) -> Select:
    return visible_hazards(select(Hazard), user).where(Hazard.enterprise_id == enterprise_id)


def _liaison(session: Session, enterprise_id: int, year: int) -> list[tuple[LiaisonAssignment, str]]:
    """This year's liaison teams: one per supervising department that has inspected (each has its own)."""
    return [(team, name) for team, name in session.execute(
        select(LiaisonAssignment, Organisation.name)
        .join(Organisation, Organisation.id == LiaisonAssignment.department_id)
        .where(LiaisonAssignment.enterprise_id == enterprise_id, LiaisonAssignment.year == year)
        .order_by(Organisation.name))]


def _hazard_counts(session: Session, user: User, enterprise_id: int, today: date) -> HazardCounts:
    is_open = Hazard.status.not_in(FINISHED)
    overdue = and_(is_open, or_(Hazard.rectification_deadline < today, Hazard.overdue_since.is_not(None)))
    major = Hazard.level == "major"
    query = visible_hazards(select(func.count(Hazard.id), count_where(is_open), count_where(overdue),
                                   count_where(Hazard.status == "closed"), count_where(major),
                                   count_where(and_(major, is_open))),
                            user).where(Hazard.enterprise_id == enterprise_id)
    row = session.execute(query).one()
    return HazardCounts(*(int(value) for value in row))


def _duty_counts(session: Session, enterprise_id: int, today: date) -> dict[str, int]:
    """Duties done, missed (open past their due date) and still open within their period."""
    is_open = Duty.status == "open"
    missed = and_(is_open, or_(Duty.due_on < today, Duty.overdue_since.is_not(None)))
    row = session.execute(select(count_where(Duty.status == "done"), count_where(missed),
                                 count_where(and_(is_open, not_(missed))))
                          .where(Duty.enterprise_id == enterprise_id)).one()
    return {"done": int(row[0]), "missed": int(row[1]), "open": int(row[2])}


def _inspections(session: Session, user: User, enterprise_id: int) -> list[InspectionOutcome]:
    inspections = list(session.execute(
        select(Inspection, Organisation.name).join(Organisation, Organisation.id == Inspection.department_id)
        .where(Inspection.enterprise_id == enterprise_id)
        .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(RECENT)))
    found: dict[int, list[Hazard]] = {}
    if inspections:
        ids = [inspection.id for inspection, _ in inspections]
        for hazard in session.scalars(_hazards(user, enterprise_id).where(Hazard.inspection_id.in_(ids))
                                      .order_by(Hazard.id)):
            found.setdefault(hazard.inspection_id or 0, []).append(hazard)
    return [InspectionOutcome(inspection, name, found.get(inspection.id, [])) for inspection, name in inspections]


def sees_reports(user: User) -> bool:
    """Whether roles.py lets `user` see public and whistleblower reports as such (not an enterprise)."""
    offered = sources_offered_to(user, {source: source for source in PUBLIC_SOURCES})
    return all(source in offered for source in PUBLIC_SOURCES)


def _public_reports(session: Session, user: User, enterprise_id: int) -> list[Hazard] | None:
    """Reports against the enterprise that triage accepted; None for a viewer who may not see them."""
    if not sees_reports(user):
        return None
    query = _hazards(user, enterprise_id).where(Hazard.source.in_(PUBLIC_SOURCES),
                                                Hazard.status.not_in(UNCONFIRMED_STATUSES))
    return list(session.scalars(query.order_by(Hazard.id.desc()).limit(RECENT)))
