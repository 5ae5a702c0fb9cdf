"""通知设置 (/notices/settings): the signed-in person's own channels per notice kind; nobody else's."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import notice_preferences as prefs
from ..services.errors import FieldsInvalid
from .context import app_services, me, unit_of_work

bp = Blueprint("notice_settings", __name__)


@bp.get("/notices/settings")
@login_required
def show() -> str:
    return _page()


@bp.post("/notices/settings")
@login_required
def save() -> Response | tuple[str, int]:
    offered = prefs.offered_channels(app_services().sms_configured)
    try:
        choices = prefs.parse_choices([name for name in request.form if name != "csrf_token"], offered)
    except FieldsInvalid as exc:
        return _page(errors=exc.errors), 400
    with unit_of_work() as session:
        prefs.save_choices(session, me(), choices, offered)
    flash(_("通知设置已保存"), "info")
    return redirect(url_for("notice_settings.show"))


def _page(errors: dict[str, str] | None = None) -> str:
    sms = app_services().sms_configured
    with unit_of_work() as session:
        choices = prefs.choices_of(session, me(), sms)
    return render_template("notice_settings.html", choices=choices, kinds=prefs.KIND_NAMES,
                           channels=prefs.offered_channels(sms), errors=errors or {}, user=me())
