"""/inbox: tabs, filters, due-date order, pages and counts; claim and release."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import bulk, inbox
from ..services.errors import InvalidInputError
from .context import app_services, local_path, me, now, today, unit_of_work

bp = Blueprint("inbox", __name__)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInputError("页码和编号须为整数")
    return int(value)


def _query() -> inbox.InboxQuery:
    return inbox.InboxQuery(
        tab=request.args.get("tab", "todo"), status=request.args.get("status") or None,
        level=request.args.get("level") or None, source=request.args.get("source") or None,
        enterprise_id=_int_arg("enterprise"),
        enterprise_text=request.args.get("enterprise_text", "").strip()[:60] or None,
        overdue=request.args.get("overdue") == "1",
        due=request.args.get("due") or None, review=request.args.get("review") == "1",
        page=_int_arg("page") or 1,
    )


@bp.get("/inbox")
@login_required
def inbox_page() -> str:
    user = me()
    wanted = _query()
    with unit_of_work() as session:
        page = inbox.inbox_page(session, user, wanted, today())
        colleagues = inbox.colleagues(session, user)
    return render_template("inbox.html", page=page, tabs=inbox.tabs_for(user), today=today(), colleagues=colleagues)


def _back() -> Response:
    """Back to the page the form was on: a path of this site only, never another host."""
    return redirect(local_path(request.form.get("next")) or url_for("inbox.inbox_page"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str) -> Response:
    with unit_of_work() as session:
        inbox.claim(session, me(), task_id, now())
    flash(_("已认领任务"), "info")
    return _back()


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str) -> Response:
    with unit_of_work() as session:
        inbox.release(session, me(), task_id, now())
    flash(_("已退回任务"), "info")
    return _back()


@bp.post("/inbox/bulk")
@login_required
def bulk_change() -> Response:
    """Claim, release or hand over the ticked tasks; each one done or refused on its own."""
    chosen = request.form.get("to_user", "")
    outcomes = bulk.apply_to_tasks(app_services().factory, me().id, request.form.getlist("task_ids"),
                                   request.form.get("action", ""), now(), int(chosen) if chosen.isdigit() else None)
    done = [o for o in outcomes if o.error is None]
    if done:
        flash(_("已处理 %(count)s 项任务", count=len(done)), "info")
    for refused in (o for o in outcomes if o.error is not None):
        flash(_("未处理 %(task)s：%(reason)s", task=refused.name or refused.task_id[:8], reason=refused.error),
              "warning")
    return _back()
