"""People: accounts added, disabled and reset from the command line and on the 账号管理 page, each role
within its own organisation only; the password policy; the forced change after a one-time password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import open_task, report
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.cli import main
from workflow_app.services import inbox, passwords
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, InboxTask, Organisation, User

ONE_TIME = re.compile(r"one-time password (\S+)")
PAGE_ONE_TIME = re.compile(r'id="one-time-password">([^<]+)<')


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def run(engine: Engine, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The workflow-app command on the test's database (SQLite file or PostgreSQL)."""
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _user(factory: sessionmaker[Session], username: str) -> User | None:
    with transaction(factory) as s:
        return s.scalar(select(User).where(User.username == username))


def _audit(factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _attempt(client: FlaskClient, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client)})


def _change(client: FlaskClient, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/password", data={"current_password": current, "new_password": new,
                                          "new_password_again": new if again is None else again,
                                          "csrf_token": csrf(client, "/password")})


def _post(client: FlaskClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={**data, "csrf_token": csrf(client, "/password")})


# --- the command line -------------------------------------------------------------------------------------------

def test_admin_create_bootstraps_the_first_office_account_once(run, engine: Engine, factory, app: Flask) -> None:
    created = run("admin", "create", "chief", "--name", "张主任")
    assert created.exit_code == 0, created.output
    plain = ONE_TIME.search(created.output).group(1)  # type: ignore[union-attr]
    with transaction(factory) as s:
        office = s.scalars(select(Organisation).where(Organisation.kind == "office")).one()
        chief = s.scalar(select(User).where(User.username == "chief"))
        assert (chief.role, chief.organisation_id, chief.must_change_password) == ("office", office.id, True)
        assert chief.password_hash.startswith("scrypt:")
    again = run("admin", "create", "second", "--name", "李主任")
    assert again.exit_code == 1 and "已有安委办账号" in again.output and _user(factory, "second") is None
    client = app.test_client()
    signed_in = _attempt(client, "chief", plain)
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/password")


def test_admin_create_uses_the_existing_office_organisation_and_refuses_when_an_office_account_exists(
        run, factory, zone: Zone) -> None:
    refused = run("admin", "create", "chief", "--name", "张主任")
    assert refused.exit_code == 1 and _user(factory, "chief") is None
    with transaction(factory) as s:
        s.get(User, zone.office.id).role = "town"  # no office account any more; the office organisation stays
    assert run("admin", "create", "chief", "--name", "张主任").exit_code == 0
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Organisation.id)).where(Organisation.kind == "office")) == 1
        assert s.scalar(select(User).where(User.username == "chief")).organisation.code == "OFFICE"


def test_user_add_prints_a_one_time_password_and_refuses_bad_input(run, factory, zone: Zone, app: Flask) -> None:
    added = run("user", "add", "clerk", "--org", "E1", "--role", "enterprise", "--name", "李四",
                "--phone", "13800000000", "--email", "clerk@example.cn")
    assert added.exit_code == 0, added.output
    plain = ONE_TIME.search(added.output).group(1)  # type: ignore[union-attr]
    passwords.check_policy("clerk", plain)
    clerk = _user(factory, "clerk")
    assert clerk is not None
    assert (clerk.organisation_id, clerk.role, clerk.phone, clerk.email, clerk.must_change_password) \
        == (zone.enterprise_id, "enterprise", "13800000000", "clerk@example.cn", True)
    assert plain not in clerk.password_hash
    entry = _audit(factory, "add_account")[-1]
    assert entry.detail["before"] is None and entry.detail["after"]["username"] == "clerk"
    assert "password" not in str(entry.detail).replace("must_change_password", "")
    for args, message in [
        (("clerk", "--org", "E1", "--role", "enterprise", "--name", "X"), "该用户名已被使用"),
        (("new1", "--org", "E1", "--role", "department", "--name", "X"), "账号角色须与所在单位的类型一致"),
        (("new1", "--org", "NOPE", "--role", "enterprise", "--name", "X"), "没有编码为 NOPE 的单位"),
        (("a", "--org", "E1", "--role", "enterprise", "--name", "X"), "用户名应为"),
        (("new1", "--org", "E1", "--role", "enterprise", "--name", "X", "--email", "not-mail"), "电子邮箱格式不正确"),
    ]:
        refused = run("user", "add", *args)
        assert refused.exit_code == 1 and message in refused.output, refused.output
    assert _user(factory, "new1") is None and _user(factory, "a") is None
    assert _attempt(app.test_client(), "clerk", plain).headers["Location"].endswith("/password")


