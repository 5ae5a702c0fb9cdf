"""Send outbox notices per channel, with retries, backoff and parking.

A dispatcher leases a batch of due notices in one short transaction (FOR UPDATE SKIP
LOCKED on PostgreSQL), sends each outside any transaction, then records the outcome.
Two dispatchers never hold the same notice; a dispatcher that dies mid-batch leaves
leases that expire, and the notices are sent at a later run. A notice that keeps failing
is parked after MAX_ATTEMPTS and stays visible to the office until retried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..store.database import transaction
from ..store.models import Notice, Organisation
from .channels import Channel, DeliveryError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _lease(session: Session, channels: list[str], now: datetime, limit: int) -> list[int]:
    query = (select(Notice).where(Notice.status == "pending", Notice.channel.in_(channels),
                                  or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= now),
                                  or_(Notice.lease_until.is_(None), Notice.lease_until <= now))
             .order_by(Notice.id).limit(limit).with_for_update(skip_locked=True))
    leased = list(session.scalars(query))
    for notice in leased:
        notice.lease_until = now + LEASE
    return [n.id for n in leased]


def dispatch(factory: sessionmaker[Session], channels: Mapping[str, Channel], now: datetime,
             limit: int = 200) -> DispatchReport:
    """Send the notices due at `now` over the given channels; return what happened."""
    with transaction(factory) as session:
        leased = _lease(session, list(channels), now, limit)
    report = DispatchReport()
    for notice_id in leased:
        with transaction(factory) as session:
            notice = session.get(Notice, notice_id)
            recipient = session.get(Organisation, notice.recipient_org_id) if notice else None
        assert notice is not None and recipient is not None
        try:
            channels[notice.channel].send(notice, recipient)
            error = None
        except DeliveryError as exc:
            error = str(exc)
            log.warning("notice %s (%s) not delivered: %s", notice_id, notice.channel, error)
        _record(factory, notice_id, error, now, report)
    return report


def _record(factory: sessionmaker[Session], notice_id: int, error: str | None, now: datetime,
            report: DispatchReport) -> None:
    with transaction(factory) as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        notice.attempts += 1
        notice.lease_until = None
        if error is None:
            notice.status, notice.sent_at, notice.last_error = "sent", now, None
            report.sent.append(notice_id)
        elif notice.attempts >= MAX_ATTEMPTS:
            notice.status, notice.last_error = "parked", error
            report.parked.append(notice_id)
        else:
            notice.next_attempt_at, notice.last_error = now + retry_delay(notice.attempts), error
            report.retrying.append(notice_id)


def retry_parked(session: Session, notice_ids: list[int] | None = None) -> int:
    """Put parked notices (all, or the given ones) back in the queue; return how many."""
    query = select(Notice).where(Notice.status == "parked")
    if notice_ids is not None:
        query = query.where(Notice.id.in_(notice_ids))
    notices = list(session.scalars(query))
    for notice in notices:
        notice.status, notice.attempts, notice.next_attempt_at, notice.lease_until = "pending", 0, None, None
    return len(notices)
