"""Fire due timers at an explicit `now`: each instance in its own short transaction.

Only instances with a timer row due are loaded. On PostgreSQL the instance row is
claimed with FOR UPDATE SKIP LOCKED, so several sweepers (several hosts) never fire the
same timer twice; a row held by a user's completion is skipped and retried at the next
sweep. A second sweep at the same `now` finds nothing due and fires nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..engine import ProcessError
from ..store.database import transaction
from ..store.models import ProcessInstanceRow, TimerRow
from . import audit
from .instances import apply_step, load_locked
from .personal_notices import NO_SMS, NoticePolicy
from .subjects import subject_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Firing:
    """One timer fired by a sweep."""

    code: str
    timer: str
    notice: str
    due_at: datetime


def due_instance_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Running instances with at least one timer due at `now`, most overdue first (an instance in an
    incident waits for an admin: nothing of it moves)."""
    # The due rows are read first, by the fire_at index: grouping the timers table directly, SQLite walked its
    # instance_id index over every waiting timer (100,000 years-ahead ones: 10-30 ms for a sweep that fires nothing).
    due = (select(TimerRow.instance_id, TimerRow.fire_at).where(TimerRow.fire_at <= now)
           .cte("due").prefix_with("MATERIALIZED"))
    running = exists().where(ProcessInstanceRow.id == due.c.instance_id, ProcessInstanceRow.status == "running")
    query = (select(due.c.instance_id).where(running).group_by(due.c.instance_id)
             .order_by(func.min(due.c.fire_at)).limit(limit))
    return list(session.scalars(query))


def sweep(factory: sessionmaker[Session], now: datetime, limit: int = 1000,
          should_stop: Callable[[], bool] = lambda: False, policy: NoticePolicy = NO_SMS) -> list[Firing]:
    """Fire every timer due at `now`; return what fired. Once `should_stop()` the rest wait for the next sweep
    (each instance is its own transaction, so stopping between two leaves nothing half done). `policy` says
    whether SMS is configured and each person's daily cap."""
    with transaction(factory) as session:
        instance_ids = due_instance_ids(session, now, limit)
    firings: list[Firing] = []
    for instance_id in instance_ids:
        if should_stop():
            break
        try:
            with transaction(factory) as session:
                firings.extend(_fire_instance(session, instance_id, now, policy))
        except (StaleDataError, IntegrityError) as exc:  # someone else got there first
            log.info("instance %s skipped this sweep: %s", instance_id, exc)
        except ProcessError:  # a broken instance must not hold up every other one; it stays due
            log.exception("instance %s failed to fire its timers; it is retried at the next sweep", instance_id)
    return firings


def _fire_instance(session: Session, instance_id: int, now: datetime, policy: NoticePolicy) -> list[Firing]:
    loaded = load_locked(session, instance_id, skip_locked=True)
    if loaded is None or loaded.row.status != "running":
        return []
    subject = subject_of(loaded.record)
    result = loaded.instance.fire_due_timers(now)
    apply_step(session, loaded.row, loaded.instance, subject, result, now, before=loaded.projected, policy=policy)
    audit.record_many(session, None, [
        ("timer_fired", subject.audit_type, subject.audit_id,
         {"timer": fired.bpmn_id, "name": fired.name, "due_at": fired.fire_at.isoformat()})
        for fired in result.fired_timers], now)
    return [Firing(subject.code, fired.name, fired.properties.get("notice", ""), fired.fire_at)
            for fired in result.fired_timers]
