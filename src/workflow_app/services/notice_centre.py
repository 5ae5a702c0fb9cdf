"""The notification centre: in-app notices of a person (their organisation's and their own), unread counts,
the office's view of undeliverable notices, and hazards that keep running overdue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..store.models import Hazard, Notice, TimerFiring, User
from .errors import PermissionDeniedError

OPEN_STATUSES_EXCLUDED = ("closed", "rejected")


def shown_to(user: User) -> ColumnElement[bool]:
    """The in-app notices `user` sees: those to them, and those to their organisation as a whole unless the
    same event also reached them by name (one event, one line); never a colleague's personal notice."""
    own = aliased(Notice)
    also_to_me = exists().where(own.channel == "in_app", own.recipient_user_id == user.id,
                                own.created_at == Notice.created_at, own.kind == Notice.kind,
                                own.subject == Notice.subject)
    to_organisation = and_(Notice.recipient_user_id.is_(None), Notice.recipient_org_id == user.organisation_id,
                           ~also_to_me)
    return and_(Notice.channel == "in_app", or_(Notice.recipient_user_id == user.id, to_organisation))


def inbox_notices(session: Session, user: User, limit: int = 50) -> list[Notice]:
    """The in-app notices `user` sees, newest first."""
    return list(session.scalars(select(Notice).where(shown_to(user)).order_by(Notice.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count(Notice.id)).where(shown_to(user), Notice.read_at.is_(None))) or 0


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
