"""Campaign pages: the list, and one campaign's timeline, weekly filing and running counts."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from ..services.campaigns import PHASE_NAMES, REPORT_NAMES, campaign_status
from ..services.errors import NotFoundError
from ..store.models import Campaign
from .context import me, unit_of_work

bp = Blueprint("campaigns", __name__)
OVERSEERS = ("office", "town", "department")
"""Roles that take part in campaigns; enterprises do their part through hazards and duties."""


def _check_role() -> None:
    if me().role not in OVERSEERS:
        raise NotFoundError("campaign pages are for the office, towns and departments")


@bp.get("/campaigns")
@login_required
def index() -> str:
    _check_role()
    with unit_of_work() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.year.desc(), Campaign.code)))
    return render_template("campaigns.html", campaigns=campaigns, phase_names=PHASE_NAMES)


@bp.get("/campaigns/<code>")
@login_required
def show(code: str) -> str:
    _check_role()
    with unit_of_work() as session:
        status = campaign_status(session, code)
    return render_template("campaign.html", status=status, phase_names=PHASE_NAMES, report_names=REPORT_NAMES)
