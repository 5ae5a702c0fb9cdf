"""Bulk work in the inbox: claim, release or hand over several tasks at once.

Each task is its own transaction, checked and audited like a single change: a task the
user may not touch is refused and reported, and the others are done all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ..store.database import transaction
from ..store.models import User
from . import inbox
from .errors import InvalidInputError, ServiceError

ACTIONS = ("claim", "release", "reassign")
MAX_TASKS = 100


@dataclass(frozen=True)
class BulkOutcome:
    """One task of a bulk change: done (error None) or why not."""

    task_id: str
    name: str
    error: str | None = None


def apply_to_tasks(factory: sessionmaker[Session], user_id: int, task_ids: list[str], action: str, now: datetime,
                   to_user_id: int | None = None) -> list[BulkOutcome]:
    """Apply `action` to each task in turn; return one outcome per task, in the order given."""
    if action not in ACTIONS:
        raise InvalidInputError(f"unknown action {action!r}")
    if action == "reassign" and to_user_id is None:
        raise InvalidInputError("请选择转交给谁")
    wanted = list(dict.fromkeys(task_ids))
    if not wanted or len(wanted) > MAX_TASKS:
        raise InvalidInputError(f"请选择 1 至 {MAX_TASKS} 项任务")
    outcomes = []
    for task_id in wanted:
        try:
            with transaction(factory) as session:
                user = session.get(User, user_id)
                assert user is not None
                if action == "claim":
                    task = inbox.claim(session, user, task_id, now)
                elif action == "release":
                    task = inbox.release(session, user, task_id, now)
                else:
                    assert to_user_id is not None
                    task = inbox.reassign(session, user, task_id, to_user_id, now)
                name = task.name
            outcomes.append(BulkOutcome(task_id, name))  # after the commit: a change that did not land is no success
        except ServiceError as refused:
            outcomes.append(BulkOutcome(task_id, "", str(refused)))  # no name: it may not be the user's to see
    return outcomes
