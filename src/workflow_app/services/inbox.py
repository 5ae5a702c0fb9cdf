"""The inbox pages: open tasks by tab, filtered, sorted by due date, a page at a time, with counts.

Tabs: `todo` (tasks my role and organisation act on, unclaimed or claimed by me), `mine`
(claimed by me) and, for supervisors, `watch` (every open task in what they oversee: a
department its sectors' enterprises, a town its territory, the office all). Open tasks
are served by partial indexes on `completed_at IS NULL`; sorting by due date puts
undated tasks last on every database by reading the dated ones first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true, update
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.models import Campaign, Hazard, InboxTask, Organisation, User
from . import audit, delegation
from .errors import ConflictError, InvalidInputError
from .roles import source_is, supervised_by
from .task_subjects import TaskSubject, subjects_of
from .tasks import acting_for_on, actionable_task
from .vocabulary import UNKNOWN_FILTER, check_filters

TABS = ("todo", "mine", "watch")
DUE = ("soon", "overdue")
"""The due-date filters: `soon` due today or within the home page's DUE_SOON_DAYS, `overdue` due before today
(the home page's yellow and red tiles link here and count the same tasks)."""
PER_PAGE = 20
UNKNOWN_TAB = "没有这个标签页"


@dataclass(frozen=True)
class InboxQuery:
    """What the user asked to see."""

    tab: str = "todo"
    status: str | None = None
    level: str | None = None
    source: str | None = None
    enterprise_id: int | None = None
    enterprise_text: str | None = None  # part of an enterprise's name or of its pinyin initials
    overdue: bool = False
    due: str | None = None
    review: bool = False
    page: int = 1
    per_page: int = PER_PAGE


@dataclass
class InboxPage:
    """One page of tasks (with their hazard or campaign), the count of every tab and of this tab."""

    query: InboxQuery
    rows: list[tuple[InboxTask, Hazard | None, Campaign | None]]
    counts: dict[str, int] = field(default_factory=dict)
    subjects: dict[int, TaskSubject] = field(default_factory=dict)  # by InboxTask.id: what each task is about

    @property
    def total(self) -> int:
        return self.counts.get(self.query.tab, 0)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def tabs_for(user: User) -> tuple[str, ...]:
    """The tabs a user has: enterprises oversee nothing beyond their own tasks."""
    return TABS if user.role != "enterprise" else ("todo", "mine")


def _tab_condition(user: User, tab: str, delegators: list[int]) -> ColumnElement[bool]:
    if tab == "mine":
        return InboxTask.assignee_id == user.id
    if tab == "todo":  # plus the tasks claimed by colleagues who delegated to me today
        return and_(group_condition(user.role, user.organisation_id),
                    (InboxTask.assignee_id.is_(None)) | InboxTask.assignee_id.in_([user.id, *delegators]))
    if user.role == "office":
        return true()
    if user.role == "town":
        return InboxTask.enterprise_id.in_(select(Organisation.id).where(Organisation.town_id == user.organisation_id))
    return InboxTask.enterprise_id.in_(supervised_by(user.organisation_id))


def group_condition(role: str, organisation_id: int) -> ColumnElement[bool]:
    """The tasks of a group (an organisation's people in one role), claimed or not: the `todo` tab of each
    of them is this group's tasks that `in_todo` keeps."""
    return and_(InboxTask.role == role, InboxTask.organisation_id == organisation_id)


def in_todo(task: InboxTask, user: User, delegators: list[int]) -> bool:
    """Whether a task of `user`'s group is on their `todo` tab: unclaimed, claimed by them or by someone they
    stand in for today (todo_condition's claim rule, for many people of one group read in one query)."""
    return task.assignee_id is None or task.assignee_id == user.id or task.assignee_id in delegators


def todo_condition(user: User, delegators: list[int]) -> ColumnElement[bool]:
    """The tasks of my `todo` tab (open or not): the home page counts them as the inbox does."""
    return _tab_condition(user, "todo", delegators)


def _filtered(query: Select, user: User, wanted: InboxQuery, tab: str, today: date, delegators: list[int]) -> Select:
    query = query.where(InboxTask.completed_at.is_(None), _tab_condition(user, tab, delegators))
    if wanted.enterprise_id is not None:
        query = query.where(InboxTask.enterprise_id == wanted.enterprise_id)
    if wanted.enterprise_text:
        query = query.where(InboxTask.enterprise_id.in_(enterprises_named(wanted.enterprise_text)))
    from .home import DUE_SOON_DAYS, REVIEW_STEPS  # the home page counts with the inbox's tab conditions

    if wanted.overdue or wanted.due == "overdue":
        query = query.where(InboxTask.due_on < today)
    if wanted.due == "soon":
        query = query.where(InboxTask.due_on >= today, InboxTask.due_on <= today + timedelta(days=DUE_SOON_DAYS))
    if wanted.review:
        query = query.where(InboxTask.bpmn_id.in_(sorted(REVIEW_STEPS)))
    hazard_filters = [column == value for column, value in
                      ((Hazard.status, wanted.status), (Hazard.level, wanted.level)) if value]
    if wanted.source:
        hazard_filters.append(source_is(user, wanted.source))
    if hazard_filters:
        query = query.join(Hazard, Hazard.id == InboxTask.hazard_id).where(*hazard_filters)
    return query


def enterprises_named(text: str) -> Select:
    """The ids of the enterprises whose name or pinyin initials contain `text` (as the enterprise list and the
    public report page find them): the inbox's enterprise filter, which the tab's own scope still limits."""
    lowered = text.strip().lower()[:60]
    return select(Organisation.id).where(Organisation.kind == "enterprise", or_(
        func.lower(Organisation.name).contains(lowered, autoescape=True),
        Organisation.name_initials.contains(lowered, autoescape=True)))


def inbox_page(session: Session, user: User, wanted: InboxQuery, today: date) -> InboxPage:
    """The page of `wanted` for `user`, `today` deciding what is overdue (Asia/Shanghai date)."""
    if wanted.tab not in tabs_for(user):
        raise InvalidInputError(UNKNOWN_TAB)
    check_filters(wanted.level, wanted.status, wanted.source)
    if wanted.due is not None and wanted.due not in DUE:
        raise InvalidInputError(UNKNOWN_FILTER)
    delegators = delegation.delegators_of(session, user, today)
    # count(*), not count(id): SQLite then counts index entries without reading a column of each
    counts = {tab: session.scalar(_filtered(select(func.count()).select_from(InboxTask), user, wanted, tab, today,
                                            delegators)) or 0
              for tab in tabs_for(user)}
    base = _filtered(select(InboxTask.id), user, wanted, wanted.tab, today, delegators)
    offset = (max(wanted.page, 1) - 1) * wanted.per_page
    ids = list(session.scalars(base.where(InboxTask.due_on.is_not(None))
                               .order_by(InboxTask.due_on, InboxTask.id).offset(offset).limit(wanted.per_page)))
    if len(ids) < wanted.per_page:  # past the dated tasks: only now count them, to know where the undated begin
        dated_count = len(ids) + offset if ids else session.scalar(select(func.count()).select_from(
            base.where(InboxTask.due_on.is_not(None)).subquery())) or 0
        ids += session.scalars(base.where(InboxTask.due_on.is_(None)).order_by(InboxTask.id)
                               .offset(max(0, offset - dated_count)).limit(wanted.per_page - len(ids)))
    found = {task.id: (task, hazard, campaign) for task, hazard, campaign in session.execute(
        select(InboxTask, Hazard, Campaign).outerjoin(Hazard, Hazard.id == InboxTask.hazard_id)
        .outerjoin(Campaign, Campaign.id == InboxTask.campaign_id).where(InboxTask.id.in_(ids)))}
    rows = [found[i] for i in ids if i in found]
    return InboxPage(wanted, rows, counts, subjects_of(session, [task for task, _, _ in rows]))


@dataclass(frozen=True)
class TaskCursor:
    """Where a page of tasks ended: the last task's due date (None: undated) and its row id."""

    due_on: date | None
    row_id: int


def todo_after(session: Session, user: User, today: date, after: TaskCursor | None, limit: int) -> list[InboxTask]:
    """The tasks of the user's `todo` tab after `after`, at most `limit`: earliest due first, undated last, ties
    broken by row id, so that walking the pages by cursor meets every task once however many there are."""
    delegators = delegation.delegators_of(session, user, today)
    query = _filtered(select(InboxTask), user, InboxQuery(), "todo", today, delegators)
    if after is not None and after.due_on is None:
        query = query.where(InboxTask.due_on.is_(None), InboxTask.id > after.row_id)
    elif after is not None:
        query = query.where(or_(InboxTask.due_on > after.due_on, InboxTask.due_on.is_(None),
                                and_(InboxTask.due_on == after.due_on, InboxTask.id > after.row_id)))
    order = (InboxTask.due_on.is_(None), InboxTask.due_on, InboxTask.id)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def claim(session: Session, user: User, task_id: str, now: datetime) -> InboxTask:
    """Take a task of my group so colleagues see it is being handled; a task claimed by another is a conflict."""
    task = actionable_task(session, user, task_id, _today(now))
    taken = session.execute(update(InboxTask).where(InboxTask.id == task.id, InboxTask.assignee_id.is_(None))
                            .values(assignee_id=user.id).execution_options(synchronize_session=False))
    session.refresh(task)
    if taken.rowcount == 0 and task.assignee_id != user.id:  # type: ignore[attr-defined]
        raise ConflictError("该任务已被他人认领")
    _audit(session, user, "claim_task", task, {}, now)
    return task


def release(session: Session, user: User, task_id: str, now: datetime) -> InboxTask:
    """Give a task I claimed (or one claimed by a colleague I stand in for) back to my group."""
    task = actionable_task(session, user, task_id, _today(now))
    if task.assignee_id is None:
        raise ConflictError("只能退回已认领的任务")
    principal = acting_for_on(session, user, task, _today(now))
    task.assignee_id = None
    _audit(session, user, "release_task", task, {}, now, principal)
    return task


def reassign(session: Session, user: User, task_id: str, to_user_id: int, now: datetime) -> InboxTask:
    """Hand a task I may act on to a colleague of the same organisation and role."""
    task = actionable_task(session, user, task_id, _today(now))
    colleague = session.get(User, to_user_id)
    if colleague is None or not colleague.active or colleague.organisation_id != task.organisation_id \
            or colleague.role != task.role:
        raise InvalidInputError("只能转交给本单位同一角色的在岗人员")
    principal = acting_for_on(session, user, task, _today(now))
    task.assignee_id = colleague.id
    _audit(session, user, "reassign_task", task, {"to": colleague.display_name}, now, principal)
    return task


def return_claims(session: Session, actor: User | None, holder: User, now: datetime) -> list[InboxTask]:
    """Put every open task `holder` claimed back in their organisation's queue (their account is being
    disabled): one audit entry per task, in the caller's transaction."""
    held = list(session.scalars(select(InboxTask).where(InboxTask.assignee_id == holder.id,
                                                        InboxTask.completed_at.is_(None))
                                .order_by(InboxTask.id).with_for_update()))
    for task in held:
        task.assignee_id = None
        _audit(session, actor, "release_task", task, {"claimed_by": holder.username, "why": "account_disabled"}, now)
    return held


def colleagues(session: Session, user: User) -> list[User]:
    """Who I may hand tasks to (and name as my substitute): active users of my organisation and role."""
    return list(session.scalars(select(User).where(User.organisation_id == user.organisation_id,
                                                   User.role == user.role, User.active.is_(True),
                                                   User.id != user.id).order_by(User.display_name)))


def _today(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def _audit(session: Session, user: User | None, action: str, task: InboxTask, detail: dict, now: datetime,
           principal: User | None = None) -> None:
    """Claims, releases and hand-overs are recorded against the task's hazard or case (else the task)."""
    if task.hazard_id is not None:
        kind, key = "hazard", str(task.hazard_id)
    elif task.case_id is not None:
        kind, key = "case", str(task.case_id)
    else:
        kind, key = "task", task.task_id
    audit.record(session, user, action, kind, key, {"task": task.bpmn_id, "name": task.name, **detail}, now,
                 on_behalf_of=principal)
