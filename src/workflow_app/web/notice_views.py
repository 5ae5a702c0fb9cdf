"""The notification centre (/notices)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ..services import notice_centre
from ..services.dispatch import retry_parked
from ..services.errors import PermissionDeniedError
from .context import me, now, unit_of_work

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
        raise PermissionDeniedError("只有安委办可以重发通知")
    with unit_of_work() as session:
        count = retry_parked(session, [notice_id])
    flash(_("已重新排队 %(count)s 条通知", count=count), "info")
    return redirect(url_for("notices.index"))


def init_app(app: Flask) -> None:
    @app.context_processor
    def unread_notices() -> dict[str, Any]:
        if not current_user.is_authenticated:
            return {"unread_notices": ""}
        with unit_of_work() as session:
            unread = notice_centre.unread_count(session, me())
        # the badge's text ("99+" past what is counted), empty when nothing is unread
        return {"unread_notices": f"{notice_centre.UNREAD_SHOWN_UP_TO}+" if unread > notice_centre.UNREAD_SHOWN_UP_TO
                else str(unread) if unread else ""}
