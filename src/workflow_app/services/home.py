"""Each role's home (工作台): what waits for me, and for overseers how the hazards they see are going.

Every figure is counted in SQL with conditional counts (`COUNT(*) FILTER (WHERE …)`, which SQLite evaluates
about twice as fast as `SUM(CASE …)`), scoped by the same rules as the inbox (my `todo` tab) and the ledger
(`roles.visible_by_enterprise`), so that a tile's link to the ledger lists exactly the hazards it counted. The
overseers' hazard figures add up the hazard tallies (store.models.HazardTally, kept by triggers) rather than
count every hazard. Days are Asia/Shanghai dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Select, and_, func, select, text
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.counting import count_where
from ..store.models import UNMARKED_LIVE, Campaign, Duty, Hazard, HazardTally, InboxTask, Incident, Organisation, User
from . import delegation
from .campaign_subject import UNIT_REPORTS
from .campaigns import WEEKLY_TASKS
from .errors import PermissionDeniedError
from .inbox import todo_condition
from .roles import visible_by_enterprise
from .task_subjects import TaskSubject, subjects_of

DUE_SOON_DAYS = 3
"""A task due within this many days (today included) is marked due soon (yellow); before today, overdue (red)."""
REVIEW_STEPS = frozenset({"Task_ReviewPlan", "Task_ReviewExtension", "Task_ReviewExtensionEnterprise",
                          "Task_DepartmentVerify", "Task_EnterpriseVerify", "Task_Triage", "Task_ListingDecision",
                          "Task_Reinspect", "Task_ResumeProduction", "Task_PublishBulletin", "Task_RewardDecision",
                          "Task_ApproveUnit", "Task_ApproveSafety", "Task_ApprovePrincipal", "Task_Close"})
"""The steps in bpmn/ where the one acting judges another's work (审核、审批、验收、研判): "awaiting my review"."""
FILING_STEPS = tuple(sorted({*WEEKLY_TASKS, *UNIT_REPORTS}))
"""The campaign tasks through which towns and departments file their tables and reports."""
OVERSEERS = ("office", "department", "town")
_UNMARKED_LIVE = text(" AND ".join(f"hazards.{term}" for term in UNMARKED_LIVE.split(" AND ")))
"""The partial index's condition word for word (literals, not parameters), so that SQLite sees it may use it."""
LIST_LENGTH = 8


@dataclass(frozen=True)
class TaskCounts:
    """My open to-dos (the inbox's `todo` tab) and how many are due soon, overdue, or reviews."""

    todo: int = 0
    due_soon: int = 0
    overdue: int = 0
    review: int = 0


@dataclass(frozen=True)
class Kpi:
    """Hazards found in a period (found_on from `start` to `end`, None: all time) and what became of them."""

    label: str
    start: date | None
    end: date | None
    found: int = 0
    rectified: int = 0
    overdue: int = 0
    listed: int = 0

    @property
    def rate(self) -> float | None:
        """Rectified per found, in percent (None when nothing was found)."""
        return round(100 * self.rectified / self.found, 1) if self.found else None

    def ledger_args(self, **extra: str) -> dict[str, str]:
        """The ledger's query parameters that list the hazards behind a figure of this tile."""
        dates = {"from": self.start.isoformat()} if self.start else {}
        return dates | ({"to": self.end.isoformat()} if self.end else {}) | extra


@dataclass
class Home:
    """Everything one user's home page shows."""

    counts: TaskCounts
    tasks: list[tuple[InboxTask, TaskSubject | None]]
    next_deadline: date | None = None
    kpis: list[Kpi] = field(default_factory=list)
    not_filed: list[tuple[InboxTask, str, TaskSubject | None]] = field(default_factory=list)
    open_incidents: int = 0
    duties: list[Duty] = field(default_factory=list)


def home(session: Session, user: User, today: date) -> Home:
    """The home page of `user` on `today` (Asia/Shanghai)."""
    mine = todo_condition(user, delegation.delegators_of(session, user, today))
    page = Home(task_counts(session, user, today, mine), _first_tasks(session, mine))
    page.next_deadline = session.scalar(select(func.min(InboxTask.due_on)).where(
        InboxTask.completed_at.is_(None), mine, InboxTask.due_on >= today))
    if user.role in OVERSEERS:
        page.kpis = kpis(session, user, today)
    if user.role == "office":
        page.not_filed = not_filed(session, today)
        page.open_incidents = session.scalar(select(func.count(Incident.id)).where(Incident.resolved_at.is_(None))) or 0
    if user.role == "enterprise":
        page.duties = month_duties(session, user.organisation_id, today)
    return page


def task_counts(session: Session, user: User, today: date, mine: object | None = None) -> TaskCounts:
    """My open to-dos, counted in one query."""
    mine = todo_condition(user, delegation.delegators_of(session, user, today)) if mine is None else mine
    row = session.execute(select(
        func.count(),
        count_where(and_(InboxTask.due_on >= today, InboxTask.due_on <= today + timedelta(days=DUE_SOON_DAYS))),
        count_where(InboxTask.due_on < today),
        count_where(InboxTask.bpmn_id.in_(sorted(REVIEW_STEPS))),
    ).where(InboxTask.completed_at.is_(None), mine)).one()  # type: ignore[arg-type]
    return TaskCounts(*(int(value) for value in row))


