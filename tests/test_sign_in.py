"""Sign-in protection through HTTP: throttles per account and per address, equal work for unknown
users, sessions that end everywhere on sign-out and on a password change."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in
from werkzeug.security import generate_password_hash

from workflow_app.config import Settings
from workflow_app.services import sign_in as sign_in_service
from workflow_app.services import tokens
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, SignInFailures, User
from workflow_app.web import create_app
from workflow_app.web.public_views import LOOKUPS_PER_HOUR, REPORTS_PER_HOUR, limiter, lookups


class Clock:
    """The app's clock, moved on by the test."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path, clock: Clock) -> Flask:
    return make_app(factory, tmp_path, clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _attempt(client: FlaskClient, username: str, password: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client)},
                       environ_base={"REMOTE_ADDR": address})


def _fail(client: FlaskClient, times: int, username: str = "boss", address: str = "127.0.0.1") -> None:
    for _ in range(times):
        assert _attempt(client, username, "wrong", address).status_code == 401


def _retry_after(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 429, response.status_code
    return int(response.headers["Retry-After"])


def test_the_sixth_attempt_waits_even_with_the_right_password_then_it_works(client: FlaskClient, clock: Clock,
                                                                           zone: Zone) -> None:
    _fail(client, 5)
    sixth = _attempt(client, "boss", "wrong")
    wait = _retry_after(sixth)
    assert 0 < wait <= 60 and "秒后" in sixth.get_data(as_text=True)
    assert _retry_after(_attempt(client, "boss", "pw")) == wait  # the right password waits too
    clock.advance(wait)
    assert _attempt(client, "boss", "pw").status_code == 302
    client.post("/logout", data={"csrf_token": csrf(client, "/inbox")})
    _fail(client, 4)  # the success reset the account's count: four more failures are not throttled
    assert _attempt(client, "boss", "pw").status_code == 302


def test_the_delay_grows_and_the_message_is_in_the_users_language(client: FlaskClient, clock: Clock,
                                                                  zone: Zone) -> None:
    _fail(client, 5)
    first = _retry_after(_attempt(client, "boss", "wrong"))
    clock.advance(first)
    _fail(client, 1)
    second = _retry_after(_attempt(client, "boss", "wrong"))
    assert second > first
    english = client.post("/login", data={"username": "boss", "password": "pw", "csrf_token": csrf(client)},
                          headers={"Accept-Language": "en"})
    assert english.status_code == 429 and "Too many failed sign-ins" in english.get_data(as_text=True)


def test_ten_failures_lock_the_account_with_an_audit_entry(client: FlaskClient, clock: Clock, factory,
                                                           zone: Zone) -> None:
    _fail(client, 5)
    for _ in range(5):  # wait out each growing delay, then fail again
        clock.advance(_retry_after(_attempt(client, "boss", "wrong")))
        _fail(client, 1)
    locked = _attempt(client, "boss", "pw")
    wait = _retry_after(locked)
    assert wait == 15 * 60 and "已临时锁定" in locked.get_data(as_text=True)
    with transaction(factory) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "sign_in_locked")).one()
    assert entry.object_id == "account:boss" and entry.detail["failures"] == 10
    clock.advance(wait - 1)
    assert _attempt(client, "boss", "pw").status_code == 429
    clock.advance(1)
    assert _attempt(client, "boss", "pw").status_code == 302


def test_the_count_is_shared_by_every_process_and_guesses_sent_together(factory, tmp_path: Path, clock: Clock,
                                                                        zone: Zone) -> None:
    """Two app instances on one database (two processes or hosts) and twelve guesses at once: five are checked."""
    apps = [make_app(factory, tmp_path / name, clock) for name in ("a", "b")]
    clients = [apps[n % 2].test_client() for n in range(12)]
    forms = [{"username": "boss", "password": "wrong", "csrf_token": csrf(c)} for c in clients]

    def guess(n: int) -> int:
        return clients[n].post("/login", data=forms[n]).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(guess, range(12)))
    assert sorted(codes) == [401] * 5 + [429] * 7


