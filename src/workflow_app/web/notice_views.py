"""The notification centre (/notices) and the health check (/healthz)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from ..services import holidays, notice_centre
from ..services.dispatch import retry_parked
from ..services.errors import PermissionDeniedError
from ..store.models import JobRun, TimerRow
from .context import app_services, me, now, unit_of_work

bp = Blueprint("notices", __name__)


@bp.get("/notices")
@login_required
def index() -> str:
    user = me()
    with unit_of_work() as session:
        notices = notice_centre.inbox_notices(session, user)
        office = user.role == "office"
        parked = notice_centre.parked_notices(session, user) if office else []
        candidates = notice_centre.supervision_candidates(session, user) if office else []
    return render_template("notices.html", notices=notices, parked=parked, candidates=candidates)


@bp.post("/notices/read")
@login_required
def mark_read() -> Response:
    with unit_of_work() as session:
        notice_centre.mark_all_read(session, me(), now())
    return redirect(url_for("notices.index"))


@bp.post("/notices/<int:notice_id>/retry")
@login_required
def retry(notice_id: int) -> Response:
    if me().role != "office":
        raise PermissionDeniedError("only the safety committee office retries notices")
    with unit_of_work() as session:
        count = retry_parked(session, [notice_id])
    flash(_("已重新排队 %(count)s 条通知", count=count), "info")
    return redirect(url_for("notices.index"))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Database reachable, the sweep's last run, timers due and the lag; 503 when down or lagging."""
    moment = now()
    interval = app_services().sweep_seconds
    try:
        with unit_of_work() as session:
            session.execute(text("SELECT 1"))
            sweep_run = session.get(JobRun, "sweep")
            due = session.scalar(select(func.count(TimerRow.id)).where(TimerRow.fire_at <= moment)) or 0
            oldest = session.scalar(select(TimerRow.fire_at).where(TimerRow.fire_at <= moment)
                                    .order_by(TimerRow.fire_at).limit(1))
            holiday_calendar = holidays.health_warning(session, moment)  # reported, not a 503 by itself
    except SQLAlchemyError as exc:
        return jsonify(status="down", database=False, error=type(exc).__name__), 503
    lag = (moment - oldest).total_seconds() if oldest else 0.0
    lagging = lag > 3 * interval
    body: dict[str, Any] = {
        "status": "lagging" if lagging else "ok", "database": True, "timers_due": due, "lag_seconds": round(lag, 1),
        "sweep_interval_seconds": interval, "holiday_calendar": holiday_calendar,
        "sweep": None if sweep_run is None else {
            "last_run": sweep_run.started_at.isoformat(), "duration_ms": float(sweep_run.duration_ms or 0),
            "fired": sweep_run.processed, "error": sweep_run.error},
    }
    return jsonify(body), 503 if lagging else 200


def init_app(app: Flask) -> None:
    @app.context_processor
    def unread_notices() -> dict[str, Any]:
        if not current_user.is_authenticated:
            return {"unread_notices": 0}
        with unit_of_work() as session:
            return {"unread_notices": notice_centre.unread_count(session, me())}
