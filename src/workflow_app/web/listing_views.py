"""Supervision listings (挂牌督办): a department proposes one from the hazard page; the listings page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..engine import FormValidationError
from ..services import supervision_listings
from ..services.errors import InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("listings", __name__)

LISTING_STATUSES = {"proposed": "待决定", "listed": "挂牌督办中", "refused": "不予挂牌", "delisted": "已摘牌"}


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"LISTING_STATUSES": LISTING_STATUSES}


@bp.get("/listings")
@login_required
def index() -> str:
    status = request.args.get("status", "")
    if status not in LISTING_STATUSES:
        status = ""
    with unit_of_work() as session:
        rows = supervision_listings.list_listings(session, me(), status)
    return render_template("listings.html", listings=rows, status=status)


@bp.post("/hazards/<int:hazard_id>/listings")
@login_required
def propose(hazard_id: int) -> Response:
    try:
        with unit_of_work() as session:
            supervision_listings.propose(session, me(), hazard_id, request.form.get("proposal_reason", ""), now())
    except FormValidationError as invalid:
        flash("；".join(_(error.message) for error in invalid.errors), "error")
    except InvalidInputError as refused:
        flash(_(str(refused)), "error")
    else:
        flash(_("已提议挂牌督办，待安委办决定"), "info")
    return redirect(url_for("hazards.show", hazard_id=hazard_id))
