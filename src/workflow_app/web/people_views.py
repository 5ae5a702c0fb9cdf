"""/people (账号管理): list, add, disable/enable accounts, reset passwords and link single sign-on subjects,
as services/people.py allows.

The office sees every organisation's accounts; a department, a town or an enterprise's principal
only its own organisation's. A one-time password is shown once, on the page that answers the
change, and never again.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import people
from ..services.errors import ConflictError, InvalidInputError
from .context import me, now, unit_of_work

bp = Blueprint("people", __name__)


def _page(status: int = 200, **shown: object) -> tuple[str, int]:
    """The accounts page with the filter of the query string; `shown` adds a one-time password or an error."""
    text = request.args.get("q", "")
    chosen = _row_id(request.args.get("org", ""))
    with unit_of_work() as session:
        actor = me()
        organisations = people.manageable_organisations(session, actor)
        accounts = people.list_accounts(session, actor, chosen, text)
    return render_template("people.html", organisations=organisations, accounts=accounts, chosen=chosen,
                           text=text, **{"form": {}, **shown}), status


def _row_id(text: str) -> int | None:
    """An id typed into a form or a query string, if it can be one (a database integer)."""
    return int(text) if text.isdigit() and len(text) <= 18 else None


@bp.get("/people")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/people")
@login_required
def add() -> tuple[str, int]:
    """A new account of an organisation the user manages, its role the organisation's kind."""
    form = request.form
    organisation_id = _row_id(form.get("organisation_id", ""))
    try:
        if organisation_id is None:
            raise InvalidInputError("请选择单位")
        new = people.NewAccount(form.get("username", ""), organisation_id, "", form.get("display_name", ""),
                                form.get("phone", ""), form.get("email", ""))
        with unit_of_work() as session:
            user, plain = people.add_account(session, me(), new, now())
            username = user.username
    except (InvalidInputError, ConflictError) as refused:
        return _page(422, error=_(str(refused)), form=form)
    return _page(one_time=(username, plain))


@bp.post("/people/<int:user_id>/disable")
@login_required
def disable(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.post("/people/<int:user_id>/enable")
@login_required
def enable(user_id: int) -> Response:
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Response:
    with unit_of_work() as session:
        user = people.set_active(session, me(), user_id, active, now())
        name = user.display_name
    if active:
        flash(_("已启用账号：%(name)s", name=name), "info")
    else:
        flash(_("已停用账号：%(name)s（其已认领的任务已退回本单位待办）", name=name), "info")
    return redirect(url_for("people.index", org=request.args.get("org", ""), q=request.args.get("q", "")))


@bp.post("/people/<int:user_id>/reset")
@login_required
def reset(user_id: int) -> tuple[str, int]:
    with unit_of_work() as session:
        user, plain = people.reset_password(session, me(), user_id, now())
        username = user.username
    return _page(one_time=(username, plain))


@bp.post("/people/<int:user_id>/oidc")
@login_required
def link_oidc(user_id: int) -> Response | tuple[str, int]:
    """Link the account to the single sign-on subject typed; an empty one unlinks it."""
    subject = request.form.get("subject", "")
    try:
        with unit_of_work() as session:
            user = people.set_oidc_subject(session, me(), user_id, subject, now())
            name, linked = user.display_name, user.oidc_subject
    except (InvalidInputError, ConflictError) as refused:
        return _page(422, error=_(str(refused)))
    if linked:
        flash(_("已将 %(name)s 关联到统一身份账号 %(subject)s", name=name, subject=linked), "info")
    else:
        flash(_("已解除 %(name)s 与统一身份账号的关联", name=name), "info")
    return redirect(url_for("people.index", org=request.args.get("org", ""), q=request.args.get("q", "")))
