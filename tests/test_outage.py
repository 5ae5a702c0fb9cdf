"""The database hangs or disappears: pages and the API answer 503 with Retry-After within the limits,
/healthz within 2 s, nothing is half-written, and everything recovers without restarting the app.

On PostgreSQL the app reaches the database through a TCP proxy the test controls (freeze: forward
nothing; kill: close every socket and refuse new ones; restart). On SQLite the outage is a lock held
by another writer.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import BPMN_DIR, POSTGRES_URL, T0
from helpers import PLAN, complete, open_task, report
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.config import DatabaseLimits, Settings
from workflow_app.scheduling import run_job
from workflow_app.services.tokens import create_token
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import InboxTask, Incident, Notice, ProcessInstanceRow
from workflow_app.web import create_app

LIMITS = DatabaseLimits(connect=2, statement=2, pool=2)
PAGE_LIMIT = 8.0
"""A page waits at most: the pooled connection's ping (2 s), a new connection (2 s), a statement (2 + 2 s)."""


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of `target`, frozen, killed and restarted at will."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, 0
        self.frozen = False
        self.freeze_at_written_commit = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restart()

    def restart(self) -> None:
        self.frozen = False
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def kill(self) -> None:
        """Close the listener (new connections are refused) and every open connection."""
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # killed
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            written = [False]
            threading.Thread(target=self._pump, args=(client, server, written), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, written: list[bool] | None) -> None:
        """Forward `source` to `sink`; upstream (`written` given), freeze at the COMMIT of a transaction that wrote."""
        try:
            while data := source.recv(65536):
                if written is not None and self.freeze_at_written_commit:
                    written[0] = written[0] or b"INSERT" in data or b"UPDATE" in data
                    if written[0] and b"COMMIT" in data:
                        self.frozen = True
                while self.frozen:
                    time.sleep(0.02)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(engine: Engine) -> Iterator[Proxy]:
    if engine.dialect.name != "postgresql":
        pytest.skip("the proxy stands between the app and PostgreSQL; SQLite has its own outage test")
    url = make_url(POSTGRES_URL)
    running = Proxy((url.host or "127.0.0.1", url.port or 5432))
    yield running
    running.kill()


@pytest.fixture
def proxied(proxy: Proxy) -> Iterator[sessionmaker[Session]]:
    """Sessions of an engine that reaches the test database through the proxy, with short limits."""
    url = make_url(POSTGRES_URL).set(host="127.0.0.1", port=proxy.port)
    engine = make_engine(url.render_as_string(hide_password=False), LIMITS)
    yield make_session_factory(engine)
    engine.dispose()


def _timed(call: Callable[[], object]) -> tuple[object, float]:
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def _token(factory: sessionmaker[Session], zone) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, zone.principal, "监控", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def _assert_unavailable_page(response) -> None:
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    page = response.get_data(as_text=True)
    assert "服务暂时不可用" in page and "Service temporarily unavailable" in page


def _assert_unavailable_problem(response) -> None:
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert response.mimetype == "application/problem+json" and response.json["type"].endswith("/unavailable")


def _assert_everything_answers(client, api_headers: dict[str, str]) -> None:
    assert client.get("/inbox").status_code == 200
    assert client.get("/api/v1/tasks", headers=api_headers).status_code == 200
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("outage", ["frozen", "killed"])
def test_an_outage_gets_503_within_the_limits_and_everything_recovers_without_a_restart(
        proxy, proxied, factory, zone, tmp_path, outage):
    client = make_app(proxied, tmp_path, T0).test_client()
    sign_in(client, "boss")
    api_headers = _token(factory, zone)
    _assert_everything_answers(client, api_headers)
    if outage == "frozen":
        proxy.frozen = True
    else:
        proxy.kill()

    page, seconds = _timed(lambda: client.get("/inbox"))
    _assert_unavailable_page(page)
    assert seconds < PAGE_LIMIT
    problem, seconds = _timed(lambda: client.get("/api/v1/tasks", headers=api_headers))
    _assert_unavailable_problem(problem)
    assert seconds < PAGE_LIMIT
    health, seconds = _timed(lambda: client.get("/healthz"))
    assert health.status_code == 503 and health.json["checks"]["database"]["state"] == "fail"
    assert seconds < 2

    if outage == "frozen":
        proxy.kill()  # what a real freeze ends in: the stuck connections are gone
    proxy.restart()
    _assert_everything_answers(client, api_headers)


