"""/inspection-plans: a department draws its yearly 双随机 plan; the office reads every department's."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import inspection_plans
from ..services.errors import ConflictError, InvalidInputError
from .context import me, now, today, unit_of_work

bp = Blueprint("inspection_plans", __name__)


def _index(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        plans = inspection_plans.plans(session, me())
    return render_template("inspection_plans.html", plans=plans, year=today().year, error=error), status


@bp.get("/inspection-plans")
@login_required
def index() -> tuple[str, int]:
    return _index()


@bp.post("/inspection-plans")
@login_required
def draw() -> Response | tuple[str, int]:
    form = request.form
    numbers = [form.get(name, "").strip() for name in ("year", "size", "per_enterprise", "seed")]
    if not all(n.isdigit() and len(n) <= 19 for n in numbers if n) or not all(numbers[:3]):
        return _index(_("年度、抽取企业数、每家企业检查人员数和随机种子须为非负整数"), 422)
    try:
        with unit_of_work() as session:
            plan = inspection_plans.draw_plan(session, me(), int(numbers[0]), int(numbers[1]), int(numbers[2]), now(),
                                              int(numbers[3]) if numbers[3] else None)
            plan_id = plan.id
    except (InvalidInputError, ConflictError) as refused:
        return _index(_(str(refused)), 422)
    flash(_("已抽取 %(year)s 年度双随机抽查计划", year=numbers[0]), "info")
    return redirect(url_for("inspection_plans.show", plan_id=plan_id))


@bp.get("/inspection-plans/<int:plan_id>")
@login_required
def show(plan_id: int) -> str:
    with unit_of_work() as session:
        plan, entries = inspection_plans.get_plan(session, me(), plan_id)
        reproducible = inspection_plans.redraw_matches(plan, [e.entry for e in entries])
    return render_template("inspection_plan.html", plan=plan, entries=entries, reproducible=reproducible)