def test_user_reset_password_and_disable_from_the_command_line(run, factory, zone: Zone, app: Flask) -> None:
    client = app.test_client()
    sign_in(client, "safety")
    reset = run("user", "reset-password", "safety")
    assert reset.exit_code == 0, reset.output
    plain = ONE_TIME.search(reset.output).group(1)  # type: ignore[union-attr]
    assert client.get("/inbox").status_code == 302  # the session signed in before the reset ended
    assert _attempt(app.test_client(), "safety", "pw").status_code == 401
    assert _attempt(app.test_client(), "safety", plain).headers["Location"].endswith("/password")
    assert _audit(factory, "reset_password")[-1].detail["after"]["must_change_password"] is True
    disabled = run("user", "disable", "safety")
    assert disabled.exit_code == 0 and _user(factory, "safety").active is False  # type: ignore[union-attr]
    assert _attempt(app.test_client(), "safety", plain).status_code == 401
    assert run("user", "enable", "safety").exit_code == 0 and _user(factory, "safety").active  # type: ignore[union-attr]
    unknown = run("user", "disable", "nobody")
    assert unknown.exit_code == 1 and "没有用户 nobody" in unknown.output


# --- the page, role by role ---------------------------------------------------------------------------------------

def _listed(client: FlaskClient, query: str = "") -> set[str]:
    page = client.get(f"/people{query}")
    assert page.status_code == 200, page.status_code
    return set(re.findall(r'data-username="([^"]+)"', page.get_data(as_text=True)))


def test_the_office_lists_every_account_filters_by_organisation_and_name(client: FlaskClient, zone: Zone) -> None:
    sign_in(client, "office")
    assert _listed(client) == {"office", "town", "dept", "dept2", "boss", "safety", "outsider"}
    assert _listed(client, f"?org={zone.enterprise_id}") == {"boss", "safety"}
    assert _listed(client, "?q=DEPT") == {"dept", "dept2"}
    assert _listed(client, f"?org={zone.enterprise_id}&q=%E5%A7%93%E5%90%8D") == {"boss", "safety"}  # 姓名


@pytest.mark.parametrize(("manager", "own", "others"), [
    ("dept", {"dept"}, ("boss", "dept2", "town")),
    ("town", {"town"}, ("dept", "boss")),
    ("boss", {"boss", "safety"}, ("outsider", "dept")),
])
def test_a_manager_sees_and_manages_only_its_own_organisation(client: FlaskClient, factory, zone: Zone, manager: str,
                                                              own: set[str], others: tuple[str, ...]) -> None:
    sign_in(client, manager)
    assert _listed(client) == own
    mine = _user(factory, manager)
    assert mine is not None
    added = _post(client, "/people", organisation_id=str(mine.organisation_id), username=f"{manager}-new",
                  display_name="新同事", phone="", email="")
    assert added.status_code == 200 and PAGE_ONE_TIME.search(added.get_data(as_text=True))
    colleague = _user(factory, f"{manager}-new")
    assert colleague is not None and colleague.role == mine.role and colleague.must_change_password
    assert _listed(client) == own | {f"{manager}-new"}
    for other in others:
        target = _user(factory, other)
        assert target is not None
        for action in ("disable", "reset"):
            assert _post(client, f"/people/{target.id}/{action}").status_code == 404
        assert _post(client, "/people", organisation_id=str(target.organisation_id), username=f"x-{other}",
                     display_name="外单位").status_code == 404
        after = _user(factory, other)
        assert after is not None and (after.active, after.password_hash, after.session_version) \
            == (True, target.password_hash, target.session_version)
        assert _user(factory, f"x-{other}") is None
    assert _post(client, f"/people/{mine.id}/disable").status_code == 400  # not one's own account
    assert _user(factory, manager).active  # type: ignore[union-attr]


def test_an_enterprise_user_who_is_not_the_principal_manages_nothing(client: FlaskClient, factory, zone: Zone) -> None:
    sign_in(client, "safety")
    assert client.get("/people").status_code == 403
    assert _post(client, f"/people/{zone.principal.id}/disable").status_code == 403
    assert _post(client, f"/people/{zone.principal.id}/reset").status_code == 403
    assert _post(client, "/people", organisation_id=str(zone.enterprise_id), username="sneaky",
                 display_name="X").status_code == 403
    assert _user(factory, "sneaky") is None and _user(factory, "boss").active  # type: ignore[union-attr]
    assert "/people" not in client.get("/inbox").get_data(as_text=True)
    assert _audit(factory, "disable_account") == [] and _audit(factory, "reset_password") == []


