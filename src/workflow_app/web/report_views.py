"""The ledger page and downloads: ledger XLSX/CSV, the plan's tables, the monthly bulletin PDF."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from flask import Blueprint, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..reports.bulletin import monthly_bulletin, previous_month
from ..reports.dashboard import dashboard
from ..reports.exports import EXPORTS, ExportRequest, export
from ..reports.statistics import iso_week, period_statistics, week_of
from ..services.errors import InvalidInputError, NotFoundError
from ..services.ledger import SORTS, LedgerQuery, ledger_page
from ..store.models import Organisation, Sector, Standard, StandardItem
from .context import me, today, unit_of_work

bp = Blueprint("reports", __name__)
MEDIA = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _int(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if value and not value.isdigit():
        raise InvalidInputError("页码和编号须为整数")
    return int(value) if value else None


def _date(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInputError("日期格式应为 YYYY-MM-DD") from None


def _ledger_query() -> LedgerQuery:
    return LedgerQuery(
        level=request.args.get("level") or None, status=request.args.get("status") or None,
        source=request.args.get("source") or None, enterprise_id=_int("enterprise"), town_id=_int("town"),
        sector=request.args.get("sector") or None, department_id=_int("department"),
        standard_id=_int("standard"), item_id=_int("item"),
        overdue=request.args.get("overdue") == "1",
        listed=request.args.get("listed") == "1", found_from=_date("from"), found_to=_date("to"),
        sort=request.args.get("sort") or "newest", page=_int("page") or 1)


@bp.get("/ledger")
@login_required
def ledger() -> str:
    with unit_of_work() as session:
        page = ledger_page(session, me(), _ledger_query(), today())
        organisations = list(session.execute(select(Organisation.id, Organisation.name, Organisation.kind)
                                             .where(Organisation.kind.in_(("town", "department")))
                                             .order_by(Organisation.name)))
        sectors = list(session.execute(select(Sector.code, Sector.name).order_by(Sector.name)))
        standard_list = list(session.execute(select(Standard.id, Standard.title, Standard.doc_number)
                                             .order_by(Standard.code)))
        items = list(session.execute(select(StandardItem.id, StandardItem.number, StandardItem.text)
                                     .where(StandardItem.standard_id == page.query.standard_id)
                                     .order_by(StandardItem.id))) if page.query.standard_id else []
        enterprises = [] if me().role == "enterprise" else list(session.execute(
            select(Organisation.id, Organisation.name).where(Organisation.kind == "enterprise")
            .order_by(Organisation.name).limit(500)))
    return render_template("ledger.html", page=page, sorts=list(SORTS), sectors=sectors, enterprises=enterprises,
                           standards=standard_list, items=items,
                           towns=[(o.id, o.name) for o in organisations if o.kind == "town"],
                           departments=[(o.id, o.name) for o in organisations if o.kind == "department"])


@bp.get("/exports/<name>")
@login_required
def download(name: str) -> Response:
    if name not in EXPORTS:
        raise NotFoundError(f"no export {name}")
    buffer = io.BytesIO()
    with unit_of_work() as session:
        export(session, me(), ExportRequest(name, request.args.get("campaign") or None,
                                            request.args.get("week") or None, _ledger_query()), buffer, today())
    suffix = "csv" if name.endswith(".csv") else "xlsx"
    filename = f"{name.split('.')[0]}-{today().isoformat()}.{suffix}"
    buffer.seek(0)
    return send_file(buffer, mimetype=MEDIA[suffix], as_attachment=True, download_name=filename)


@bp.get("/bulletin.pdf")
@login_required
def bulletin() -> Response:
    if me().role not in ("office", "department", "town"):
        raise NotFoundError("the bulletin is for the office, departments and towns")
    month = request.args.get("month") or previous_month(today())
    buffer = io.BytesIO()
    with unit_of_work() as session:
        monthly_bulletin(session, month, buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/pdf", as_attachment=True, download_name=f"bulletin-{month}.pdf")


def _overseer() -> None:
    if me().role not in ("office", "department", "town"):
        raise NotFoundError("statistics are for the office, departments and towns")


WEEK = re.compile(r"(\d{4})-W(\d{1,2})")


@bp.get("/statistics")
@login_required
def statistics() -> str:
    """Weekly statistics (周调度) per town and department, week over week.

    A week is Monday to Sunday in Asia/Shanghai (`today()` is Shanghai's date); `?week=2026-W48` is an ISO week.
    """
    _overseer()
    week = request.args.get("week", "").strip().upper()
    found = WEEK.fullmatch(week)
    if week and not found:
        raise InvalidInputError(_("周次格式应为 2026-W48"))
    try:
        day = date.fromisocalendar(int(found[1]), int(found[2]), 1) if found else today()
    except ValueError:
        raise InvalidInputError(_("没有这一周：%(week)s", week=week)) from None
    start, end = week_of(day)
    with unit_of_work() as session:
        stats = period_statistics(session, start, end)
    year, number, _weekday = start.isocalendar()
    return render_template("statistics.html", stats=stats, week=iso_week(start), week_year=year, week_number=number,
                           monday=start, sunday=end - timedelta(days=1),
                           previous=iso_week(start - timedelta(days=7)), following=iso_week(end))


@bp.get("/dashboard")
@login_required
def dashboard_page() -> str:
    _overseer()
    file_url = url_for("enterprises.show", enterprise_id=0)[:-1]  # one url_for, not one per enterprise on the map
    with unit_of_work() as session:
        board = dashboard(session, today(), me(), words=_, enterprise_url=lambda i: f"{file_url}{i}")
    return render_template("dashboard.html", board=board)
