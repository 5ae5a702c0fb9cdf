"""/holidays (节假日): the office's holiday table by year, which years are missing, and the CSV import."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import holidays
from ..services.errors import ConflictError, InvalidInputError
from ..services.holiday_csv import EARLIEST_YEAR, LATEST_YEAR, MAX_BYTES, read_rows
from .context import me, now, today, unit_of_work

bp = Blueprint("holidays", __name__)


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    holidays.require_office(me())
    this_year = today().year
    year_text = request.args.get("year", "")
    with unit_of_work() as session:
        years = holidays.known_years(session)
        asked = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
        shown = asked if asked is not None and EARLIEST_YEAR <= asked <= LATEST_YEAR else (
            this_year if any(y.year == this_year for y in years) or not years else years[0].year)
        days = holidays.days_of(session, shown)
        missing = holidays.missing_years(session, this_year, this_year + 1)
    return render_template("holidays.html", years=years, shown=shown, days=days, missing=missing,
                           error=error), status


@bp.get("/holidays")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/holidays")
@login_required
def upload() -> Response | tuple[str, int]:
    holidays.require_office(me())
    file = request.files.get("calendar")
    if file is None or not file.filename:
        return _page(_("请选择 CSV 文件"), 422)
    content = file.read(MAX_BYTES + 1)
    try:
        rows = read_rows(content, file.filename)
        with unit_of_work() as session:
            summary = holidays.import_rows(session, me(), rows, now())
    except (InvalidInputError, ConflictError) as refused:
        return _page(str(refused), 409 if isinstance(refused, ConflictError) else 422)
    flash(_("已导入 %(years)s 年：放假 %(holidays)s 天，调休上班 %(workdays)s 天",
            years="、".join(map(str, summary.years)), holidays=summary.holidays, workdays=summary.workdays), "info")
    return redirect(url_for("holidays.index", year=summary.years[0]))