def test_every_form_of_the_page_needs_the_csrf_token(client: FlaskClient, factory, zone: Zone) -> None:
    sign_in(client, "office")
    page = client.get("/people").get_data(as_text=True)
    assert page.count("<form method=\"post\"") == page.count("name=\"csrf_token\"") >= 4
    assert client.post(f"/people/{zone.safety_officer.id}/disable").status_code == 400
    assert client.post("/people", data={"organisation_id": zone.enterprise_id, "username": "nocsrf",
                                        "display_name": "X"}).status_code == 400
    assert _user(factory, "safety").active and _user(factory, "nocsrf") is None  # type: ignore[union-attr]


def test_a_bad_new_account_on_the_page_says_why_and_keeps_what_was_typed(client: FlaskClient, factory,
                                                                          zone: Zone) -> None:
    sign_in(client, "office")
    refused = _post(client, "/people", organisation_id=str(zone.enterprise_id), username="safety",
                    display_name="重名的人", phone="", email="")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "该用户名已被使用" in text and "重名的人" in text
    assert _listed(client, "?org=99999999999999999999999") == _listed(client)  # not an id: no filter
    for bad_id in ("abc", "99999999999999999999999", ""):
        refused = _post(client, "/people", organisation_id=bad_id, username="nobody1", display_name="X")
        assert refused.status_code == 422 and "请选择单位" in refused.get_data(as_text=True)
    missing = _post(client, "/people", organisation_id="999999", username="nobody1", display_name="X")
    assert missing.status_code == 404 and _user(factory, "nobody1") is None
    english = client.post("/lang/en", data={"csrf_token": csrf(client, "/people")})
    assert english.status_code == 302
    refused = _post(client, "/people", organisation_id=str(zone.enterprise_id), username="x y", display_name="X")
    assert refused.status_code == 422 and "User names have 3" in refused.get_data(as_text=True)


