"""Campaign pages: the list, one campaign's timeline, weekly filing and running counts; the office starts a
campaign from a form and edits the parameters that may still change."""

from __future__ import annotations

from dataclasses import fields

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..services import campaign_edits as edits
from ..services.campaigns import PHASE_NAMES, REPORT_NAMES, campaign_status
from ..services.errors import ConflictError, InvalidInputError, NotFoundError
from ..store.models import Campaign
from .context import me, now, today, unit_of_work

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
        form = edits.form_of(session, status.campaign)
        roster = edits.units(session)
    return render_template("campaign.html", status=status, phase_names=PHASE_NAMES, report_names=REPORT_NAMES,
                           form=form, roster=roster)


def _typed() -> edits.CampaignForm:
    values = {f.name: request.form.get(f.name, "") for f in fields(edits.CampaignForm)}
    values.update(towns=request.form.getlist("towns"), departments=request.form.getlist("departments"))
    return edits.typed_form(values)


def _form_page(form: edits.CampaignForm, status: int = 200, errors: dict[str, str] | None = None,
               error: str | None = None, campaign: Campaign | None = None) -> tuple[str, int]:
    with unit_of_work() as session:
        roster = edits.units(session)
    return render_template("campaign_form.html", form=form, roster=roster, errors=errors or {}, error=error,
                           campaign=campaign, editable=edits.EDITABLE), status


@bp.get("/campaigns/new")
@login_required
def new() -> tuple[str, int]:
    with unit_of_work() as session:
        form = edits.template_form(session, me(), today())
    return _form_page(form)


@bp.post("/campaigns/new")
@login_required
def start() -> Response | tuple[str, int]:
    typed = _typed()
    try:
        with unit_of_work() as session:
            code = edits.start_from_form(session, me(), typed, now(), today()).code
    except edits.CampaignInvalid as refused:
        return _form_page(typed, 422, errors=refused.errors)
    except InvalidInputError as refused:  # the start's own checks, should the form's have let something by
        return _form_page(typed, 422, error=str(refused))
    flash(_("已启动专项行动"), "info")
    return redirect(url_for("campaigns.show", code=code))


@bp.get("/campaigns/<code>/edit")
@login_required
def edit(code: str) -> tuple[str, int]:
    with unit_of_work() as session:
        campaign, form = edits.edit_form(session, me(), code)
    return _form_page(form, campaign=campaign)


def _revision() -> int:
    text = request.form.get("revision", "")
    if not text.isdigit() or len(text) > 9:
        raise InvalidInputError(_("表单缺少版本号，请刷新页面后重试"))
    return int(text)


@bp.post("/campaigns/<code>/edit")
@login_required
def save(code: str) -> Response | tuple[str, int]:
    typed = _typed()
    try:
        with unit_of_work() as session:
            changed = edits.edit_campaign(session, me(), code, _revision(), typed, now())
    except (edits.CampaignInvalid, ConflictError) as refused:
        with unit_of_work() as session:
            campaign, stored = edits.edit_form(session, me(), code)
        if isinstance(refused, edits.CampaignInvalid):  # keep what was typed, and the revision it was read at
            return _form_page(edits.replace_editable(stored, typed), 422, errors=refused.errors, campaign=campaign)
        return _form_page(stored, 409, error=_(str(refused)), campaign=campaign)
    flash(_("已保存专项行动参数") if changed else _("没有修改"), "info")
    return redirect(url_for("campaigns.show", code=code))
