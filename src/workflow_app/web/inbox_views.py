"""/inbox: tabs, filters, due-date order, pages and counts; claim and release."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..services import inbox
from ..services.errors import InvalidInputError
from ..store.models import Organisation
from .context import me, today, unit_of_work

bp = Blueprint("inbox", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInputError(f"{name} must be a whole number")
    return int(value)


def _query() -> inbox.InboxQuery:
    return inbox.InboxQuery(
        tab=request.args.get("tab", "todo"), status=request.args.get("status") or None,
        level=request.args.get("level") or None, source=request.args.get("source") or None,
        enterprise_id=_int_arg("enterprise"), overdue=request.args.get("overdue") == "1",
        page=_int_arg("page") or 1,
    )


@bp.get("/inbox")
@login_required
def inbox_page() -> str:
    user = me()
    wanted = _query()
    with unit_of_work() as session:
        page = inbox.inbox_page(session, user, wanted, today())
        enterprises = [] if user.role == "enterprise" else list(session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.kind == "enterprise")
            .order_by(Organisation.name).limit(500)))
    return render_template("inbox.html", page=page, tabs=inbox.tabs_for(user), enterprises=enterprises,
                           today=today())


def _back() -> Response:
    return redirect(request.form.get("next") or url_for("inbox.inbox_page"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str) -> Response:
    with unit_of_work() as session:
        inbox.claim(session, me(), task_id)
    flash(_("已认领任务"), "info")
    return _back()


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str) -> Response:
    with unit_of_work() as session:
        inbox.release(session, me(), task_id)
    flash(_("已退回任务"), "info")
    return _back()
