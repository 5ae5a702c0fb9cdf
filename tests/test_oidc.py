"""Single sign-on (统一身份认证) against a real OpenID Connect provider served on 127.0.0.1 by the test.

Our app runs in Flask's test client; the browser's trips to the provider (authorize) and the app's
back-channel calls (discovery, JWKS, token) go over HTTP to the provider's thread: nothing of the
protocol is mocked.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner
from conftest import BPMN_DIR, T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.cli import main
from workflow_app.config import OidcSettings, Settings
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, User
from workflow_app.web import create_app

BUTTON = "使用统一身份认证登录"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    served = Provider().start()
    yield served
    served.stop()


@pytest.fixture
def idp(provider: Provider) -> Provider:
    provider.reset()
    return provider


def _app(factory: sessionmaker[Session], tmp_path: Path, issuer: str, timeout: float = 10.0) -> Flask:
    settings = Settings(database_url="unused://", secret_key="test-secret", bpmn_dir=BPMN_DIR,
                        instance_dir=tmp_path / "instance", secure_cookies=False,
                        oidc=OidcSettings(issuer, CLIENT_ID, CLIENT_SECRET, timeout=timeout))
    return create_app(settings, factory, clock=lambda: T0)


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path, idp: Provider) -> Flask:
    return _app(factory, tmp_path, idp.issuer)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _link(factory: sessionmaker[Session], user_id: int, subject: str) -> None:
    with transaction(factory) as s:
        s.get(User, user_id).oidc_subject = subject  # type: ignore[union-attr]


def _to_provider(client: FlaskClient, next_path: str | None = None) -> str:
    """Start a sign-in; the provider's answer to the browser: our callback with code and state."""
    started = client.get("/sign-in/oidc", query_string={"next": next_path} if next_path else None)
    assert started.status_code == 302, started.get_data(as_text=True)
    authorize = started.headers["Location"]
    assert authorize.startswith(f"{urlsplit(authorize).scheme}://127.0.0.1:")
    answer = requests.get(authorize, allow_redirects=False, timeout=10)  # the browser at the provider
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/sign-in/oidc/callback"
    return f"{back.path}?{back.query}"


def _sign_in(client: FlaskClient, next_path: str | None = None):  # type: ignore[no-untyped-def]
    return client.get(_to_provider(client, next_path))


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_a_linked_subject_signs_in_and_lands_on_the_home_page(client: FlaskClient, idp: Provider, factory,
                                                          zone: Zone) -> None:
    assert BUTTON in _text(client.get("/login"))
    _link(factory, zone.safety_officer.id, "sso-alice")
    landed = _sign_in(client)
    assert landed.status_code == 302 and landed.headers["Location"] == "/"
    assert idp.token_calls == 1  # the code was exchanged over the back channel
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and zone.safety_officer.display_name in _text(inbox)
    assert client.post("/logout", data={"csrf_token": csrf(client, "/inbox")}).status_code == 302
    assert client.get("/inbox").status_code == 302  # signed out like any session


@pytest.mark.parametrize(("next_path", "lands"), [("/hazards?x=1", "/hazards?x=1"), ("//evil.example/", "/"),
                                                  ("https://evil.example/", "/")])
def test_next_follows_the_sign_in_only_to_a_local_path(client: FlaskClient, factory, zone: Zone, next_path: str,
                                                       lands: str) -> None:
    _link(factory, zone.safety_officer.id, "sso-alice")
    assert _sign_in(client, next_path).headers["Location"] == lands


def test_a_one_time_password_still_has_to_be_changed_after_single_sign_on(client: FlaskClient, factory,
                                                                           zone: Zone) -> None:
    _link(factory, zone.safety_officer.id, "sso-alice")
    with transaction(factory) as s:
        s.get(User, zone.safety_officer.id).must_change_password = True  # type: ignore[union-attr]
    assert _sign_in(client).headers["Location"].endswith("/password")
    assert client.get("/inbox").headers["Location"].endswith("/password")


