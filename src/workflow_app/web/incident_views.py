"""/admin/incidents (office): instances stopped at a failed step; retry with corrected data or skip with a reason."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..services import incidents
from ..services.errors import InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("incidents", __name__)


@bp.get("/admin/incidents")
@login_required
def index() -> str:
    show_all = request.args.get("all") == "1"
    with unit_of_work() as session:
        rows = incidents.list_incidents(session, me(), open_only=not show_all)
    return render_template("incidents.html", incidents=rows, show_all=show_all)


def _page(incident_id: int, error: str | None = None, corrections: str = "", status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        incident = incidents.get_incident(session, me(), incident_id)
    data = json.dumps(incident.data, ensure_ascii=False, indent=2, sort_keys=True)
    return render_template("incident.html", incident=incident, data=data, error=error,
                           corrections=corrections), status


@bp.get("/admin/incidents/<int:incident_id>")
@login_required
def show(incident_id: int) -> tuple[str, int]:
    return _page(incident_id)


@bp.post("/admin/incidents/<int:incident_id>/retry")
@login_required
def retry(incident_id: int) -> Response | tuple[str, int]:
    text = request.form.get("corrections", "").strip()
    try:
        corrections = json.loads(text) if text else {}
        if not isinstance(corrections, dict):
            raise ValueError("not an object")
    except ValueError:
        return _page(incident_id, _("更正数据须为 JSON 对象，例如 {\"rate\": 120}"), text, 422)
    with unit_of_work() as session:
        incidents.retry(session, me(), incident_id, corrections, now())
    flash(_("已重试"), "info")
    return redirect(url_for("incidents.index"))


@bp.post("/admin/incidents/<int:incident_id>/skip")
@login_required
def skip(incident_id: int) -> Response | tuple[str, int]:
    try:
        with unit_of_work() as session:
            incidents.skip(session, me(), incident_id, request.form.get("reason", ""), now())
    except InvalidInputError as refused:
        return _page(incident_id, str(refused), status=422)
    flash(_("已跳过"), "info")
    return redirect(url_for("incidents.index"))
