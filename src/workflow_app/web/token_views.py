"""/tokens: a user creates, sees and revokes their personal API tokens (a new one is shown once)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import tokens
from ..services.errors import InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("tokens", __name__)


@bp.get("/tokens")
@login_required
def index() -> str:
    with unit_of_work() as session:
        mine = tokens.user_tokens(session, me())
    return render_template("tokens.html", tokens=mine, now=now(), created=None)


@bp.post("/tokens")
@login_required
def create() -> str | tuple[str, int]:
    days = request.form.get("days", "90")
    try:
        if not days.isdigit():
            raise InvalidInputError(_("有效天数应为整数"))
        with unit_of_work() as session:
            plain, _token = tokens.create_token(session, me(), request.form.get("name", ""),
                                                request.form.getlist("scopes") or ["read"], int(days), now())
    except InvalidInputError as refused:
        with unit_of_work() as session:
            mine = tokens.user_tokens(session, me())
        return render_template("tokens.html", tokens=mine, now=now(), created=None, error=str(refused)), 422
    with unit_of_work() as session:
        mine = tokens.user_tokens(session, me())
    return render_template("tokens.html", tokens=mine, now=now(), created=plain)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> Response:
    with unit_of_work() as session:
        tokens.revoke_token(session, me(), token_id, now())
    flash(_("令牌已吊销"), "info")
    return redirect(url_for("tokens.index"))
