"""Cases: start a run of a deployed model (a permit, a third-party process), list them, show one."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from ..engine import FormValidationError
from ..services import audit, cases
from ..services.errors import InvalidInputError, NotFoundError
from ..services.history_words import read_history
from ..services.model_registry import latest_version, process_model
from ..store.models import InboxTask, ProcessInstanceRow
from .context import me, now, unit_of_work
from .forms import error_messages, submitted_values
from .hazard_views import progress_diagram, reportable_enterprises

bp = Blueprint("cases", __name__)


@bp.get("/cases")
@login_required
def index() -> str:
    with unit_of_work() as session:
        models = cases.startable_models(session)
        rows = cases.list_cases(session, me())
    return render_template("cases.html", models=models, cases=rows)


@bp.route("/cases/new/<process_id>", methods=["GET", "POST"])
@login_required
def new(process_id: str) -> str | Response | tuple[str, int]:
    with unit_of_work() as session:
        if process_id in cases.BUILT_IN_PROCESSES:
            raise NotFoundError(process_id)
        version = latest_version(session, process_id)
        name, form = version.name, process_model(version).start_form
        enterprises = reportable_enterprises(session, active_only=False)
    page = {"process_id": process_id, "name": name, "form": form, "enterprises": enterprises}
    if request.method == "GET":
        return render_template("case_new.html", values={}, errors={}, **page)
    values = submitted_values(form)
    chosen = request.form.get("enterprise_id", "")
    try:
        with unit_of_work() as session:
            case = cases.start_case(session, me(), process_id, values, now(),
                                    int(chosen) if chosen.isdigit() else None, request.form.get("title", ""))
            case_id, code = case.id, case.code
    except FormValidationError as invalid:
        return render_template("case_new.html", values=values, errors=error_messages(form, invalid.errors),
                               **page), 422
    except InvalidInputError as refused:
        return render_template("case_new.html", values=values, errors={"_form": str(refused)}, **page), 422
    flash(_("已发起 %(code)s", code=code), "info")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.get("/cases/<int:case_id>")
@login_required
def show(case_id: int) -> str:
    with unit_of_work() as session:
        case = cases.get_case(session, me(), case_id)
        row = session.get(ProcessInstanceRow, case.instance_id)
        assert row is not None
        instance_status, model_name = row.status, row.model_version.name
        steps = list(session.scalars(select(InboxTask).where(InboxTask.case_id == case.id).order_by(InboxTask.id)))
        history = read_history(session, case.instance_id, audit.history(session, "case", case.id))
    return render_template("case.html", case=case, model_name=model_name, instance_status=instance_status,
                           open_steps=[t for t in steps if t.completed_at is None], history=history)


@bp.get("/cases/<int:case_id>/diagram.svg")
@login_required
def diagram(case_id: int) -> Response:
    with unit_of_work() as session:
        case = cases.get_case(session, me(), case_id)
        return progress_diagram(session, case.instance_id, InboxTask.case_id == case.id)
