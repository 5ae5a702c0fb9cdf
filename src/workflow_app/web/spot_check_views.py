"""/spot-checks: the office draws a month's closures for re-verification; office and departments record results."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import spot_checks
from ..services.errors import InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("spot_checks", __name__)


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        draws = spot_checks.spot_checks(session, me())
        reproducible = {check.id: spot_checks.redraw_matches(session, check) for check, _ in draws}
    return render_template("spot_checks.html", draws=draws, reproducible=reproducible, error=error,
                           default_rate=spot_checks.DEFAULT_RATE), status


@bp.get("/spot-checks")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/spot-checks")
@login_required
def draw() -> Response | tuple[str, int]:
    try:
        rate = float(request.form.get("rate") or spot_checks.DEFAULT_RATE)
        seed_text = request.form.get("seed", "").strip()
        if seed_text and not seed_text.isdigit():
            raise InvalidInputError(_("随机种子须为非负整数"))
        with unit_of_work() as session:
            check = spot_checks.draw(session, me(), request.form.get("month", ""), now(), rate,
                                     int(seed_text) if seed_text else None)
            month = check.month
    except ValueError:
        return _page(_("抽检比例须为数字"), 422)
    except InvalidInputError as refused:
        return _page(str(refused), 422)
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
        return _page(str(refused), 422)
    flash(_("已记录抽检结论"), "info")
    return redirect(url_for("spot_checks.index"))
