"""/delegations: name a substitute while away, see who stands in for whom, end a delegation."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import delegation, inbox
from ..services.errors import InvalidInputError
from .context import me, now, today, unit_of_work

bp = Blueprint("delegations", __name__)


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        rows = delegation.delegations_of(session, me())
        colleagues = inbox.colleagues(session, me())
    return render_template("delegations.html", delegations=rows, colleagues=colleagues, error=error,
                           today=today()), status


@bp.get("/delegations")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/delegations")
@login_required
def create() -> Response | tuple[str, int]:
    try:
        substitute = request.form.get("substitute_id", "")
        if not substitute.isdigit():
            raise InvalidInputError(_("请选择代理人"))
        try:
            starts_on = date.fromisoformat(request.form.get("starts_on", ""))
            ends_on = date.fromisoformat(request.form.get("ends_on", ""))
        except ValueError:
            raise InvalidInputError(_("请填写开始和结束日期")) from None
        with unit_of_work() as session:
            delegation.delegate(session, me(), int(substitute), starts_on, ends_on, request.form.get("reason", ""),
                                now())
    except InvalidInputError as refused:
        return _page(str(refused), 422)
    flash(_("已委托代办"), "info")
    return redirect(url_for("delegations.index"))


@bp.post("/delegations/<int:delegation_id>/revoke")
@login_required
def revoke(delegation_id: int) -> Response:
    with unit_of_work() as session:
        delegation.revoke(session, me(), delegation_id, now())
    flash(_("已结束委托"), "info")
    return redirect(url_for("delegations.index"))
