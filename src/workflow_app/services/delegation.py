"""Delegation: a user away names a colleague of the same organisation to act on their tasks.

For the date range (Asia/Shanghai dates, both ends included) the substitute sees and may
complete, claim, release or reassign the tasks claimed by the user away; every record of
such an act names both ("王五（代李四）").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Delegation, User
from . import audit
from .errors import InvalidInputError, NotFoundError

MAX_DAYS = 92
"""A delegation covers at most a quarter; a longer absence is a change of post, not a delegation."""


def delegate(session: Session, user: User, substitute_id: int, starts_on: date, ends_on: date, reason: str,
             now: datetime) -> Delegation:
    """Name a substitute for a date range; audited."""
    substitute = session.get(User, substitute_id)
    if substitute is None or not substitute.active or substitute.organisation_id != user.organisation_id:
        raise InvalidInputError("代理人须为本单位在岗人员")
    if substitute.id == user.id:
        raise InvalidInputError("不能委托给自己")
    if ends_on < starts_on or (ends_on - starts_on) > timedelta(days=MAX_DAYS):
        raise InvalidInputError(f"委托期间须为开始日至结束日，且不超过 {MAX_DAYS} 天")
    if not reason.strip():
        raise InvalidInputError("请说明委托原因")
    delegation = Delegation(user_id=user.id, substitute_id=substitute.id, starts_on=starts_on, ends_on=ends_on,
                            reason=reason.strip()[:200], created_at=now)
    session.add(delegation)
    session.flush()
    audit.record(session, user, "delegate", "user", user.id,
                 {"substitute": substitute.display_name, "from": starts_on.isoformat(), "to": ends_on.isoformat(),
                  "reason": delegation.reason}, now)
    return delegation


def revoke(session: Session, user: User, delegation_id: int, now: datetime) -> None:
    """End one of my delegations now; audited."""
    delegation = session.get(Delegation, delegation_id)
    if delegation is None or delegation.user_id != user.id or delegation.revoked_at is not None:
        raise NotFoundError(f"delegation {delegation_id} not found")
    delegation.revoked_at = now
    audit.record(session, user, "revoke_delegation", "user", user.id, {"delegation": delegation_id}, now)


def delegators_of(session: Session, substitute: User, today: date) -> list[int]:
    """The users `substitute` acts for today."""
    return list(session.scalars(select(Delegation.user_id).where(
        Delegation.substitute_id == substitute.id, Delegation.revoked_at.is_(None),
        Delegation.starts_on <= today, Delegation.ends_on >= today)))


def acting_for(session: Session, substitute: User, assignee_id: int, today: date) -> User | None:
    """The user `substitute` acts for on a task claimed by `assignee_id`, if a delegation covers today."""
    if assignee_id not in delegators_of(session, substitute, today):
        return None
    return session.get(User, assignee_id)


def delegations_of(session: Session, user: User) -> list[Delegation]:
    """My delegations, both ways, newest first."""
    query = select(Delegation).where((Delegation.user_id == user.id) | (Delegation.substitute_id == user.id))
    return list(session.scalars(query.order_by(Delegation.id.desc()).limit(50)))
