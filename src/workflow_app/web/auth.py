"""Sign-in and sign-out with Flask-Login; passwords are stored as salted hashes."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from ..store.models import User
from .context import unit_of_work

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class Account(UserMixin):
    """The Flask-Login face of a User row."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page says enough
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_account(user_id: str) -> Account | None:
    if not user_id.isdigit():
        return None
    with unit_of_work() as session:
        user = session.get(User, int(user_id))
        return Account(user) if user is not None and user.active else None


def _safe_next(target: str | None) -> str:
    """Only a local path may follow sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("inbox.inbox_page")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "GET":
        return render_template("login.html")
    username = request.form.get("username", "").strip()
    with unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not check_password_hash(user.password_hash, request.form.get("password", "")):
        flash(_("用户名或密码不正确"), "error")
        return render_template("login.html", username=username), 401  # type: ignore[return-value]
    login_user(Account(user))
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
def home() -> Response:
    return redirect(url_for("inbox.inbox_page"))
