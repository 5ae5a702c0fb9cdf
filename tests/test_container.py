"""The container image's entrypoint (docker/entrypoint.sh), run with bash as the image runs it.

Docker does not run in CI; the script does: it waits for the database, migrates it with the real
`workflow-app init-db`, then replaces itself with the command it was given (a stub here that
records what it saw).
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import BPMN_DIR, POSTGRES_URL, _postgres_engine
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import ModelVersion

ENTRYPOINT = Path(__file__).resolve().parents[1] / "docker" / "entrypoint.sh"
STUB = """#!/usr/bin/env bash
# stands in for `workflow-app serve`: records its pid, its arguments and whether the schema exists
echo "pid=$$" > "$STUB_RECORD"
echo "args=$*" >> "$STUB_RECORD"
exit 7
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (nothing migrated yet) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    _postgres_engine().dispose()  # skips without PostgreSQL; drops and recreates the public schema
    assert POSTGRES_URL is not None
    return POSTGRES_URL


def _run(tmp_path: Path, url: str, *command: str, wait_seconds: str = "10", migrate: str = "1",
         timeout: float = 120) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the entrypoint with a database URL and the stub on PATH; returns the result and the pid it had."""
    stub = tmp_path / "bin" / "fake-serve"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text(STUB)
    stub.chmod(0o755)
    env = {**os.environ, "WORKFLOW_APP_DATABASE_URL": url, "WORKFLOW_APP_BPMN_DIR": str(BPMN_DIR),
           "WORKFLOW_APP_INSTANCE_DIR": str(tmp_path / "instance"), "WORKFLOW_APP_DB_WAIT_SECONDS": wait_seconds,
           "WORKFLOW_APP_MIGRATE": migrate, "STUB_RECORD": str(tmp_path / "stub.txt"),
           "PATH": os.pathsep.join([str(stub.parent), str(Path(sys.executable).parent), os.environ["PATH"]])}
    process = subprocess.Popen(["bash", str(ENTRYPOINT), *command], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), process.pid


def _stub_record(tmp_path: Path) -> dict[str, str] | None:
    record = tmp_path / "stub.txt"
    if not record.exists():
        return None
    return dict(line.split("=", 1) for line in record.read_text().splitlines())


def test_the_entrypoint_migrates_the_database_then_becomes_the_given_command(tmp_path: Path, database_url: str):
    result, pid = _run(tmp_path, database_url, "fake-serve", "--host", "0.0.0.0")

    assert result.returncode == 7, result.stderr  # the command's own exit status
    assert "database ready" in result.stdout  # init-db ran
    assert _stub_record(tmp_path) == {"pid": str(pid), "args": "--host 0.0.0.0"}  # exec'd: same process
    engine = make_engine(database_url)
    try:
        assert {"alembic_version", "hazards", "users"} <= set(inspect(engine).get_table_names())
        with transaction(make_session_factory(engine)) as session:
            deployed = set(session.scalars(select(ModelVersion.process_id)))
        assert "hazard_lifecycle" in deployed
    finally:
        engine.dispose()


def test_without_migrate_the_entrypoint_runs_the_command_on_the_database_as_it_is(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    result, _ = _run(tmp_path, url, "fake-serve", migrate="0")

    assert result.returncode == 7, result.stderr
    assert "database ready" not in result.stdout
    engine = make_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Forwarder(socketserver.ThreadingTCPServer):
    """A TCP forwarder to the test PostgreSQL: the database "comes up" when it starts listening."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", port), _Pipe, bind_and_activate=False)
        self.target = target
        self.up = threading.Event()

    def come_up(self) -> None:
        """Start listening and forwarding (in a thread of its own)."""
        self.server_bind()
        self.server_activate()
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.up.set()


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.create_connection(self.server.target)  # type: ignore[attr-defined]
        pump = threading.Thread(target=_copy, args=(upstream, self.request), daemon=True)
        pump.start()
        _copy(self.request, upstream)
        pump.join()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.mark.postgres
def test_the_entrypoint_waits_for_a_database_that_comes_up_late(tmp_path: Path):
    _postgres_engine().dispose()  # skips without PostgreSQL; an empty schema
    real = make_url(POSTGRES_URL)
    forwarder = _Forwarder(_closed_port(), (real.host or "127.0.0.1", real.port or 5432))
    later = threading.Timer(3.0, forwarder.come_up)  # nothing listens on its port until then
    later.start()
    try:
        url = real.set(host="127.0.0.1", port=forwarder.server_address[1])
        result, _ = _run(tmp_path, url.render_as_string(hide_password=False), "fake-serve", wait_seconds="40")
    finally:
        later.cancel()
        later.join()
        if forwarder.up.is_set():
            forwarder.shutdown()
        forwarder.server_close()

    assert result.returncode == 7, result.stderr
    assert "waiting for the database" in result.stderr
    assert "database ready" in result.stdout and _stub_record(tmp_path) is not None


def test_the_entrypoint_gives_up_clearly_when_the_database_stays_unreachable(tmp_path: Path):
    url = f"postgresql+psycopg://app:secret-pw@127.0.0.1:{_closed_port()}/app"
    started = time.monotonic()
    result, _ = _run(tmp_path, url, "fake-serve", wait_seconds="3", timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert "not reachable within 3 s" in result.stderr and "127.0.0.1" in result.stderr
    assert "secret-pw" not in result.stderr  # the password is never printed
    assert _stub_record(tmp_path) is None  # neither migrated nor started
    assert "database ready" not in result.stdout
    assert elapsed < 20


def test_the_entrypoint_needs_a_command(tmp_path: Path):
    result, _ = _run(tmp_path, f"sqlite:///{tmp_path / 'app.db'}")

    assert result.returncode == 2
    assert "usage" in result.stderr
