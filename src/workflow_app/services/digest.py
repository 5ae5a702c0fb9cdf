"""The daily digest (每日待办摘要): at 08:30 Asia/Shanghai on each working day, one message per person with
open work, in the app and by e-mail, as personal notices (kind "digest").

What it lists is what the home page counts (services/home.py, the inbox's `todo` tab with today's
delegations): my tasks overdue, due today and awaiting my review, each with a link; the notices the
daily cap held back for me ("held", marked "digested" once rolled in); and for overseers (office, town,
department) the counts of the hazards in the units they oversee, as the ledger counts them.

Exactly once per person, day and channel: the notices' unique idempotency key
`digest:{day}:u{user_id}:{channel}`. A person's digest and the held notices it rolls in are written
together in a savepoint of a batch's transaction, so two schedulers (or a restart) racing for the same
person leave one digest (the loser's savepoint alone is rolled back), and a run that stopped half-way
is finished by the next (the scheduler runs one at start: a catch-up for today, never a past day).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..engine.calendar import SHANGHAI, is_working_day
from ..store.counting import count_where
from ..store.database import transaction
from ..store.models import DIGESTED, HELD, Delegation, Hazard, InboxTask, Notice, Organisation, User
from .channels import one_line
from .home import OVERSEERS, REVIEW_STEPS
from .inbox import group_condition, in_todo
from .roles import visible_hazards
from .task_subjects import TaskSubject, subjects_of

log = logging.getLogger(__name__)
SEND_AT = time(8, 30)
"""The digest's hour, Asia/Shanghai."""
LIST_LENGTH = 20
"""At most this many tasks per section; the rest are counted and linked to the inbox."""
BATCH = 100
"""People per transaction (each in a savepoint of its own): a commit per person would cost more than the
digest; on SQLite a batch holds the write lock for a fraction of a second."""
UNIT_LINES = 10
"""At most this many units (enterprises) in an overseer's breakdown, those with most overdue first."""
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Line:
    """One task of a section: what it is and where it is done."""

    text: str
    path: str


@dataclass(frozen=True)
class UnitCounts:
    """Hazards of the units an overseer sees: open (not closed or rejected), due today, overdue, escalated."""

    open: int = 0
    due_today: int = 0
    overdue: int = 0
    escalated: int = 0
    units: tuple[tuple[str, int, int, int], ...] = ()
    """(unit name, open, overdue, escalated) of the units with overdue or escalated hazards."""

    @property
    def pressing(self) -> bool:
        return bool(self.due_today or self.overdue or self.escalated)


