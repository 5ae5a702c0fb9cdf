"""统一身份认证 (single sign-on) through one OpenID Connect provider; on only when WORKFLOW_APP_OIDC_ISSUER is set.

/sign-in/oidc sends the browser to the provider (authorization code flow with PKCE S256; Authlib keeps
the state, the nonce and the code verifier in the session). /sign-in/oidc/callback exchanges the code
over the back channel and takes the ID token only once Authlib has checked its signature against the
provider's keys (the JWKS its discovery document names), its issuer (the configured one), its audience
(our client id), its expiry and our nonce. The token's subject then opens the account linked to it the
way a password does (auth.signed_in); a subject linked to no account opens nothing and creates nothing.

A one-time password not yet changed still leads to 修改密码 after a single sign-on: the local password
goes on existing (the way in while the provider is down) and whoever made the account has seen the
one-time one, so it must be replaced; its holder gets it from their manager as for any new account.
"""

from __future__ import annotations

import logging

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Blueprint, Flask, current_app, flash, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import gettext as _
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from ..config import OidcSettings
from ..services import single_sign_on
from .auth import signed_in
from .context import local_path, unit_of_work

bp = Blueprint("oidc", __name__)
log = logging.getLogger(__name__)
CLIENT = "sso"
"""Authlib's name for the provider; its sign-ins under way are kept in the session as `_state_sso_<state>`."""
NEXT = "oidc_next"
PROVIDER_TROUBLE = (requests.RequestException, ValueError, RuntimeError)
"""The provider unreachable, slow (timeouts), or answering with something that is not what the protocol says."""


def init_app(app: Flask, settings: OidcSettings) -> None:
    """Register the provider (its metadata is read at the first sign-in, not at start) and the two routes."""
    client = OAuth(app).register(
        CLIENT, client_id=settings.client_id, client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256",
                       "default_timeout": settings.timeout})
    app.extensions["workflow_app_oidc"] = (client, settings)
    app.config["WORKFLOW_APP_OIDC"] = True  # the sign-in page shows its button, the accounts page the links
    app.register_blueprint(bp)


@bp.get("/sign-in/oidc")
def start() -> Response | tuple[str, int]:
    """To the provider; `next` (a local path only) is where the user lands after signing in."""
    for key in [key for key in cookie_session if key.startswith(f"_state_{CLIENT}_")]:
        del cookie_session[key]  # one sign-in under way per browser: abandoned ones would outgrow the cookie
    cookie_session[NEXT] = local_path(request.args.get("next"))
    client, _settings = current_app.extensions["workflow_app_oidc"]
    try:
        return client.authorize_redirect(url_for("oidc.callback", _external=True))  # type: ignore[no-any-return]
    except PROVIDER_TROUBLE as exc:
        return _unreachable(exc)


@bp.get("/sign-in/oidc/callback")
def callback() -> Response | tuple[str, int]:
    """The provider sends the browser back here with a code; the account linked to the proven subject signs in."""
    try:
        subject = _proven_subject()
    except JoseError as exc:
        log.warning("single sign-on refused: the ID token failed its checks (%s)", exc)
        return _refused(_("统一身份认证返回的身份凭证无效，未能登录"), 401)
    except OAuthError as exc:
        log.warning("single sign-on refused: %s", exc.error)
        return _refused(_("统一身份认证未完成或已过期，请重新登录"), 401)
    except PROVIDER_TROUBLE as exc:
        return _unreachable(exc)
    try:
        with unit_of_work() as session:
            user = single_sign_on.account_for_subject(session, subject)
    except single_sign_on.NotLinked:
        log.warning("single sign-on refused: subject %r is linked to no account", subject[:255])
        return _refused(_("该统一身份账号尚未关联本系统账号，请联系安委办"), 403)
    except single_sign_on.Disabled:
        log.warning("single sign-on refused: subject %r belongs to a disabled account", subject[:255])
        return _refused(_("该账号已停用，无法登录"), 403)
    return signed_in(user, cookie_session.pop(NEXT, None))


def _proven_subject() -> str:
    """The subject of the ID token the code is exchanged for, after every check; OAuthError without one."""
    client, settings = current_app.extensions["workflow_app_oidc"]
    token = client.authorize_access_token(claims_options={
        "iss": {"essential": True, "value": settings.issuer},
        "aud": {"essential": True, "value": settings.client_id},  # Authlib checks it only when told to
    })
    claims = token.get("userinfo")
    if not claims:
        raise OAuthError(error="no_id_token")
    return str(claims["sub"])


def _refused(message: str, status: int) -> tuple[str, int]:
    flash(message, "error")
    return render_template("login.html"), status


def _unreachable(exc: Exception) -> tuple[str, int]:
    log.warning("single sign-on provider unreachable: %s: %s", type(exc).__name__, str(exc)[:300])
    return _refused(_("暂时无法连接统一身份认证服务，请稍后再试或使用用户名和密码登录"), 502)