def test_failures_count_afresh_after_the_window_and_old_rows_are_forgotten(client: FlaskClient, clock: Clock,
                                                                         factory, zone: Zone) -> None:
    _fail(client, 4)
    _fail(client, 1, username="ghost", address="10.1.1.1")
    clock.advance(sign_in_service.WINDOW.total_seconds())
    _fail(client, 4)  # 8 in all, but in two windows: no delay
    with transaction(factory) as s:  # ghost's and 10.1.1.1's rows were forgotten; boss's counts again from 4
        kept = {(row.scope, row.key): row.failures for row in s.scalars(select(SignInFailures))}
    assert kept == {("account", "boss"): 4, ("address", "127.0.0.1"): 4}


def test_one_address_trying_many_usernames_is_throttled(client: FlaskClient, zone: Zone) -> None:
    attacker = "203.0.113.7"
    names = ["office", "town", "dept", "nobody", "admin", "root", "safety", "dept2", "outsider", "ghost"]
    for name in names:  # one failure per account: no account throttle trips
        assert _attempt(client, name, "wrong", attacker).status_code == 401
    refused = _attempt(client, "boss", "pw", attacker)
    assert _retry_after(refused) > 0 and "网络地址" not in refused.get_data(as_text=True)
    assert _attempt(client, "boss", "pw", "198.51.100.2").status_code == 302  # others are not held up


def test_an_address_locks_after_twenty_failures(client: FlaskClient, clock: Clock, factory, zone: Zone) -> None:
    attacker = "203.0.113.9"
    for n in range(20):
        response = _attempt(client, f"user{n}", "wrong", attacker)
        if response.status_code == 429:
            clock.advance(_retry_after(response))
            response = _attempt(client, f"user{n}", "wrong", attacker)
        assert response.status_code == 401
    locked = _attempt(client, "boss", "pw", attacker)
    assert _retry_after(locked) == 15 * 60 and "网络地址" in locked.get_data(as_text=True)
    with transaction(factory) as s:
        assert s.scalar(select(AuditEntry.object_id).where(AuditEntry.action == "sign_in_locked")) \
            == f"address:{attacker}"


