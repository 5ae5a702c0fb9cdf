"""A user's own account: ending every session, changing the password.

Each signed-in session carries the user's session version from the moment of sign-in; bumping
the version ends every session that carries an older one, on every device and every process.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from ..store.models import User
from . import audit
from .errors import InvalidInputError
from .passwords import PasswordRefused, check_policy, hash_password

__all__ = ["PasswordRefused", "change_password", "end_sessions"]


def end_sessions(session: Session, user_id: int) -> User:
    """Bump the user's session version: every session signed in before now is over."""
    user = session.get(User, user_id, with_for_update={"of": User})
    if user is None:
        raise InvalidInputError(f"no user {user_id}")
    user.session_version += 1
    return user


def change_password(session: Session, user_id: int, current: str, new: str, again: str, now: datetime) -> User:
    """Set a new password and end every session of the user; returns the user with its new session version.

    Refused, changing nothing, when the current password is wrong, the two new ones differ, the
    new one fails the policy (services/passwords.py) or is the current one. A forced change
    (first sign-in, after a reset) is done by this.
    """
    user = session.get(User, user_id, with_for_update={"of": User})
    if user is None or not check_password_hash(user.password_hash, current):
        raise PasswordRefused("wrong_current")
    if new != again:
        raise PasswordRefused("mismatch")
    if new == current:
        raise PasswordRefused("unchanged")
    check_policy(user.username, new)
    user.password_hash = hash_password(new)
    forced, user.must_change_password = user.must_change_password, False
    end_sessions(session, user.id)
    audit.record(session, user, "change_password", "user", user.id,
                 {"before": {"must_change_password": forced}, "after": {"must_change_password": False}}, now)
    return user