def test_a_reset_on_the_page_shows_the_password_once_and_ends_the_sessions(app: Flask, client: FlaskClient, factory,
                                                                          zone: Zone) -> None:
    holder = app.test_client()
    sign_in(holder, "safety")
    sign_in(client, "boss")
    reset = _post(client, f"/people/{zone.safety_officer.id}/reset")
    plain = PAGE_ONE_TIME.search(reset.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert plain not in client.get("/people").get_data(as_text=True)
    assert holder.get("/inbox").status_code == 302
    entry = _audit(factory, "reset_password")[-1]
    assert entry.actor_id == zone.principal.id and entry.detail["before"]["must_change_password"] is False
    assert _attempt(app.test_client(), "safety", plain).headers["Location"].endswith("/password")


# --- disabling ---------------------------------------------------------------------------------------------------

def test_a_disabled_user_is_signed_out_refused_and_its_claimed_task_returns_to_the_queue(
        app: Flask, client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    assert (task.role, task.organisation_id) == ("enterprise", zone.enterprise_id)
    holder = app.test_client()
    sign_in(holder, "safety")
    assert _post(holder, f"/tasks/{task.task_id}/claim").status_code == 302
    assert open_task(factory, hazard_id).assignee_id == zone.safety_officer.id
    sign_in(client, "office")
    disabled = _post(client, f"/people/{zone.safety_officer.id}/disable")
    assert disabled.status_code == 302
    assert holder.get("/inbox").status_code == 302
    assert _attempt(app.test_client(), "safety", "pw").status_code == 401
    assert open_task(factory, hazard_id).assignee_id is None
    released = _audit(factory, "release_task")[-1]
    assert (released.actor_id, released.object_id, released.detail["claimed_by"]) \
        == (zone.office.id, str(hazard_id), "safety")
    entry = _audit(factory, "disable_account")[-1]
    assert entry.detail["before"]["active"] is True and entry.detail["after"]["active"] is False
    assert entry.detail["returned_tasks"] == [task.task_id]
    boss = app.test_client()
    sign_in(boss, "boss")
    assert task.task_id in boss.get("/inbox").get_data(as_text=True)  # back in the enterprise's queue
    assert _post(client, f"/people/{zone.safety_officer.id}/enable").status_code == 302
    assert _attempt(app.test_client(), "safety", "pw").status_code == 302
    assert _audit(factory, "enable_account")[-1].detail["after"]["active"] is True


def test_returning_claims_leaves_completed_and_other_peoples_tasks_alone(factory, zone: Zone) -> None:
    first = open_task(factory, report(factory, zone.principal, zone.enterprise_id, T0))
    second = open_task(factory, report(factory, zone.principal, zone.enterprise_id, T0))
    with transaction(factory) as s:
        s.get(InboxTask, first.id).assignee_id = zone.safety_officer.id
        s.get(InboxTask, second.id).assignee_id = zone.principal.id
    with transaction(factory) as s:
        returned = inbox.return_claims(s, None, s.get(User, zone.safety_officer.id), T0)
    assert [t.id for t in returned] == [first.id]
    assert open_task(factory, second.hazard_id).assignee_id == zone.principal.id  # type: ignore[arg-type]


# --- the password policy and the forced change -------------------------------------------------------------------

@pytest.mark.parametrize(("new", "message"), [
    ("short-pw1", "新密码至少 10 位"),
    ("Longusername", "新密码不能与用户名相同"),
    ("1q2w3e4r5t", "新密码过于常见，请换一个"),
    ("PASSWORD123", "新密码过于常见，请换一个"),
])
def test_the_password_policy_refuses_and_changes_nothing(client: FlaskClient, factory, zone: Zone, new: str,
                                                         message: str) -> None:
    with transaction(factory) as s:
        s.get(User, zone.safety_officer.id).username = "longusername"
    sign_in(client, "longusername")
    before = _user(factory, "longusername")
    refused = _change(client, "pw", new)
    assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert _user(factory, "longusername").password_hash == before.password_hash  # type: ignore[union-attr]


def test_policy_refusals_are_translated(client: FlaskClient, zone: Zone) -> None:
    sign_in(client, "boss")
    client.post("/lang/en", data={"csrf_token": csrf(client, "/password")})
    assert "at least 10 characters" in _change(client, "pw", "short").get_data(as_text=True)
    assert "too common" in _change(client, "pw", "qwertyuiop").get_data(as_text=True)
    with pytest.raises(passwords.PasswordRefused) as refused:
        passwords.check_policy("administrator", "Administrator")
    assert refused.value.reason == "is_username"


def test_a_new_account_must_change_its_password_before_anything_else(app: Flask, client: FlaskClient, factory,
                                                                       zone: Zone) -> None:
    sign_in(client, "office")
    added = _post(client, "/people", organisation_id=str(zone.enterprise_id), username="newcomer",
                  display_name="新人", phone="", email="")
    plain = PAGE_ONE_TIME.search(added.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    newcomer = app.test_client()
    signed_in = _attempt(newcomer, "newcomer", plain)
    assert signed_in.headers["Location"].endswith("/password")
    for path in ("/inbox", "/hazards/new", "/people", "/tokens", "/ledger"):
        response = newcomer.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/password"), path
    assert newcomer.post(f"/people/{zone.principal.id}/disable",
                         data={"csrf_token": csrf(newcomer, "/password")}).status_code == 302
    assert _user(factory, "boss").active  # type: ignore[union-attr]
    assert newcomer.get("/static/app.css").status_code == 200
    assert "一次性密码" in newcomer.get("/password").get_data(as_text=True)
    assert _change(newcomer, plain, "1q2w3e4r5t").status_code == 422
    changed = _change(newcomer, plain, "a-long-own-secret")
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    assert newcomer.get("/inbox").status_code == 200
    assert _user(factory, "newcomer").must_change_password is False  # type: ignore[union-attr]
    assert _audit(factory, "change_password")[-1].detail["before"]["must_change_password"] is True
    assert _attempt(app.test_client(), "newcomer", "a-long-own-secret").headers["Location"] == "/"


def test_sign_out_works_while_the_change_is_pending(app: Flask, factory, zone: Zone) -> None:
    with transaction(factory) as s:
        s.get(User, zone.town.id).must_change_password = True
    client = app.test_client()
    sign_in(client, "town")
    assert client.post("/logout", data={"csrf_token": csrf(client, "/password")}).headers["Location"] \
        .endswith("/login")
    assert client.get("/password").status_code == 302