def test_a_completion_cut_off_at_its_commit_leaves_the_task_open_and_succeeds_when_repeated(
        proxy, proxied, factory, zone, tmp_path):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hid)
    client = make_app(proxied, tmp_path, T0).test_client()
    sign_in(client, "boss")
    form = {**PLAN, "csrf_token": csrf(client, f"/tasks/{task.task_id}")}

    proxy.freeze_at_written_commit = True
    cut, seconds = _timed(lambda: client.post(f"/tasks/{task.task_id}", data=form))
    _assert_unavailable_page(cut)
    assert proxy.frozen and seconds < PAGE_LIMIT
    assert open_task(factory, hid).task_id == task.task_id  # nothing visible while the proxy holds the COMMIT
    proxy.freeze_at_written_commit = False
    proxy.kill()  # the server loses the connection: the transaction it never saw committed is rolled back
    proxy.restart()
    with transaction(factory) as s:
        row = s.get(InboxTask, task.id)
        assert row is not None and row.completed_at is None
    assert client.post(f"/tasks/{task.task_id}", data=form).status_code == 302
    assert open_task(factory, hid).bpmn_id != task.bpmn_id


@pytest.fixture
def locked(engine: Engine, tmp_path: Path) -> Iterator[Callable[[], object]]:
    """SQLite: the app's own engine with short limits, and a way to hold the write lock from outside."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL outages go through the proxy")
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None, check_same_thread=False)
    yield lambda: holder.execute("BEGIN IMMEDIATE")
    holder.close()


def test_a_locked_sqlite_database_gets_503_pages_and_problems_not_a_bare_500(engine, factory, zone, tmp_path,
                                                                               locked):
    app_engine = make_engine(engine.url.render_as_string(), DatabaseLimits(statement=1))
    client = make_app(make_session_factory(app_engine), tmp_path, T0).test_client()
    sign_in(client, "boss")
    api_headers = _token(factory, zone)
    locked()
    _assert_unavailable_page(client.get("/inbox"))
    _assert_unavailable_problem(client.get("/api/v1/tasks", headers=api_headers))
    english = client.get("/inbox", headers={"Accept-Language": "en"})
    _assert_unavailable_page(english)
    app_engine.dispose()


def _rectifying(factory, zone) -> int:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, {**PLAN, "rectification_deadline": date(2026, 11, 20).isoformat()}, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    return hid


REMINDER = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)


def _health(factory, tmp_path, moment: datetime):
    return make_app(factory, tmp_path, moment).test_client().get("/healthz")


def test_timers_of_an_instance_in_incident_do_not_make_healthz_503(factory, zone, tmp_path):
    hid = _rectifying(factory, zone)
    with transaction(factory) as s:
        instance_id = open_task(factory, hid).instance_id
        s.get(ProcessInstanceRow, instance_id).status = "incident"
        s.add(Incident(instance_id=instance_id, task_id="t", bpmn_id="Script", name="脚本", error="boom", data={},
                       skippable=True, occurred_at=T0))
    response = _health(factory, tmp_path, REMINDER + timedelta(days=3))
    assert response.status_code == 200 and response.json["status"] == "warn"
    checks = response.json["checks"]
    assert checks["sweep"]["timers_due"] == 0 and checks["incidents"] == {"state": "warn", "open": 1}


def test_an_old_or_failing_last_sweep_with_due_timers_is_503_and_a_recent_clean_one_is_not(factory, zone, tmp_path):
    _rectifying(factory, zone)
    run_job(factory, "sweep", lambda now: 0, clock=lambda: REMINDER - timedelta(hours=1))
    stale = _health(factory, tmp_path, REMINDER + timedelta(minutes=5))
    assert stale.status_code == 503 and stale.json["checks"]["sweep"]["state"] == "fail"
    assert stale.json["checks"]["sweep"]["last_run_age_seconds"] == 3900
    run_job(factory, "sweep", lambda now: 0, clock=lambda: REMINDER + timedelta(minutes=4))  # ran, fired nothing
    stuck = _health(factory, tmp_path, REMINDER + timedelta(minutes=5))
    assert stuck.status_code == 200 and stuck.json["checks"]["sweep"]["state"] == "warn"


    def broken(now):
        raise RuntimeError("smtp.internal.example refused")

    run_job(factory, "sweep", broken, clock=lambda: REMINDER + timedelta(minutes=4, seconds=30))
    failing = _health(factory, tmp_path, REMINDER + timedelta(minutes=5))
    assert failing.status_code == 503 and failing.json["checks"]["sweep"]["failed"] is True
    assert "smtp.internal" not in failing.get_data(as_text=True)  # the error's text is not public


def test_notices_waiting_for_a_dead_dispatcher_are_503_and_parked_ones_a_warning(factory, zone, tmp_path):
    with transaction(factory) as s:
        for key, status in (("a", "pending"), ("b", "parked")):
            s.add(Notice(idempotency_key=key, channel="email", kind="overdue", subject="逾期", body="逾期",
                         recipient_org_id=zone.enterprise_id, status=status, created_at=T0))
    run_job(factory, "dispatch", lambda now: 0, clock=lambda: T0 - timedelta(hours=1))
    dead = _health(factory, tmp_path, T0 + timedelta(minutes=5))
    assert dead.status_code == 503
    assert dead.json["checks"]["dispatch"] | {"state": "fail", "notices_pending": 1, "notices_parked": 1} \
        == dead.json["checks"]["dispatch"]
    with transaction(factory) as s:
        s.query(Notice).filter_by(idempotency_key="a").delete()
    parked_only = _health(factory, tmp_path, T0 + timedelta(minutes=5))
    assert parked_only.status_code == 200 and parked_only.json["checks"]["dispatch"]["state"] == "warn"


def test_metrics_show_request_latency_and_the_zones_gauges_to_this_host_only(factory, zone, tmp_path):
    _rectifying(factory, zone)
    client = make_app(factory, tmp_path, REMINDER).test_client()
    client.get("/login")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'workflow_app_request_duration_seconds_count{endpoint="auth.login",method="GET",status="200"} 1.0' in text
    for line in ("workflow_app_database_up 1.0", "workflow_app_open_tasks 1.0", "workflow_app_open_incidents 0.0",
                 "workflow_app_timers_due 1.0", 'workflow_app_notices{status="sent"}'):
        assert line in text, line
    assert "/login" not in text  # labelled by endpoint, never by path
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_metrics_with_a_token_need_it_from_everyone(factory, zone, tmp_path):
    settings = Settings(database_url="unused://", secret_key="t", bpmn_dir=BPMN_DIR, instance_dir=tmp_path / "i",
                        secure_cookies=False, metrics_token="s3cret-scrape")
    client = create_app(settings, factory, clock=lambda: T0).test_client()
    assert client.get("/metrics").status_code == 404  # loopback is not enough once a token is set
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    scraped = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"},
                         environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert scraped.status_code == 200 and "workflow_app_database_up 1.0" in scraped.get_data(as_text=True)


def test_the_statement_limit_keeps_the_urls_own_server_options(engine) -> None:
    """The statement_timeout is added to a URL's `options` (a schema search path, say), not put in its place."""
    if engine.dialect.name != "postgresql":
        pytest.skip("server options are PostgreSQL's")
    url = make_url(POSTGRES_URL).update_query_dict({"options": "-csearch_path=elsewhere,public"})
    limited = make_engine(url.render_as_string(hide_password=False), LIMITS)
    try:
        with limited.connect() as connection:
            assert connection.exec_driver_sql("SHOW search_path").scalar() == "elsewhere,public"
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "2s"
    finally:
        limited.dispose()
