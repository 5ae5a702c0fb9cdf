"""Sign-in, sign-out and the password change with Flask-Login; passwords are stored as salted hashes.

A session holds "user id:session version" (Account.get_id); the loader accepts it only while the
version matches the user's row, so sign-out and a password change end every session of the user.
The throttles and the password check live in services/sign_in.py.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from ..services import accounts, passwords, sign_in
from ..store.models import User
from .context import app_services, local_path, me, now, unit_of_work

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class Account(UserMixin):
    """The Flask-Login face of a User row."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"


ALLOWED_BEFORE_CHANGE = frozenset({"auth.password", "auth.logout", "static", "i18n.switch", "health.healthz",
                                   "metrics.metrics"})
"""What a user who must change their password may still open; every other page leads to 修改密码. (The health
check and metrics are no user's pages: they must not load the signed-in user from a database that may be down.)"""


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page says enough
    login_manager.session_protection = "strong"
    app.before_request(_password_change_first)


def _password_change_first() -> Response | None:
    """A one-time password (a new account's, a reset's) opens nothing but the change-password page."""
    if "_user_id" not in cookie_session or request.endpoint in ALLOWED_BEFORE_CHANGE \
            or request.path.startswith("/api/"):
        return None  # nobody signed in here; the API signs in with tokens, never with this session
    if current_user.is_authenticated and current_user.user.must_change_password:
        return redirect(url_for("auth.password"))
    return None


@login_manager.user_loader
def load_account(session_id: str) -> Account | None:
    """The session's user while active and signed in since the last sign-out or password change."""
    user_id, _sep, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    with unit_of_work() as session:
        user = session.get(User, int(user_id))
        current = user is not None and user.active and user.session_version == int(version)
        return Account(user) if current else None  # type: ignore[arg-type]


def _safe_next(target: str | None) -> str:
    """Only a local path may follow sign-in (no open redirect); without one, the home page (工作台)."""
    return local_path(target) or url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    if request.method == "GET":
        return render_template("login.html")
    username = request.form.get("username", "").strip()
    try:
        user = sign_in.sign_in(app_services().factory, username, request.form.get("password", ""),
                               request.remote_addr or "unknown", now())
    except sign_in.Throttled as refused:
        return _throttled(username, refused)
    if user is None:
        flash(_("用户名或密码不正确"), "error")
        return render_template("login.html", username=username), 401  # type: ignore[return-value]
    return signed_in(user, request.args.get("next"))


def signed_in(user: User, next_target: str | None) -> Response:
    """Start the session of `user`, who proved who they are (a password, the single sign-on provider).

    A one-time password not yet changed leads to 修改密码 first, whichever way the user signed in.
    """
    login_user(Account(user))
    if user.must_change_password:
        return redirect(url_for("auth.password"))
    return redirect(_safe_next(next_target))


def _throttled(username: str, refused: sign_in.Throttled) -> tuple[str, int, dict[str, str]]:
    """429 with Retry-After and, in the user's language, when to try again."""
    seconds = refused.seconds_left(now())
    at = format_datetime(refused.until, "HH:mm:ss")
    if not refused.locked:
        message = _("登录失败次数过多，请 %(seconds)s 秒后（%(time)s）再试", seconds=seconds, time=at)
    elif refused.scope == "account":
        message = _("该账号登录失败次数过多，已临时锁定，请于 %(time)s 后再试", time=at)
    else:
        message = _("您所在网络地址的登录失败次数过多，已临时锁定，请于 %(time)s 后再试", time=at)
    flash(message, "error")
    return render_template("login.html", username=username), 429, {"Retry-After": str(seconds)}


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign out here and on every other device (the session version moves on)."""
    with unit_of_work() as session:
        accounts.end_sessions(session, me().id)
    logout_user()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    """修改密码: every other session ends; this one stays signed in with the new session version."""
    forced = me().must_change_password
    if request.method == "GET":
        return render_template("password.html", forced=forced)
    form = request.form
    try:
        with unit_of_work() as session:
            user = accounts.change_password(session, me().id, form.get("current_password", ""),
                                            form.get("new_password", ""), form.get("new_password_again", ""), now())
    except accounts.PasswordRefused as refused:
        return render_template("password.html", forced=forced, error=_refusal(refused.reason)), 422
    login_user(Account(user))
    flash(_("密码已修改，其他设备上的登录已退出"), "info")
    return redirect(url_for("home.index"))


def _refusal(reason: str) -> str:
    messages = {
        "wrong_current": _("当前密码不正确"),
        "mismatch": _("两次输入的新密码不一致"),
        "too_short": _("新密码至少 %(count)s 位", count=passwords.MIN_LENGTH),
        "unchanged": _("新密码不能与当前密码相同"),
        "is_username": _("新密码不能与用户名相同"),
        "too_common": _("新密码过于常见，请换一个"),
    }
    return messages[reason]

