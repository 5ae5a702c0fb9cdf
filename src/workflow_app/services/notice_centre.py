"""The notification centre: in-app notices of an organisation, unread counts, the office's
view of undeliverable notices, and hazards that keep running overdue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from ..store.models import Hazard, Notice, TimerFiring, User
from .errors import PermissionDeniedError

OPEN_STATUSES_EXCLUDED = ("closed", "rejected")


def _shown_to(user: User) -> ColumnElement[bool]:
    """The in-app notices `user` reads: their organisation's, and of those addressed to one person, their own
    (a colleague's daily digest is not mine)."""
    return (Notice.channel == "in_app") & (Notice.recipient_org_id == user.organisation_id) & (
        Notice.recipient_user_id.is_(None) | (Notice.recipient_user_id == user.id))


def inbox_notices(session: Session, user: User, limit: int = 50) -> list[Notice]:
    """The in-app notices of the user's organisation and to the user, newest first."""
    return list(session.scalars(select(Notice).where(_shown_to(user)).order_by(Notice.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count(Notice.id)).where(_shown_to(user), Notice.read_at.is_(None))) or 0


def mark_all_read(session: Session, user: User, now: datetime) -> int:
    """Mark the unread notices the user reads as read (an organisation's read marks are shared)."""
    result = session.execute(update(Notice).where(_shown_to(user), Notice.read_at.is_(None)).values(read_at=now))
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
