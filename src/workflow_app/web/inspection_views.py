"""/inspections: enforcement inspections (执法检查) — the list each role may see, the department's form
(choose an enterprise it supervises, then record), one inspection's page and its penalties."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..engine import FormValidationError
from ..services import documents, inspections, penalties
from ..services.enforcement import record_inspection
from ..services.errors import ConflictError, InvalidInputError
from .context import me, now, today, unit_of_work

bp = Blueprint("inspections", __name__)
HAZARD_SLOTS = 3
"""Rows for hazards found on the form (left blank: none); the API takes any number."""
HAZARD_FIELDS = ("title", "hazard_level", "category", "location", "description")


@bp.get("/inspections")
@login_required
def index() -> str:
    with unit_of_work() as session:
        rows = inspections.list_inspections(session, me())
    return render_template("inspections.html", rows=rows)


@bp.get("/inspections/new")
@login_required
def new() -> tuple[str, int]:
    return _form()


def _form(error: str | None = None, status: int = 200) -> tuple[str, int]:
    """Step 1 picks the enterprise (search by name or pinyin initials); step 2 is the inspection form."""
    enterprise_id = request.values.get("enterprise_id", "")
    with unit_of_work() as session:
        choices = inspections.inspectable_enterprises(session, me(), request.args.get("q", "")[:100])
        chosen = next((c for c in choices if str(c[0]) == enterprise_id), None)
        own = inspections.self_reported_open_majors(session, [chosen[0]]) if chosen else []
        team = inspections.teams_of(session, me(), today().year).get(chosen[0]) if chosen else None
    return render_template("inspection_new.html", choices=choices, chosen=chosen, own=own, team=team,
                           slots=range(1, HAZARD_SLOTS + 1), today=today(), error=error), status


@bp.post("/inspections/new")
@login_required
def create() -> Response | tuple[str, int]:
    form = request.form
    enterprise = form.get("enterprise_id", "")
    try:
        if not enterprise.isdigit() or len(enterprise) > 18:
            raise ValueError(enterprise)
        enterprise_id, inspected_on = int(enterprise), date.fromisoformat(form.get("inspected_on", ""))
    except ValueError:
        return _form(_("请选择企业并填写检查日期"), 422)
    acknowledged = [int(v) for v in form.getlist("self_reported_id") if v.isdigit() and len(v) <= 18]
    try:
        with unit_of_work() as session:
            result = record_inspection(session, me(), enterprise_id, form.get("team", ""), inspected_on,
                                       form.get("findings", ""), _found(inspected_on), acknowledged, now(),
                                       inspectors=form.get("inspectors", ""))
    except FormValidationError as invalid:
        return _form(_("发现的隐患：") + "；".join(e.message for e in invalid.errors), 422)
    except InvalidInputError as refused:
        return _form(_(str(refused)), 422)
    flash(_("已记录执法检查，发现隐患 %(n)s 项", n=len(result.new_hazard_ids)), "info")
    return redirect(url_for("inspections.show", inspection_id=result.inspection_id))


def _found(inspected_on: date) -> list[dict[str, Any]]:
    """The hazard rows filled in, each as the hazard model's start form (found on the inspection's date)."""
    found = []
    for slot in range(1, HAZARD_SLOTS + 1):
        row = {name: request.form.get(f"hazard-{slot}-{name}", "").strip() for name in HAZARD_FIELDS}
        if row["title"] or row["description"] or row["location"]:
            found.append({**{k: v for k, v in row.items() if v}, "found_on": inspected_on.isoformat()})
    return found


@bp.get("/inspections/<int:inspection_id>")
@login_required
def show(inspection_id: int) -> tuple[str, int]:
    return _page(inspection_id)


def _page(inspection_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        record = inspections.get_inspection(session, me(), inspection_id)
        offers = documents.offers_of(session, me(), [("rectification_order", inspection_id)])
    decides = me().role == "department" and me().organisation_id == record.inspection.department_id
    return render_template("inspection.html", file=record, decides=decides, kinds=penalties.KINDS,
                           targets=penalties.TARGETS, today=today(), error=error,
                           offers=offers), status


@bp.post("/inspections/<int:inspection_id>/penalties")
@login_required
def penalise(inspection_id: int) -> Response | tuple[str, int]:
    form = request.form
    try:
        hazard = form.get("hazard_id", "")
        decision = penalties.Decision(
            case_number=form.get("case_number", ""), legal_basis=form.get("legal_basis", ""),
            decided_by=form.get("decided_by", ""), decided_on=date.fromisoformat(form.get("decided_on", "")),
            unit=_sanction("unit"), principal=_sanction("principal"), principal_name=form.get("principal_name", ""),
            hazard_id=int(hazard) if hazard.isdigit() and len(hazard) <= 18 else None)
        with unit_of_work() as session:
            recorded = penalties.record_penalties(session, me(), inspection_id, decision, now())
            case_number = recorded[0].case_number
    except ValueError:
        return _page(inspection_id, _("决定日期应为日期（YYYY-MM-DD）"), 422)
    except (InvalidInputError, ConflictError) as refused:
        return _page(inspection_id, _(str(refused)), 422)
    flash(_("已记录行政处罚 %(case)s", case=case_number), "info")
    return redirect(url_for("inspections.show", inspection_id=inspection_id) + "#penalties")


def _sanction(target: str) -> penalties.Sanction | None:
    kind = request.form.get(f"{target}_kind", "")
    return penalties.Sanction(kind, request.form.get(f"{target}_amount", "")) if kind else None