def test_unknown_inactive_and_known_users_run_the_same_password_hash(client: FlaskClient, factory, zone: Zone,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal work instead of a timed test: every branch runs one real hash check of the same kind."""
    real: Callable[[str, str], bool] = sign_in_service.check_password_hash
    methods: list[str] = []

    def counting(pwhash: str, password: str) -> bool:
        methods.append(pwhash.split("$", 1)[0])  # the method and its cost parameters
        return real(pwhash, password)

    monkeypatch.setattr(sign_in_service, "check_password_hash", counting)
    with transaction(factory) as s:
        s.get(User, zone.town.id).active = False
        user_method = s.get(User, zone.principal.id).password_hash.split("$", 1)[0]
    for username, address in (("boss", "10.0.0.1"), ("nobody", "10.0.0.2"), ("town", "10.0.0.3")):
        assert _attempt(client, username, "wrong", address).status_code == 401
    assert methods == [user_method] * 3


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: Flask, client: FlaskClient, zone: Zone) -> None:
    sign_in(client, "boss")
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    elsewhere = app.test_client()  # the same user signed in on another device
    sign_in(elsewhere, "boss")
    assert copy.get("/inbox").status_code == 200 and elsewhere.get("/inbox").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf(client, "/inbox")}).status_code == 302
    for stale in (client, copy, elsewhere):
        response = stale.get("/inbox")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app: Flask, client: FlaskClient, factory,
                                                                      zone: Zone) -> None:
    sign_in(client, "boss")
    other = app.test_client()
    sign_in(other, "boss")
    changed = client.post("/password", data={"current_password": "pw", "new_password": "new-secret-1",
                                             "new_password_again": "new-secret-1",
                                             "csrf_token": csrf(client, "/password")})
    assert changed.status_code == 302
    assert client.get("/inbox").status_code == 200
    assert other.get("/inbox").status_code == 302
    with transaction(factory) as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "change_password")).one().actor_id \
            == zone.principal.id
    fresh = app.test_client()
    assert _attempt(fresh, "boss", "pw", "10.0.0.5").status_code == 401
    assert _attempt(fresh, "boss", "new-secret-1", "10.0.0.5").status_code == 302


@pytest.mark.parametrize(("current", "new", "again", "message"), [
    ("wrong", "new-secret-1", "new-secret-1", "当前密码不正确"),
    ("pw", "new-secret-1", "new-secret-2", "两次输入的新密码不一致"),
    ("pw", "short", "short", "新密码至少 10 位"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app: Flask, client: FlaskClient, factory,
                                                                zone: Zone, current: str, new: str, again: str,
                                                                message: str) -> None:
    sign_in(client, "boss")
    other = app.test_client()
    sign_in(other, "boss")
    with transaction(factory) as s:
        before = s.get(User, zone.principal.id).password_hash
    refused = client.post("/password", data={"current_password": current, "new_password": new,
                                             "new_password_again": again, "csrf_token": csrf(client, "/password")})
    assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    with transaction(factory) as s:
        assert s.get(User, zone.principal.id).password_hash == before
    assert other.get("/inbox").status_code == 200


def test_a_new_password_must_differ_from_the_old_one(client: FlaskClient, factory, zone: Zone) -> None:
    with transaction(factory) as s:
        s.get(User, zone.principal.id).password_hash = generate_password_hash("old-secret-1")
    sign_in(client, "boss", "old-secret-1")
    refused = client.post("/password", data={"current_password": "old-secret-1", "new_password": "old-secret-1",
                                             "new_password_again": "old-secret-1",
                                             "csrf_token": csrf(client, "/password")})
    assert refused.status_code == 422 and "新密码不能与当前密码相同" in refused.get_data(as_text=True)
    assert client.get("/inbox").status_code == 200


def test_a_deactivated_users_sessions_and_tokens_stop_working(app: Flask, client: FlaskClient, factory,
                                                              zone: Zone) -> None:
    sign_in(client, "boss")
    with transaction(factory) as s:
        plain, _token = tokens.create_token(s, s.get(User, zone.principal.id), "ci", ["read"], 30, T0)
    bearer = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/hazards", headers=bearer).status_code == 200
    with transaction(factory) as s:
        s.get(User, zone.principal.id).active = False
    assert client.get("/api/v1/hazards", headers=bearer).status_code == 401
    assert client.get("/inbox").status_code == 302


def test_every_429_says_retry_after(client: FlaskClient, zone: Zone) -> None:
    limiter._events.clear()
    lookups._events.clear()
    for _ in range(LOOKUPS_PER_HOUR):
        assert client.get("/report/status?receipt=AAAA-BBBB-CCCC").status_code == 404
    looked_up = client.get("/report/status?receipt=AAAA-BBBB-CCCC")
    assert 3500 < _retry_after(looked_up) <= 3600 and "提交过于频繁" in looked_up.get_data(as_text=True)
    token = csrf(client, "/report")
    for _ in range(REPORTS_PER_HOUR):
        limiter.take("127.0.0.1")
    assert 3500 < _retry_after(client.post("/report", data={"csrf_token": token})) <= 3600
    _fail(client, 5, address="10.9.9.9")
    assert _retry_after(_attempt(client, "boss", "pw", "10.9.9.9")) > 0


def test_behind_a_trusted_proxy_the_forwarded_address_counts_and_otherwise_it_is_ignored(
        factory: sessionmaker[Session], tmp_path: Path, clock: Clock, zone: Zone) -> None:
    proxied = create_app(Settings(database_url="unused://", secret_key="test-secret", bpmn_dir=BPMN_DIR,
                                  instance_dir=tmp_path / "instance", secure_cookies=False, proxy_hops=1),
                         factory, clock=clock).test_client()
    names = ["office", "town", "dept", "nobody", "admin", "root", "safety", "dept2", "outsider", "ghost"]
    for name in names:  # an attacker behind the same nginx as everyone else (REMOTE_ADDR is the proxy's)
        proxied.post("/login", data={"username": name, "password": "wrong", "csrf_token": csrf(proxied)},
                     environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": "203.0.113.7"})
    colleague = proxied.post("/login", data={"username": "boss", "password": "pw", "csrf_token": csrf(proxied)},
                             environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers={"X-Forwarded-For": "198.51.100.2"})
    assert colleague.status_code == 302  # only the attacker's own address is held up
    direct = make_app(factory, tmp_path / "direct", clock).test_client()
    for name in names:  # without a proxy, a forged X-Forwarded-For does not dodge the address count
        direct.post("/login", data={"username": name, "password": "wrong", "csrf_token": csrf(direct)},
                    environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers={"X-Forwarded-For": f"192.0.2.{len(name)}"})
    assert _retry_after(_attempt(direct, "boss", "pw", "203.0.113.9")) > 0