@dataclass
class Digest:
    """One person's digest of one day."""

    user: User
    day: date
    sections: dict[str, list[Line]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    held: list[Notice] = field(default_factory=list)
    units: UnitCounts | None = None

    @property
    def empty(self) -> bool:
        return not any(self.totals.values()) and not self.held and not (self.units and self.units.pressing)


@dataclass
class DigestRun:
    """What one run did: people sent a digest now, already sent one today (another run), with nothing."""

    day: date | None
    sent: int = 0
    already: int = 0
    nothing: int = 0


SECTIONS = {"overdue": ("已逾期", "/inbox?due=overdue"), "due_today": ("今日到期", "/inbox?due=soon"),
            "review": ("待我审核", "/inbox?review=1")}


def digest_day(now: datetime) -> date | None:
    """The day whose digest is due at `now`: today (Shanghai) from 08:30 on a working day, else None."""
    local = now.astimezone(SHANGHAI)
    if local.time() < SEND_AT or not is_working_day(local.date()):
        return None
    return local.date()


_REVIEW = sorted(REVIEW_STEPS)


@dataclass
class Shared:
    """What a run reads once for many people: units' counts per (role, organisation), tasks' subjects (the
    people of one organisation share most tasks), and a batch's held notices per person."""

    units: dict[tuple[str, int], UnitCounts] = field(default_factory=dict)
    subjects: dict[int, TaskSubject | None] = field(default_factory=dict)
    held: dict[int, list[Notice]] | None = None
    groups: dict[tuple[str, int], list[InboxTask]] = field(default_factory=dict)

    def group_tasks(self, session: Session, role: str, organisation_id: int, day: date) -> list[InboxTask]:
        """The open tasks of a group (an organisation's people in one role) that a digest of `day` can list:
        due by then, or a review; by due date (undated last). Read once per run for all of its people."""
        key = (role, organisation_id)
        if key not in self.groups:
            self.groups[key] = list(session.scalars(select(InboxTask).where(
                InboxTask.completed_at.is_(None), group_condition(role, organisation_id),
                or_(InboxTask.due_on <= day, InboxTask.bpmn_id.in_(_REVIEW)))
                .order_by(InboxTask.due_on.is_(None), InboxTask.due_on, InboxTask.id)))
        return self.groups[key]


def build(session: Session, user: User, day: date, delegators: list[int], shared: Shared | None = None) -> Digest:
    """`user`'s digest of `day`: each open task of my `todo` tab (my group's tasks `in_todo` keeps, as the
    inbox and the home page count them) in one section (overdue, else due today, else awaiting my review),
    the first LIST_LENGTH of each and the totals; my held notices; my units' counts if I oversee."""
    shared = shared if shared is not None else Shared()
    digest = Digest(user, day)
    names = list(SECTIONS)
    digest.sections, digest.totals = {name: [] for name in names}, dict.fromkeys(names, 0)
    chosen: list[tuple[str, InboxTask]] = []
    for task in shared.group_tasks(session, user.role, user.organisation_id, day):
        if not in_todo(task, user, delegators):
            continue
        name = "overdue" if task.due_on is not None and task.due_on < day else \
            "due_today" if task.due_on == day else "review"
        digest.totals[name] += 1
        if digest.totals[name] <= LIST_LENGTH:
            chosen.append((name, task))
    unknown = [task for _, task in chosen if task.id not in shared.subjects]
    found = subjects_of(session, unknown)
    shared.subjects.update({task.id: found.get(task.id) for task in unknown})
    for name, task in chosen:
        digest.sections[name].append(_line(task, shared.subjects[task.id]))
    digest.held = shared.held.get(user.id, []) if shared.held is not None else list(session.scalars(
        select(Notice).where(Notice.recipient_user_id == user.id, Notice.status == HELD).order_by(Notice.id)))
    if user.role in OVERSEERS:
        key = (user.role, user.organisation_id)
        if key not in shared.units:
            shared.units[key] = unit_counts(session, user, day)
        digest.units = shared.units[key]
    return digest


def _line(task: InboxTask, subject: TaskSubject | None) -> Line:
    """A task in words (step, subject, enterprise, due date) on one line, and its page."""
    words = [task.name] + ([subject.text] if subject else []) + \
        ([subject.enterprise] if subject and subject.enterprise else []) + \
        ([f"时限 {task.due_on.isoformat()}"] if task.due_on else [])
    return Line(one_line(" · ".join(words)), f"/tasks/{task.task_id}")


def unit_counts(session: Session, user: User, day: date) -> UnitCounts:
    """The hazards `user` sees (as the ledger does), counted: open, due today, overdue, escalated."""
    live = Hazard.status.not_in(("closed", "rejected"))
    overdue = and_(live, (Hazard.rectification_deadline < day) | Hazard.overdue_since.is_not(None))
    escalated = and_(live, Hazard.escalated_at.is_not(None))
    totals = session.execute(visible_hazards(select(
        count_where(live), count_where(and_(live, Hazard.rectification_deadline == day)), count_where(overdue),
        count_where(escalated)).select_from(Hazard), user)).one()
    by_unit = session.execute(visible_hazards(
        select(Organisation.name, count_where(live), count_where(overdue), count_where(escalated))
        .select_from(Hazard).join(Organisation, Organisation.id == Hazard.enterprise_id), user)
        .group_by(Organisation.id, Organisation.name).having(or_(count_where(overdue) > 0, count_where(escalated) > 0))
        .order_by(count_where(overdue).desc(), count_where(escalated).desc(), Organisation.name)
        .limit(UNIT_LINES)).all()
    open_, due_today, late, up = (int(value) for value in totals)
    return UnitCounts(open_, due_today, late, up,
                      units=tuple((str(name), int(a), int(b), int(c)) for name, a, b, c in by_unit))


def subject_of(digest: Digest) -> str:
    """The notice's subject: the day and the figures."""
    t = digest.totals
    words = [f"逾期 {t['overdue']}", f"今日到期 {t['due_today']}", f"待审核 {t['review']}"]
    if digest.held:
        words.append(f"暂存通知 {len(digest.held)}")
    return f"每日待办摘要 {digest.day.isoformat()}：" + " · ".join(words)


def body_of(digest: Digest, base_url: str | None) -> str:
    """The message in plain text (e-mail and the in-app notice alike): a link is a line of its own, an
    absolute address under WORKFLOW_APP_BASE_URL, else the path."""
    def link(path: str) -> str:
        return f"  {(base_url or '') + path}"

    day = digest.day
    weekday = WEEKDAYS[day.weekday()]
    lines = [f"{one_line(digest.user.display_name)}，您好。{day.isoformat()}（周{weekday}）的待办摘要："]
    for name, (title, path) in SECTIONS.items():
        total = digest.totals.get(name, 0)
        if not total:
            continue
        lines += ["", f"{title}（{total}）"]
        for item in digest.sections.get(name, []):
            lines += [f"- {item.text}", link(item.path)]
        if total > len(digest.sections.get(name, [])):
            lines += [f"- 另有 {total - len(digest.sections[name])} 项，见待办", link(path)]
    if digest.held:
        lines += ["", f"今日暂存的通知（{len(digest.held)}）"]
        seen: set[str] = set()
        for notice in digest.held:
            if notice.subject not in seen:  # one event held on several channels is listed once
                seen.add(notice.subject)
                lines += [f"- {one_line(notice.subject)}"] + ([link(f"/hazards/{notice.hazard_id}")]
                                                           if notice.hazard_id else [])
    if digest.units is not None and digest.units.pressing:
        u = digest.units
        lines += ["", "所辖单位隐患",
                  f"未闭环 {u.open} · 今日到期 {u.due_today} · 已逾期 {u.overdue} · 已升级督办 {u.escalated}",
                  link("/ledger?overdue=1")]
        lines += [f"- {one_line(name)}：未闭环 {open_} · 已逾期 {late} · 已升级 {up}"
                  for name, open_, late, up in u.units]
    return "\n".join(lines)


def channels_for(user: User) -> list[str]:
    """In the app always; by e-mail when the person has an address."""
    return ["in_app"] + (["email"] if user.email else [])


def key_of(day: date, user_id: int, channel: str) -> str:
    return f"digest:{day.isoformat()}:u{user_id}:{channel}"


def send_user_digest(session: Session, digest: Digest, now: datetime, base_url: str | None) -> None:
    """Queue `digest` (in-app delivered at once, e-mail to the outbox) and mark the held notices it rolls
    in "digested"; a second digest of the day for this person fails on the idempotency key."""
    subject, body = subject_of(digest), body_of(digest, base_url)
    user = digest.user
    session.execute(insert(Notice), [  # one statement: the unique key fails here if another run was first
        {"idempotency_key": key_of(digest.day, user.id, channel), "channel": channel, "kind": "digest",
         "recipient_org_id": user.organisation_id, "recipient_user_id": user.id, "subject": subject[:300],
         "body": body, "created_at": now, "status": "sent" if channel == "in_app" else "pending",
         "sent_at": now if channel == "in_app" else None, "attempts": 0}
        for channel in channels_for(user)])
    if digest.held:
        session.execute(update(Notice).where(Notice.id.in_([n.id for n in digest.held]), Notice.status == HELD)
                        .values(status=DIGESTED).execution_options(synchronize_session=False))


def send_digests(factory: sessionmaker[Session], now: datetime, base_url: str | None,
                 progress: Callable[[int, int], None] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> DigestRun:
    """Send today's digest to every active person with something in it who has not had it yet; nothing
    before 08:30 or on a day off. `progress(done, total)` after each batch of people; once `should_stop()`,
    no further batch starts (the rest are served by the next run: the catch-up at the next start)."""
    with transaction(factory) as session:  # the working days of the holiday table, read in a transaction
        day = digest_day(now)
        if day is None:
            return DigestRun(None)
        user_ids = list(session.scalars(select(User.id).where(User.active.is_(True)).order_by(User.id)))
        done = _already_sent(session, day, user_ids)
        delegators: dict[int, list[int]] = defaultdict(list)
        for user_id, substitute_id in session.execute(select(Delegation.user_id, Delegation.substitute_id).where(
                Delegation.revoked_at.is_(None), Delegation.starts_on <= day, Delegation.ends_on >= day)):
            delegators[substitute_id].append(user_id)
    run, shared = DigestRun(day, already=len(done)), Shared()
    waiting = [user_id for user_id in user_ids if user_id not in done]
    for start in range(0, len(waiting), BATCH):
        if should_stop():
            break
        batch = waiting[start:start + BATCH]
        with transaction(factory) as session:
            shared.held = defaultdict(list)
            for notice in session.scalars(select(Notice).where(Notice.recipient_user_id.in_(batch),
                                                               Notice.status == HELD).order_by(Notice.id)):
                shared.held[notice.recipient_user_id].append(notice)  # type: ignore[index]
            for user in session.scalars(select(User).where(User.id.in_(batch)).order_by(User.id)):
                _one(session, user, day, now, base_url, delegators[user.id], shared, run)
        if progress is not None:
            progress(len(done) + min(start + BATCH, len(waiting)), len(user_ids))
    return run


def _one(session: Session, user: User, day: date, now: datetime, base_url: str | None,
         delegators: list[int], shared: Shared, run: DigestRun) -> None:
    """One person's digest in a savepoint of the batch's transaction: a person another scheduler served
    meanwhile fails on the key and is left out, the others stand."""
    if not user.active:
        return
    digest = build(session, user, day, delegators, shared)
    if digest.empty:
        run.nothing += 1
        return
    try:
        with session.begin_nested():
            send_user_digest(session, digest, now, base_url)
        run.sent += 1
    except IntegrityError:  # another scheduler sent this person's digest meanwhile: theirs stands
        run.already += 1


def _already_sent(session: Session, day: date, user_ids: list[int]) -> set[int]:
    """Who has had `day`'s digest (read by the unique key's index, a chunk of people at a time)."""
    sent: set[int] = set()
    for start in range(0, len(user_ids), 500):
        chunk = {key_of(day, user_id, "in_app"): user_id for user_id in user_ids[start:start + 500]}
        sent.update(chunk[key] for key in session.scalars(
            select(Notice.idempotency_key).where(Notice.idempotency_key.in_(list(chunk)))))
    return sent