def _first_tasks(session: Session, mine: object) -> list[tuple[InboxTask, TaskSubject | None]]:
    """My most pressing open tasks (dated ones by due date first), each with its subject."""
    tasks = list(session.scalars(select(InboxTask).where(InboxTask.completed_at.is_(None), mine)  # type: ignore[arg-type]
                                 .where(InboxTask.due_on.is_not(None))
                                 .order_by(InboxTask.due_on, InboxTask.id).limit(LIST_LENGTH)))
    if len(tasks) < LIST_LENGTH:
        tasks += session.scalars(select(InboxTask).where(InboxTask.completed_at.is_(None), mine)  # type: ignore[arg-type]
                                 .where(InboxTask.due_on.is_(None)).order_by(InboxTask.id)
                                 .limit(LIST_LENGTH - len(tasks)))
    subjects = subjects_of(session, tasks)
    return [(task, subjects.get(task.id)) for task in tasks]


def kpis(session: Session, user: User, today: date) -> list[Kpi]:
    """This week's (Monday-Sunday) and this campaign's tiles (the running campaign's period; all time when none)."""
    monday = today - timedelta(days=today.weekday())
    periods = [("本周", monday, monday + timedelta(days=6)), ("本次专项行动", *campaign_period(session))]
    return [_kpi(session, user, today, label, start, end) for label, start, end in periods]


def campaign_period(session: Session) -> tuple[date | None, date | None]:
    """From the running campaign's start to the end of its summary phase (None, None: no campaign runs)."""
    campaign = session.scalar(select(Campaign).where(Campaign.status == "running")
                              .order_by(Campaign.started_at.desc()).limit(1))
    if campaign is None:
        return None, None
    return campaign.started_at.astimezone(SHANGHAI).date(), date.fromisoformat(campaign.params["summary_end"])


def _kpi(session: Session, user: User, today: date, label: str, start: date | None, end: date | None) -> Kpi:
    """One tile group; each figure matches the ledger's filters (see `Kpi.ledger_args`).

    Found, rectified (closed), listed and the hazards the overdue timer marked are added up from the hazard
    tallies (a few rows per enterprise and day); the live ones past their deadline that no timer marked yet
    are counted from a partial index of the unmarked live hazards. The tallies know no source, so only
    overseers, who see every report, are counted from them (an enterprise is shielded from reports)."""
    if user.role not in OVERSEERS:
        raise PermissionDeniedError("只有监管部门、镇街和安委办有统计看板")
    tallies = _in_period(visible_by_enterprise(select(
        func.sum(HazardTally.hazards), _sum(HazardTally.state == "closed"), _sum(HazardTally.state == "overdue"),
        _sum(HazardTally.listed.is_(True))).select_from(HazardTally), user, HazardTally.enterprise_id),
        HazardTally.found_on, start, end)
    due = select(Hazard.enterprise_id, Hazard.found_on).where(  # read from ix_hazards_due_unmarked first ...
        _UNMARKED_LIVE, Hazard.rectification_deadline < today).cte("due_unmarked").prefix_with("MATERIALIZED")
    due_unmarked = _in_period(visible_by_enterprise(select(func.count()).select_from(due), user, due.c.enterprise_id),
                              due.c.found_on, start, end)  # ... then scoped: no planner takes a wider index
    found, rectified, marked, listed = (int(value or 0) for value in session.execute(tallies).one())
    overdue = marked + (session.scalar(due_unmarked) or 0)
    return Kpi(label, start, end, found, rectified, overdue, listed)


def _in_period(query: Select, found_on: object, start: date | None, end: date | None) -> Select:
    """`query` limited to what was found from `start` to `end` (either None: open-ended)."""
    if start is not None:
        query = query.where(found_on >= start)  # type: ignore[operator]
    if end is not None:
        query = query.where(found_on <= end)  # type: ignore[operator]
    return query


def not_filed(session: Session, today: date) -> list[tuple[InboxTask, str, TaskSubject | None]]:
    """The towns' and departments' tables and reports due by this week's Sunday and still open, with the unit."""
    sunday = today + timedelta(days=6 - today.weekday())
    running = list(session.scalars(select(Campaign.id).where(Campaign.status == "running")))
    if not running:  # nothing to file (and no scan of the open tasks due by Sunday)
        return []
    rows = list(session.execute(
        select(InboxTask, Organisation.name).join(Organisation, Organisation.id == InboxTask.organisation_id)
        .where(InboxTask.campaign_id.in_(running), InboxTask.completed_at.is_(None),
               InboxTask.bpmn_id.in_(FILING_STEPS), InboxTask.due_on <= sunday)
        .order_by(InboxTask.due_on, Organisation.name, InboxTask.id)))
    subjects = subjects_of(session, [task for task, _ in rows])
    return [(task, name, subjects.get(task.id)) for task, name in rows]


def month_duties(session: Session, enterprise_id: int, today: date) -> list[Duty]:
    """The enterprise's duties due this month (done or not) and every one still open (this quarter's, this
    year's, an overdue one), by due date."""
    first = today.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    return list(session.scalars(select(Duty).where(
        Duty.enterprise_id == enterprise_id,
        and_(Duty.due_on >= first, Duty.due_on < after) | (Duty.status == "open")).order_by(Duty.due_on, Duty.id)))


def _sum(condition: object):  # type: ignore[no-untyped-def]
    """SUM(hazards) FILTER (WHERE condition) over the hazard tallies."""
    return func.sum(HazardTally.hazards).filter(condition)  # type: ignore[arg-type]
