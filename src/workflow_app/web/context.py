"""Per-request helpers shared by the views: the app's services, the signed-in user, now."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app
from flask_login import current_user
from sqlalchemy.orm import Session

from ..engine.calendar import SHANGHAI
from ..store.database import transaction
from ..store.models import User

if TYPE_CHECKING:
    from . import AppServices


def app_services() -> AppServices:
    return current_app.extensions["workflow_app"]  # type: ignore[no-any-return]


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for one request's work."""
    with transaction(app_services().factory) as session:
        yield session


def now() -> datetime:
    return app_services().clock()


def today() -> date:
    """Today's date in Asia/Shanghai (what 'overdue' is measured against)."""
    return now().astimezone(SHANGHAI).date()


def me() -> User:
    """The signed-in user's record (views that call this are behind login_required)."""
    return current_user.user  # type: ignore[no-any-return]


def local_path(target: str | None) -> str | None:
    """`target` if it is a path of this site, else None: no other host, even spelled as browsers
    read ``/\\host`` or with control characters (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target) or urlsplit(target).netloc:
        return None
    return target
