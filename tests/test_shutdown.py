"""SIGTERM stops `serve` and `scheduler` promptly even while a notice waits on a slow endpoint, and the
notice is left to a later run instead of being half recorded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0
from sqlalchemy import select

from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import Notice, Organisation

SLOW_SECONDS = 20
COMMAND = Path(sys.executable).with_name("workflow-app")


class SlowEndpoint(ThreadingHTTPServer):
    """A webhook that takes far longer to answer than a shutdown may."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.called = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: SlowEndpoint

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.called.set()
        time.sleep(SLOW_SECONDS)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[SlowEndpoint]:
    server = SlowEndpoint()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", [["serve", "--port", str(_free_port())], ["scheduler"]])
def test_sigterm_stops_within_two_seconds_while_a_notice_waits_on_a_slow_webhook(command: list[str], tmp_path: Path,
                                                                                   endpoint: SlowEndpoint) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = make_engine(url)
    factory = make_session_factory(engine)
    init_db(engine, factory, BPMN_DIR, T0)
    with transaction(factory) as s:
        office = Organisation(code="OFFICE", name="安委办", kind="office",
                              webhook_url=f"http://127.0.0.1:{endpoint.server_address[1]}/robot")
        s.add(office)
        s.flush()
        s.add(Notice(idempotency_key="test:slow:webhook", channel="webhook", kind="overdue", recipient_org_id=office.id,
                     subject="逾期", body="逾期", created_at=datetime.now(UTC), status="pending"))
    env = {**os.environ, "WORKFLOW_APP_DATABASE_URL": url, "WORKFLOW_APP_INSTANCE_DIR": str(tmp_path / "instance"),
           "WORKFLOW_APP_SECRET_KEY": "test-secret", "WORKFLOW_APP_SWEEP_SECONDS": "1"}
    process = subprocess.Popen([str(COMMAND), *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        assert endpoint.called.wait(60), "the dispatcher never reached the webhook"
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=SLOW_SECONDS)
        took = time.monotonic() - asked
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert took < 5, f"took {took:.1f} s to stop"  # the promise is 2 s; the margin is for a loaded CI machine
    with transaction(factory) as s:
        notice = s.scalars(select(Notice)).one()
    assert (notice.status, notice.sent_at) == ("pending", None)  # goes at a later run, never recorded half-sent
    engine.dispose()