def test_an_unknown_subject_is_refused_and_no_account_is_made(client: FlaskClient, factory, zone: Zone,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with transaction(factory) as s:
        before = s.scalar(select(func.count(User.id)))
    refused = _sign_in(client)
    assert refused.status_code == 403 and "该统一身份账号尚未关联本系统账号，请联系安委办" in _text(refused)
    assert client.get("/inbox").status_code == 302
    with transaction(factory) as s:
        assert s.scalar(select(func.count(User.id))) == before
        assert s.scalar(select(User).where(User.oidc_subject == "sso-alice")) is None
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "workflow_app.web.oidc")
    assert "'sso-alice' is linked to no account" in logged
    assert "code=" not in logged and "eyJ" not in logged  # neither the code nor a token


def test_the_refusal_is_in_english_when_english_is_chosen(client: FlaskClient, zone: Zone) -> None:
    client.post("/lang/en", data={"csrf_token": csrf(client)})
    assert "Sign in with single sign-on" in _text(client.get("/login"))
    refused = _sign_in(client)
    assert "This single sign-on identity is not linked to an account here" in _text(refused)


def test_a_disabled_account_is_refused(client: FlaskClient, factory, zone: Zone) -> None:
    _link(factory, zone.safety_officer.id, "sso-alice")
    with transaction(factory) as s:
        s.get(User, zone.safety_officer.id).active = False  # type: ignore[union-attr]
    refused = _sign_in(client)
    assert refused.status_code == 403 and "该账号已停用" in _text(refused)
    assert client.get("/inbox").status_code == 302


def test_a_callback_with_a_wrong_or_spent_state_is_refused(client: FlaskClient, idp: Provider, factory,
                                                           zone: Zone) -> None:
    _link(factory, zone.safety_officer.id, "sso-alice")
    callback = _to_provider(client)
    forged = callback.replace("state=", "state=x")
    refused = client.get(forged)
    assert refused.status_code == 401 and "统一身份认证未完成或已过期" in _text(refused)
    assert idp.token_calls == 0 and client.get("/inbox").status_code == 302
    other_browser = client.application.test_client()  # a callback carried to another browser: no state there
    assert other_browser.get(callback).status_code == 401
    assert client.get(callback).status_code == 302  # the real one still works, once
    assert client.post("/logout", data={"csrf_token": csrf(client, "/inbox")}).status_code == 302
    assert client.get(callback).status_code == 401  # the state was spent


@pytest.mark.parametrize("misbehave", ["audience", "signature", "issuer", "expired", "nonce"])
def test_an_id_token_for_another_audience_or_issuer_expired_with_a_bad_signature_or_nonce_is_refused(
        client: FlaskClient, idp: Provider, factory, zone: Zone, misbehave: str,
        caplog: pytest.LogCaptureFixture) -> None:
    _link(factory, zone.safety_officer.id, "sso-alice")
    idp.misbehave = misbehave
    refused = _sign_in(client)
    assert refused.status_code == 401 and "身份凭证无效" in _text(refused)
    assert idp.token_calls == 1 and client.get("/inbox").status_code == 302
    reason = {"audience": "'aud'", "signature": "bad_signature", "issuer": "'iss'", "expired": "expired",
              "nonce": "'nonce'"}[misbehave]
    assert reason in caplog.text, caplog.text


