"""/healthz: is the app usable and is the zone's scheduler alive (see services/health.py for the checks).

It answers within PROBE_SECONDS whatever the database does: the reads run in a probe thread that the
request stops waiting for, and on PostgreSQL under their own statement_timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..services import health
from ..store.database import transaction
from .context import app_services, now

bp = Blueprint("health", __name__)
PROBE_SECONDS = 1.5
T = TypeVar("T")


class Probe:
    """Runs a database read in a thread and waits for it at most `seconds`.

    Callers arriving while a read is under way share it rather than start another, so a frozen
    database holds one thread (until the database limits free it), never one per health check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: tuple[threading.Event, dict[str, Any]] | None = None

    def run(self, work: Callable[[], T], seconds: float) -> T:
        """`work()`'s result; TimeoutError when it takes longer, or whatever it raised."""
        with self._lock:
            if self._current is None:
                self._current = (threading.Event(), {})
                threading.Thread(target=self._work, args=(work, *self._current), daemon=True).start()
            done, outcome = self._current
        if not done.wait(seconds):
            raise TimeoutError(f"the database did not answer within {seconds} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]  # type: ignore[no-any-return]

    def _work(self, work: Callable[[], Any], done: threading.Event, outcome: dict[str, Any]) -> None:
        try:
            outcome["value"] = work()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            with self._lock:
                self._current = None
            done.set()


def short_session(session: Session, seconds: float) -> Session:
    """`session` with its statements limited to `seconds` on PostgreSQL (until its transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {round(seconds * 1000)}"))
    return session


def _read(factory: sessionmaker[Session], moment: datetime, interval: timedelta) -> dict[str, health.Check]:
    with transaction(factory) as session:
        short_session(session, PROBE_SECONDS).execute(text("SELECT 1"))
        return health.zone_checks(session, moment, interval)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Each check with its state; 503 only when an operator must act (health.py says which)."""
    services, moment = app_services(), now()
    interval = timedelta(seconds=services.sweep_seconds)
    try:
        checks = services.health_probe.run(lambda: _read(services.factory, moment, interval), PROBE_SECONDS)
        checks = {"database": health.Check("ok"), **checks}
    except (SQLAlchemyError, TimeoutError) as exc:
        checks = {"database": health.Check("fail", {"error": type(getattr(exc, "orig", None) or exc).__name__})}
    status = health.overall(checks)
    body = {"status": status, "sweep_interval_seconds": services.sweep_seconds,
            "checks": {name: check.as_json() for name, check in checks.items()}}
    return jsonify(body), 503 if status == "fail" else 200
