"""/standards: the judgement standards and key inspection items; import (office, departments) and export."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select

from ..reports.csv_file import csv_bytes
from ..reports.xlsx import sheet_bytes
from ..services import standards
from ..services.errors import InvalidInputError
from ..store.models import Standard, StandardItem
from .context import me, now, unit_of_work

bp = Blueprint("standards", __name__)
MAX_LIST_BYTES = 5 * 1024 * 1024


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        counts = dict(session.execute(select(StandardItem.standard_id, func.count(StandardItem.id))
                                      .group_by(StandardItem.standard_id)).all())
        rows = [(s, counts.get(s.id, 0)) for s in session.scalars(select(Standard).order_by(Standard.code))]
        sector_names = standards.sector_names(session)
    return render_template("standards.html", standards=rows, sector_names=sector_names, error=error), status


@bp.get("/standards")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/standards")
@login_required
def upload() -> Response | tuple[str, int]:
    file = request.files.get("list")
    if file is None or not file.filename:
        return _page(_("请选择 CSV 或 XLSX 文件"), 422)
    content = file.read(MAX_LIST_BYTES + 1)
    if len(content) > MAX_LIST_BYTES:
        return _page(_("文件过大"), 413)
    try:
        with unit_of_work() as session:
            result = standards.import_rows(session, me(), standards.read_table(content, file.filename), now())
    except InvalidInputError as refused:
        return _page(str(refused), 422)
    flash(_("已导入 %(count)s 条", count=result.items), "info")
    return redirect(url_for("standards.index"))


@bp.get("/standards/export.<kind>")
@login_required
def export(kind: str) -> Response:
    if kind not in ("csv", "xlsx"):
        raise InvalidInputError("export as csv or xlsx")
    with unit_of_work() as session:
        rows = standards.export_rows(session)
    content = csv_bytes(rows) if kind == "csv" else sheet_bytes(rows, "standards")
    mimetype = "text/csv" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=standards.{kind}"})
