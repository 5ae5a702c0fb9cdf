"""The notification centre: in-app notices of a person (their organisation's and their own), unread counts,
the office's view of undeliverable notices, and hazards that keep running overdue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..store.models import Hazard, Notice, TimerFiring, User
from .errors import PermissionDeniedError

OPEN_STATUSES_EXCLUDED = ("closed", "rejected")


UNREAD_SHOWN_UP_TO = 99
"""The unread badge counts this far and then says "99+": every page shows it, and counting thousands of unread
notices of a busy organisation would cost every page that much."""


def _own(user: User) -> ColumnElement[bool]:
    """The in-app notices to `user` by name."""
    return and_(Notice.recipient_user_id == user.id, Notice.channel == "in_app")


def _organisation_line(user: User) -> ColumnElement[bool]:
    """The in-app notices to `user`'s organisation as a whole, but for those of an event that also reached them
    by name (one event, one line)."""
    own = aliased(Notice)
    also_to_me = exists().where(own.recipient_user_id == user.id, own.event_key == Notice.event_key,
                                own.channel == "in_app")
    return and_(Notice.recipient_user_id.is_(None), Notice.recipient_org_id == user.organisation_id,
                Notice.channel == "in_app", ~also_to_me)


def shown_to(user: User) -> ColumnElement[bool]:
    """The in-app notices `user` sees: their own and their organisation's lines; never a colleague's personal
    notice."""
    return or_(_own(user), _organisation_line(user))


def inbox_notices(session: Session, user: User, limit: int = 50) -> list[Notice]:
    """The in-app notices `user` sees, newest first: the newest of each kind of line, merged (each query walks its
    index newest first and stops at `limit`; one query over both kinds read every line of the organisation)."""
    newest = [notice for part in (_own(user), _organisation_line(user))
              for notice in session.scalars(select(Notice).where(part).order_by(Notice.id.desc()).limit(limit))]
    return sorted(newest, key=lambda notice: notice.id, reverse=True)[:limit]


def unread_count(session: Session, user: User) -> int:
    """How many notices `user` sees are unread, counted up to UNREAD_SHOWN_UP_TO + 1 (more is shown as 99+)."""
    cap = UNREAD_SHOWN_UP_TO + 1
    total = sum(session.scalar(select(func.count()).select_from(
        select(Notice.id).where(part, Notice.read_at.is_(None)).limit(cap).subquery())) or 0
        for part in (_own(user), _organisation_line(user)))
    return min(total, cap)


def mark_all_read(session: Session, user: User, now: datetime) -> int:
    """Mark the unread notices `user` sees read (an organisation's for all its people, as before)."""
    unread = select(Notice.id).where(shown_to(user), Notice.read_at.is_(None))
    result = session.execute(update(Notice).where(Notice.id.in_(unread)).values(read_at=now)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def parked_notices(session: Session, user: User) -> list[Notice]:
    """Notices that could not be delivered after every retry: the office's to see."""
    if user.role != "office":
        raise PermissionDeniedError("只有安委办可以查看未送达的通知")
    return list(session.scalars(select(Notice).where(Notice.status == "parked").order_by(Notice.id)))


def supervision_candidates(session: Session, user: User) -> list[tuple[Hazard, int]]:
    """Open major hazards escalated or overdue more than once, with their count of overdue notices.

    These are the ones to consider for listed supervision (挂牌督办) at a higher level.
    """
    if user.role != "office":
        raise PermissionDeniedError("只有安委办可以查看挂牌督办候选")
    overdue_count = (select(TimerFiring.instance_id, func.count(TimerFiring.id).label("times"))
                     .where(TimerFiring.notice_kind == "overdue").group_by(TimerFiring.instance_id).subquery())
    query = (select(Hazard, func.coalesce(overdue_count.c.times, 0))
             .outerjoin(overdue_count, overdue_count.c.instance_id == Hazard.instance_id)
             .where(Hazard.level == "major", Hazard.status.not_in(OPEN_STATUSES_EXCLUDED),
                    (Hazard.escalated_at.is_not(None)) | (overdue_count.c.times >= 2))
             .order_by(Hazard.rectification_deadline))
    return [(hazard, int(times)) for hazard, times in session.execute(query)]
