"""Personal API tokens: shown once, stored as a SHA-256, with scopes and an expiry."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import ApiToken, User
from .errors import InvalidInputError, NotFoundError

PREFIX = "wfa_"
SCOPES = ("read", "write")
MAX_DAYS = 366


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str, scopes: list[str], days: int,
                 now: datetime) -> tuple[str, ApiToken]:
    """A new token for `user`; the plain text is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("a token needs a name of at most 100 characters")
    if not scopes or any(scope not in SCOPES for scope in scopes):
        raise InvalidInputError(f"scopes must be among {', '.join(SCOPES)}")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"a token lives 1 to {MAX_DAYS} days")
    plain = PREFIX + secrets.token_urlsafe(32)
    ordered = [scope for scope in SCOPES if scope in scopes or scope == "read"]
    token = ApiToken(user_id=user.id, name=name, token_hash=_digest(plain), scopes=",".join(ordered),
                     created_at=now, expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    return plain, token


def revoke_token(session: Session, user: User, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the user's own tokens (revoking twice changes nothing)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFoundError(f"token {token_id} not found")
    token.revoked_at = token.revoked_at or now
    return token


def user_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def authenticate(session: Session, plain: str, now: datetime) -> tuple[User, set[str]] | None:
    """The user and scopes of a valid token; None for an unknown, expired or revoked one."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain)))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    token.last_used_at = now
    return user, set(token.scopes.split(","))