def test_an_unreachable_or_silent_provider_gets_a_clear_message(factory, tmp_path: Path, zone: Zone) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused = _app(factory, tmp_path, f"http://127.0.0.1:{port}").test_client().get("/sign-in/oidc")
    assert refused.status_code == 502 and "暂时无法连接统一身份认证服务" in _text(refused)
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        app = _app(factory, tmp_path, f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        refused = app.test_client().get("/sign-in/oidc")
    assert refused.status_code == 502 and "暂时无法连接统一身份认证服务" in _text(refused)


def test_without_an_issuer_there_is_no_button_and_no_route(factory, tmp_path: Path, zone: Zone) -> None:
    client = make_app(factory, tmp_path, T0).test_client()
    assert BUTTON not in _text(client.get("/login"))
    assert client.get("/sign-in/oidc").status_code == 404
    assert client.get("/sign-in/oidc/callback?code=x&state=y").status_code == 404


@pytest.mark.parametrize(("environ", "message"), [
    ({"WORKFLOW_APP_OIDC_ISSUER": "https://id.example.cn"}, "CLIENT_ID"),
    ({"WORKFLOW_APP_OIDC_ISSUER": "http://id.example.cn", "WORKFLOW_APP_OIDC_CLIENT_ID": "a",
      "WORKFLOW_APP_OIDC_CLIENT_SECRET": "b"}, "https://"),
])
def test_incomplete_or_unsafe_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OidcSettings.from_env(environ)
    settings = OidcSettings.from_env({"WORKFLOW_APP_OIDC_ISSUER": "https://id.example.cn/realms/x/",
                                      "WORKFLOW_APP_OIDC_CLIENT_ID": "a", "WORKFLOW_APP_OIDC_CLIENT_SECRET": "b",
                                      "WORKFLOW_APP_OIDC_SCOPES": "profile email"})
    assert settings is not None and (settings.issuer, settings.scopes) == ("https://id.example.cn/realms/x/",
                                                                           "openid profile email")
    assert OidcSettings.from_env({}) is None


def test_the_command_names_an_incomplete_setting_instead_of_a_traceback() -> None:
    result = CliRunner().invoke(main, ["check"], env={"WORKFLOW_APP_OIDC_ISSUER": "https://id.example.cn"})
    assert result.exit_code == 1 and "WORKFLOW_APP_OIDC_CLIENT_ID" in result.output


# --- linking ----------------------------------------------------------------------------------------------------

@pytest.fixture
def run(engine: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("WORKFLOW_APP_OIDC_ISSUER", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _audit(factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_link_and_unlink_from_the_command_line_are_audited_and_a_duplicate_is_refused(
        run, factory, zone: Zone, client: FlaskClient) -> None:
    linked = run("user", "link-oidc", "safety", "sso-alice")
    assert linked.exit_code == 0, linked.output
    entry = _audit(factory, "link_oidc")[-1]
    assert (entry.detail["before"]["oidc_subject"], entry.detail["after"]["oidc_subject"]) == (None, "sso-alice")
    duplicate = run("user", "link-oidc", "boss", "sso-alice")
    assert duplicate.exit_code == 1 and "该统一身份账号已关联其他账号" in duplicate.output
    bad = run("user", "link-oidc", "boss", "has space")
    assert bad.exit_code == 1 and "统一身份账号标识应为" in bad.output
    assert _sign_in(client).headers["Location"] == "/"
    unlinked = run("user", "unlink-oidc", "safety")
    assert unlinked.exit_code == 0, unlinked.output
    entry = _audit(factory, "unlink_oidc")[-1]
    assert (entry.detail["before"]["oidc_subject"], entry.detail["after"]["oidc_subject"]) == ("sso-alice", None)
    assert client.get("/inbox").status_code == 302  # unlinking ended the session signed in through the link
    assert _sign_in(client).status_code == 403


def test_the_people_page_links_within_the_managers_reach(client: FlaskClient, factory, zone: Zone) -> None:
    sign_in(client, "office")
    page = _text(client.get("/people"))
    assert f'action="/people/{zone.department.id}/oidc' in page
    token = csrf(client, "/people")
    linked = client.post(f"/people/{zone.department.id}/oidc", data={"subject": "sso-dept", "csrf_token": token})
    assert linked.status_code == 302
    assert 'value="sso-dept"' in _text(client.get("/people"))
    duplicate = client.post(f"/people/{zone.town.id}/oidc", data={"subject": "sso-dept", "csrf_token": token})
    assert duplicate.status_code == 422 and "该统一身份账号已关联其他账号" in _text(duplicate)
    hostile = client.post(f"/people/{zone.town.id}/oidc", data={"subject": "<script>", "csrf_token": token})
    assert hostile.status_code == 302 and "&lt;script&gt;" in _text(client.get("/people"))
    assert "<script>" not in _text(client.get("/people"))
    unlinked = client.post(f"/people/{zone.department.id}/oidc", data={"subject": "", "csrf_token": token})
    assert unlinked.status_code == 302
    assert [e.detail["after"]["oidc_subject"] for e in _audit(factory, "link_oidc")] == ["sso-dept", "<script>"]
    assert _audit(factory, "unlink_oidc")[-1].actor_id == zone.office.id
    department = client.application.test_client()
    sign_in(department, "dept")
    outside = department.post(f"/people/{zone.town.id}/oidc",
                              data={"subject": "sso-x", "csrf_token": csrf(department, "/people")})
    assert outside.status_code == 404  # another organisation's account: not found
    with transaction(factory) as s:
        assert s.get(User, zone.town.id).oidc_subject == "<script>"  # type: ignore[union-attr]
