"""Send outbox notices per channel, with retries, backoff and parking.

Each channel has a few workers (`Channel.workers`), so one slow webhook does not hold up
e-mail. A worker claims one due notice at a time in a short transaction — a conditional
UPDATE of its lease, FOR UPDATE SKIP LOCKED on PostgreSQL, serialised by the write lock on
SQLite — sends it outside any transaction, and records the outcome (in the transaction that
claims its next notice) with an UPDATE that only succeeds while the claim's token is still on
the row; `attempts` is counted in SQL. The lease is twice the longest send
the channel allows, so a notice is never taken over while it is being sent; a dispatcher that
dies mid-send leaves a lease that expires, and the notice is sent at a later run. A notice
that keeps failing is parked after MAX_ATTEMPTS and stays visible to the office until retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import ceil
from uuid import uuid4

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..store.database import transaction
from ..store.models import Notice, Organisation, User
from .channels import Channel, DeliveryError, Undeliverable

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
Clock = Callable[[], datetime]


@dataclass
class DispatchReport:
    """What one dispatch run did (workers append to it from their threads)."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    notice: Notice
    recipient: Organisation
    person: User | None
    token: str
    until: datetime


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the n-th failure, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def dispatch(factory: sessionmaker[Session], channels: Mapping[str, Channel], now: datetime,
             limit: int = 1000, should_stop: Callable[[], bool] = lambda: False) -> DispatchReport:
    """Send the notices due from `now` on (the run's clock starts at `now` and runs with real time) over
    the given channels, at most `limit` per channel, each worker stopping after its notice once
    `should_stop()`; return what happened."""
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    report = DispatchReport()
    with ThreadPoolExecutor(max_workers=sum(c.workers for c in channels.values()),
                            thread_name_prefix="dispatch") as pool:
        runs = [pool.submit(_work, factory, name, channel, clock, ceil(limit / channel.workers), report, should_stop)
                for name, channel in channels.items() for _ in range(channel.workers)]
    for run in runs:
        run.result()  # a worker's unexpected error fails the run (recorded in job_runs); its lease expires
    return report


def _work(factory: sessionmaker[Session], name: str, channel: Channel, clock: Clock, claims: int,
          report: DispatchReport, should_stop: Callable[[], bool]) -> None:
    """One worker: claim, send and record notices of one channel until none is due or `claims` are used.

    Recording one outcome and claiming the next notice share a transaction (one commit per notice).
    """
    lease = 2 * channel.longest_send
    if should_stop():
        return
    with transaction(factory) as session:
        claim = _claim(session, name, clock(), lease)
    for left in range(claims - 1, -1, -1):
        if claim is None:
            return
        error = _send(name, channel, claim, clock)
        with transaction(factory) as session:
            _record(session, claim, error, clock(), report)
            claim = _claim(session, name, clock(), lease) if left and not should_stop() else None


def _send(name: str, channel: Channel, claim: _Claim, clock: Clock) -> DeliveryError | None:
    """Send the claimed notice if the lease outlasts the longest send; the error, if any."""
    if claim.until - clock() < channel.longest_send:  # stalled since the claim: the send could outlive it
        log.warning("notice %s not sent: too little of its lease is left; it is sent later", claim.notice.id)
        return DeliveryError("not sent: the lease ran short")
    try:
        channel.send(claim.notice, claim.recipient, claim.person)
    except DeliveryError as exc:
        log.warning("notice %s (%s) not delivered: %s", claim.notice.id, name, exc)
        return exc
    return None


_DUE = (select(Notice.id).where(Notice.status == "pending", Notice.channel == bindparam("due_channel"),
                                 or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= bindparam("due_at")),
                                 or_(Notice.lease_until.is_(None), Notice.lease_until <= bindparam("due_at")))
        .order_by(Notice.id).limit(1).with_for_update(skip_locked=True).scalar_subquery())
_CLAIM = (update(Notice).where(Notice.id == _DUE)  # built once: it runs for every notice
          .values(leased_by=bindparam("claim_token"), lease_until=bindparam("claim_until"))
          .returning(Notice).execution_options(synchronize_session=False))


def _claim(session: Session, channel: str, now: datetime, lease: timedelta) -> _Claim | None:
    """Lease the next due notice of `channel` for `lease` with a fresh token; None when none is due."""
    token, until = uuid4().hex, now + lease
    notice = session.scalar(_CLAIM, {"due_channel": channel, "due_at": now, "claim_token": token,
                                     "claim_until": until})
    if notice is None:
        return None
    recipient = session.get(Organisation, notice.recipient_org_id)
    assert recipient is not None
    person = session.get(User, notice.recipient_user_id) if notice.recipient_user_id is not None else None
    return _Claim(notice, recipient, person, token, until)


_RECORD = (update(Notice)  # built once: it runs for every notice
           .where(Notice.id == bindparam("notice_id"), Notice.leased_by == bindparam("claim_token"),
                  Notice.status == "pending")
           .values(attempts=Notice.attempts + 1, leased_by=None, lease_until=None, status=bindparam("new_status"),
                   sent_at=bindparam("new_sent_at"), next_attempt_at=bindparam("new_next_attempt_at"),
                   last_error=bindparam("new_last_error"))
           .execution_options(synchronize_session=False))


def _record(session: Session, claim: _Claim, error: DeliveryError | None, now: datetime,
            report: DispatchReport) -> None:
    """Count the attempt (in SQL) and set the outcome, only if the claim's token is still on the notice.
    An Undeliverable notice is parked at once: retrying cannot help.

    While the token holds nobody else changes the row, so the claimed `attempts` + 1 is the count and
    the claimed `next_attempt_at` is still the row's.
    """
    notice, attempts = claim.notice, claim.notice.attempts + 1
    status, next_attempt_at, outcome = "pending", notice.next_attempt_at, report.retrying
    if error is None:
        status, outcome = "sent", report.sent
    elif attempts >= MAX_ATTEMPTS or isinstance(error, Undeliverable):
        status, outcome = "parked", report.parked
    else:
        next_attempt_at = now + retry_delay(attempts)
    held = session.execute(_RECORD, {"notice_id": notice.id, "claim_token": claim.token, "new_status": status,
                                     "new_sent_at": now if error is None else None,
                                     "new_next_attempt_at": next_attempt_at,
                                     "new_last_error": None if error is None else str(error)})
    if held.rowcount != 1:  # type: ignore[attr-defined]
        log.error("notice %s: its lease was taken over during the send; this attempt (%s) is not counted",
                  notice.id, error or "delivered")
        return
    outcome.append(notice.id)


def retry_parked(session: Session, notice_ids: list[int] | None = None) -> int:
    """Put parked notices (all, or the given ones) back in the queue; return how many."""
    query = select(Notice).where(Notice.status == "parked")
    if notice_ids is not None:
        query = query.where(Notice.id.in_(notice_ids))
    notices = list(session.scalars(query))
    for notice in notices:
        notice.status, notice.attempts, notice.next_attempt_at = "pending", 0, None
        notice.lease_until, notice.leased_by = None, None
    return len(notices)
