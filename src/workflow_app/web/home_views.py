"""/: each role's home (工作台): my to-dos, the overseers' figures, the office's missing filings, my duties."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from ..services import home
from .context import me, today, unit_of_work

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    with unit_of_work() as session:
        page = home.home(session, me(), today())
    return render_template("home.html", page=page, today=today())
