"""A task page: the form its BPMN declares, validated on the server, errors beside fields."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..engine import FormSpec, FormValidationError
from ..services import tasks
from ..services.errors import InvalidInputError
from ..services.hazards import get_hazard
from ..store.models import Hazard, InboxTask
from .context import app_services, me, now, unit_of_work
from .forms import error_messages, submitted_photos, submitted_values

bp = Blueprint("tasks", __name__)


def _render(task: InboxTask, hazard: Hazard, form: FormSpec, values: dict[str, Any],
            errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    return render_template("task.html", task=task, hazard=hazard, form=form, values=values,
                           errors=errors), status


@bp.get("/tasks/<task_id>")
@login_required
def show(task_id: str) -> tuple[str, int]:
    with unit_of_work() as session:
        task, form = tasks.task_form(session, me(), task_id)
        hazard = get_hazard(session, me(), task.hazard_id or 0)
    return _render(task, hazard, form, {}, {})


@bp.post("/tasks/<task_id>")
@login_required
def submit(task_id: str) -> Response | tuple[str, int]:
    with unit_of_work() as session:
        task, form = tasks.task_form(session, me(), task_id)
        hazard = get_hazard(session, me(), task.hazard_id or 0)
    values = submitted_values(form)
    try:
        uploads = submitted_photos(form, app_services().evidence)
        with unit_of_work() as session:
            tasks.complete_task(session, me(), task_id, values, now(), uploads)
    except FormValidationError as invalid:
        return _render(task, hazard, form, values, error_messages(form, invalid.errors), 422)
    except InvalidInputError as refused:
        return _render(task, hazard, form, values, {"_form": str(refused)}, 422)
    flash(_("已提交：%(name)s", name=task.name), "info")
    return redirect(url_for("hazards.show", hazard_id=hazard.id))
