"""/spot-checks: the office draws a month's closures for re-verification; office and departments record results.

The draw's seed is made on the server (services/draws.py, `secrets`) and kept in the record; nobody types
one. Anyone on the page can redo a draw from its recorded seed ("重新抽取（可复现）", a GET: nothing stored)
and see that it gives the recorded sample.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import spot_checks
from ..services.errors import ConflictError, InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("spot_checks", __name__)


def _page(error: str | None = None, status: int = 200, typed: dict[str, str] | None = None) -> tuple[str, int]:
    redraw = request.args.get("redraw", "")
    with unit_of_work() as session:
        shown = spot_checks.page(session, me(), int(redraw) if redraw.isdigit() and len(redraw) < 10 else None)
    return render_template("spot_checks.html", page=shown, error=error, typed=typed or {},
                           percent_of=spot_checks.percent_of,
                           default_percent=spot_checks.percent_of(spot_checks.DEFAULT_RATE)), status


@bp.get("/spot-checks")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/spot-checks")
@login_required
def draw() -> Response | tuple[str, int]:
    typed = {"month": request.form.get("month", ""), "percent": request.form.get("percent", "")}
    try:
        rate = spot_checks.rate_from_percent(typed["percent"])
        with unit_of_work() as session:
            check = spot_checks.draw(session, me(), typed["month"], now(), rate)
            month = check.month
    except InvalidInputError as refused:
        return _page(_(str(refused)), 422, typed)
    except ConflictError as refused:  # the month was drawn already
        return _page(str(refused), 409, typed)
    flash(_("已抽取 %(month)s 的销号隐患", month=month), "info")
    return redirect(url_for("spot_checks.index"))


@bp.post("/spot-checks/items/<int:item_id>")
@login_required
def result(item_id: int) -> Response | tuple[str, int]:
    try:
        with unit_of_work() as session:
            spot_checks.record_result(session, me(), item_id, request.form.get("result") == "passed",
                                      request.form.get("note", ""), now())
    except InvalidInputError as refused:
        return _page(_(str(refused)), 422)
    flash(_("已记录抽检结论"), "info")
    return redirect(url_for("spot_checks.index"))
