"""Signing in through the single sign-on provider: which account a proven subject opens, if any.

The web side (web/oidc.py) has already proven the subject: the provider's ID token, its signature
checked against the provider's keys, for this client, not expired, with our nonce. Here only our
own rule is left: the subject must be linked to an account (people.set_oidc_subject) and the
account active. Nothing is ever created or linked by signing in.

The password throttles (services/sign_in.py) do not apply: they count password guesses, and
there is none here; the provider guards its own sign-in.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import User


class NotLinked(Exception):
    """The subject is linked to no account."""


class Disabled(Exception):
    """The subject's account is disabled."""


def account_for_subject(session: Session, subject: str) -> User:
    """The active account linked to `subject`; NotLinked or Disabled otherwise."""
    user = session.scalar(select(User).where(User.oidc_subject == subject))
    if user is None:
        raise NotLinked(subject)
    if not user.active:
        raise Disabled(user.id)
    return user
