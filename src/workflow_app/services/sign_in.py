"""Signing in: the password check, with equal work for every username, behind two throttles.

Failed attempts are counted per account (the username typed, known or not, so a refusal tells
nothing about who exists) and per client address, in the `sign_in_failures` table: the limits
hold across processes and hosts. From `delay_after` failures in the window each further attempt
waits a growing delay; from `lock_after` the key is locked for `LOCK` and the lock is audited.
A waiting or locked key is refused before any password is looked at.

An attempt is counted when it starts, in a transaction that locks the two rows, so guesses sent
side by side cannot slip past the count while the slow password hash runs outside any
transaction; a success takes its count back (the account's count is cleared).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from ..store.database import transaction
from ..store.models import SignInFailures, User
from . import audit


@dataclass(frozen=True)
class Policy:
    """When failures of one key start to wait and when they lock it."""

    delay_after: int
    lock_after: int


ACCOUNT = Policy(delay_after=5, lock_after=10)
ADDRESS = Policy(delay_after=10, lock_after=20)
"""An address may be a whole office behind one NAT gateway, so it gets twice the account's room."""
POLICIES = {"account": ACCOUNT, "address": ADDRESS}
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=4)
"""The delay after the `delay_after`-th failure; it doubles with each further failure up to MAX_DELAY."""
LOCK = timedelta(minutes=15)
"""From `lock_after` failures on, each further failure locks the key again for this long."""
WINDOW = timedelta(hours=1)
"""Failures are counted in a fixed window from the first one; the count starts afresh after it once no
block is in force (the delays before a lock fit well inside it: 30+60+120+240+240 s for an account)."""


class Throttled(Exception):
    """A sign-in refused unchecked: the account or the address must wait until `until`."""

    def __init__(self, scope: str, until: datetime, locked: bool):
        super().__init__(f"sign-in refused for this {scope} until {until.isoformat()}")
        self.scope, self.until, self.locked = scope, until, locked

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until an attempt is accepted again (what Retry-After says)."""
        return max(1, math.ceil((self.until - now).total_seconds()))


@dataclass(frozen=True)
class _Counted:
    """One key's count as this attempt left it, and the block it found and set."""

    scope: str
    key: str
    failures: int
    prior_block: datetime | None
    own_block: datetime | None


def sign_in(factory: sessionmaker[Session], username: str, password: str, address: str,
            now: datetime) -> User | None:
    """The active user whose password this is, or None; raises Throttled while a key must wait.

    Two short transactions: count the attempt; then, after the hash (outside any transaction), take the
    count back on a success, or on a failure audit a lock and forget stale rows.
    """
    keys = {"account": account_key(username), "address": address[:100]}
    with transaction(factory) as session:
        counted = _count_attempt(session, keys, now)
        user = session.scalar(select(User).where(User.username == username.strip()))
    if not password_matches(user, password):
        with transaction(factory) as session:
            _forget_stale(session, now)
            _audit_locks(session, counted, now)
        return None
    with transaction(factory) as session:
        _take_back(session, counted)
    return user


def account_key(username: str) -> str:
    return username.strip().lower()[:100]


def password_matches(user: User | None, password: str) -> bool:
    """Check the password; an unknown or inactive user costs one hash of the same kind, then fails."""
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


@cache
def _dummy_hash() -> str:
    """A hash made the way stored passwords are made (same method and cost) of a password nobody knows."""
    return generate_password_hash(secrets.token_urlsafe(16))


def _count_attempt(session: Session, keys: dict[str, str], now: datetime) -> list[_Counted]:
    rows = {scope: _locked_row(session, scope, key, now) for scope, key in keys.items()}
    blocked = [(row.blocked_until, scope, row.failures >= POLICIES[scope].lock_after)
               for scope, row in rows.items() if row.blocked_until is not None and row.blocked_until > now]
    if blocked:
        until, scope, locked = max(blocked)
        raise Throttled(scope, until, locked)
    counted = []
    for scope, row in rows.items():
        prior = row.blocked_until
        row.failures += 1
        row.blocked_until = _block(POLICIES[scope], row.failures, now) or prior
        counted.append(_Counted(scope, row.key, row.failures, prior, row.blocked_until))
    return counted


def _locked_row(session: Session, scope: str, key: str, now: datetime) -> SignInFailures:
    """The key's row, created if missing, locked until the transaction ends (PostgreSQL: FOR UPDATE)."""
    insert: Callable = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(SignInFailures).values(scope=scope, key=key, window_started_at=now, failures=0)
                    .on_conflict_do_nothing(index_elements=["scope", "key"]))
    row = session.scalars(select(SignInFailures).where(SignInFailures.scope == scope, SignInFailures.key == key)
                          .with_for_update().execution_options(populate_existing=True)).one()
    if _stale(row, now):
        row.window_started_at, row.failures, row.blocked_until = now, 0, None
    return row


def _stale(row: SignInFailures, now: datetime) -> bool:
    """The window is over and no block is in force: the count starts afresh."""
    return row.window_started_at <= now - WINDOW and (row.blocked_until is None or row.blocked_until <= now)


def _forget_stale(session: Session, now: datetime) -> None:
    """Delete the rows whose count is over (failures with random usernames would otherwise pile up).

    Rows another transaction holds are skipped, so this never waits and never deadlocks.
    """
    stale = (select(SignInFailures.id).where(
        SignInFailures.window_started_at <= now - WINDOW,
        or_(SignInFailures.blocked_until.is_(None), SignInFailures.blocked_until <= now))
        .with_for_update(skip_locked=True))
    session.execute(delete(SignInFailures).where(SignInFailures.id.in_(stale))
                    .execution_options(synchronize_session=False))


def _block(policy: Policy, failures: int, now: datetime) -> datetime | None:
    """Until when the next attempt waits after this many failures (None: it need not wait)."""
    if failures >= policy.lock_after:
        return now + LOCK
    if failures >= policy.delay_after:
        return now + min(FIRST_DELAY * 2 ** (failures - policy.delay_after), MAX_DELAY)
    return None


def _audit_locks(session: Session, counted: list[_Counted], now: datetime) -> None:
    for count in counted:
        if count.failures >= POLICIES[count.scope].lock_after and count.own_block is not None:
            audit.record(session, None, "sign_in_locked", "sign_in", f"{count.scope}:{count.key}"[:60],
                         {"scope": count.scope, "failures": count.failures, "until": count.own_block.isoformat()},
                         now)


def _take_back(session: Session, counted: list[_Counted]) -> None:
    """A success: the account's count is cleared; the address loses this attempt and the block it set."""
    for count in counted:
        row = session.scalars(select(SignInFailures).with_for_update().where(
            SignInFailures.scope == count.scope, SignInFailures.key == count.key)).one_or_none()
        if row is None:
            continue
        row.failures -= 1
        if row.blocked_until == count.own_block:
            row.blocked_until = count.prior_block
        if count.scope == "account" or row.failures <= 0:
            session.delete(row)
