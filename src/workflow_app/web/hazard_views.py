"""Hazard pages: the list, reporting, one hazard with history, photos and its diagram."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..diagram import render_svg
from ..engine import FormValidationError
from ..services import documents, evidence, hazards, holidays, penalties, roles, standards, supervision_listings
from ..services.errors import InvalidInputError
from ..services.history_words import read_history
from ..services.model_registry import latest_version, process_model
from ..services.roles import source_shown_to, steps_shown_to
from ..store.models import InboxTask, ProcessInstanceRow, StandardItem
from .context import app_services, me, now, today, unit_of_work
from .downloads import send_evidence
from .forms import error_messages, keep_for_retry, staging, submitted_photos, submitted_values

bp = Blueprint("hazards", __name__)
REPORT_FORM = "report"
"""The staging folder of the report form (photos kept for a retry)."""


def reportable_enterprises(session: Session, active_only: bool = True) -> list[tuple[int, str]]:
    """The enterprises the signed-in user may report for (or start cases for)."""
    return roles.reportable_enterprises(session, me(), active_only)


@bp.route("/hazards/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    with unit_of_work() as session:
        form = process_model(latest_version(session, hazards.HAZARD_PROCESS)).start_form
        enterprises = reportable_enterprises(session)
        items = _judgement_items(session, [e[0] for e in enterprises])
    if request.method == "GET":
        return render_template("report.html", form=form, enterprises=enterprises, values={}, errors={}, items=items)
    values = submitted_values(form)
    enterprise_id = request.form.get("enterprise_id", "")
    item_ids = _chosen_items()
    staged, uploads = staging(REPORT_FORM), None
    try:
        uploads = submitted_photos(form, app_services().evidence, staged)
        if not enterprise_id.isdigit():
            raise InvalidInputError(_("请选择企业"))
        with unit_of_work() as session:
            reported = hazards.report_hazard(session, me(), int(enterprise_id), values, now(), uploads,
                                             judged_item_ids=item_ids)
    except FormValidationError as invalid:
        return render_template("report.html", form=form, enterprises=enterprises, values=values,
                               errors=error_messages(form, invalid.errors), items=items,
                               staged=keep_for_retry(staged, uploads), staged_key=REPORT_FORM), 422
    except InvalidInputError as refused:
        return render_template("report.html", form=form, enterprises=enterprises, values=values,
                               errors={"_form": _(str(refused))}, items=items,
                               staged=keep_for_retry(staged, uploads), staged_key=REPORT_FORM), 422
    staged.discard()
    flash(_("已上报隐患 %(code)s", code=reported.code), "info")
    return redirect(url_for("hazards.show", hazard_id=reported.hazard_id))


def _judgement_items(session: Session, enterprise_ids: list[int]) -> list[StandardItem]:
    """The items of the standards in force for the sectors of these enterprises (what a reporter may pick)."""
    return standards.enterprise_items(session, enterprise_ids, today())


def _chosen_items() -> list[int]:
    """The standard items ticked in the picker (`_items.html`)."""
    return [int(v) for v in request.form.getlist("judged_item_id") if v.isdigit()]


@bp.post("/hazards/<int:hazard_id>/rejudge")
@login_required
def rejudge(hazard_id: int) -> Response:
    with unit_of_work() as session:
        hazards.rejudge(session, me(), hazard_id, request.form.get("level", ""), _chosen_items(),
                        request.form.get("reason", ""), now())
    flash(_("已重新判定"), "info")
    return redirect(url_for("hazards.show", hazard_id=hazard_id))


@bp.get("/hazards/<int:hazard_id>")
@login_required
def show(hazard_id: int) -> str:
    user = me()
    with unit_of_work() as session:
        hazard = hazards.get_hazard(session, user, hazard_id)
        steps = list(session.scalars(select(InboxTask).where(steps_shown_to(user, hazard)).order_by(InboxTask.id)))
        photos = evidence.for_hazard(session, hazard.id)
        history = read_history(session, hazard.instance_id, hazards.hazard_history(session, user, hazard))
        judged = list(hazard.judged_items)
        items = _judgement_items(session, [hazard.enterprise_id]) if user.role != "enterprise" else []
        open_steps = [t for t in steps if t.completed_at is None]
        deadline = hazard.rectification_deadline if hazard.closed_at is None else None
        gaps = holidays.missing_around(session, deadline, *[t.due_on for t in open_steps])
        offers = documents.offers_on_hazard(session, user, hazard)
        listings = supervision_listings.listings_of(session, user, hazard)
        may_propose = supervision_listings.may_propose(session, user, hazard)
        decided = penalties.for_hazard(session, hazard.id)
    return render_template("hazard.html", hazard=hazard, open_steps=open_steps, photos=photos, history=history,
                           listings=listings, may_propose=may_propose,
                           source=source_shown_to(user, hazard), sees_reporter=user.role == "office",
                           judged=judged, items=items, holiday_gaps=gaps, offers=offers,
                           penalties=decided)


@bp.get("/hazards/<int:hazard_id>/diagram.svg")
@login_required
def diagram(hazard_id: int) -> Response:
    with unit_of_work() as session:
        hazard = hazards.get_hazard(session, me(), hazard_id)
        return progress_diagram(session, hazard.instance_id, steps_shown_to(me(), hazard))


def progress_diagram(session: Session, instance_id: int, steps_of: Any) -> Response:
    """The instance's model drawn with its open steps highlighted and passed ones marked.

    `steps_of` selects the record's inbox rows (all its instances, e.g. a reopened hazard's).
    """
    row = session.get(ProcessInstanceRow, instance_id)
    assert row is not None
    steps = list(session.execute(select(InboxTask.bpmn_id, InboxTask.completed_at).where(steps_of)))
    current = {s.bpmn_id for s in steps if s.completed_at is None}
    done = {s.bpmn_id for s in steps if s.completed_at is not None} - current
    response = Response(render_svg(row.model_version.xml, current=current, done=done), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/photos/<int:photo_id>")
@login_required
def photo(photo_id: int) -> Response:
    return _send_photo(photo_id, thumbnail=False)


@bp.get("/photos/<int:photo_id>/thumb")
@login_required
def thumbnail(photo_id: int) -> Response:
    return _send_photo(photo_id, thumbnail=True)


def _send_photo(photo_id: int, thumbnail: bool) -> Response:
    with unit_of_work() as session:
        found = evidence.visible_photo(session, me(), photo_id)
    return send_evidence(found.sha256, found.media_type, found.original_name, thumbnail)
