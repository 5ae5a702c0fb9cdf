"""A client-side deadline for PostgreSQL calls: a call still waiting past it has its socket shut down.

The server's statement_timeout ends a slow statement, and TCP keepalives end a connection whose
peer vanished, but neither helps when the server (or a proxy, or a VM host) is frozen: its kernel
still acknowledges every packet and nothing ever answers, so the calling thread would wait for as
long as the freeze lasts. The watchdog shuts the socket down instead; libpq then reports the
connection lost (an OperationalError), SQLAlchemy invalidates it and the caller's transaction is
rolled back (the server never received a COMMIT it did not answer).

One thread per engine runs only while some call is armed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import InvalidatePoolError

TICK = 0.1
NO_DEADLINE = "workflow_app.no_deadline"
"""Set in a connection's info (migrations) to run its statements without a client-side deadline."""


class Watchdog:
    """Deadlines by DBAPI connection; a connection past its deadline is cut off."""

    def __init__(self) -> None:
        self._deadlines: dict[Any, float] = {}
        self._lock = threading.Lock()
        self._running = False

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        with self._lock:
            self._deadlines[dbapi_connection] = time.monotonic() + seconds
            if not self._running:
                self._running = True
                threading.Thread(target=self._watch, name="db-watchdog", daemon=True).start()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._deadlines.pop(dbapi_connection, None)

    def _watch(self) -> None:
        while True:
            time.sleep(TICK)
            with self._lock:
                moment = time.monotonic()
                for connection in [c for c, deadline in self._deadlines.items() if deadline <= moment]:
                    del self._deadlines[connection]
                    _cut(connection)
                if not self._deadlines:
                    self._running = False
                    return


def _cut(dbapi_connection: Any) -> None:
    """Shut the connection's socket down (both ways) without closing its descriptor under libpq."""
    try:
        with socket.socket(fileno=os.dup(dbapi_connection.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):
        pass  # already closed


def watch(engine: Engine, statement_seconds: float, ping_seconds: float) -> None:
    """Arm a deadline around every statement, commit, rollback and pool ping of `engine`'s connections.

    Statements get `statement_seconds` (0: none); the ping on checkout (replacing pool_pre_ping, which
    runs before any hook could arm it) gets `ping_seconds` and, failing, makes the pool reconnect.
    """
    hooks = _Hooks(engine, statement_seconds, ping_seconds)
    for name in ("before_cursor_execute", "after_cursor_execute", "handle_error", "commit", "rollback", "reset",
                 "checkin", "close", "connect", "checkout"):
        event.listen(engine, name, getattr(hooks, name))


class _Hooks:
    """The engine and pool events that arm and disarm one engine's watchdog."""

    def __init__(self, engine: Engine, statement_seconds: float, ping_seconds: float):
        self.engine, self.statement_seconds, self.ping_seconds = engine, statement_seconds, ping_seconds
        self.dog = Watchdog()

    def _arm(self, dbapi_connection: Any, info: dict[str, Any]) -> None:
        if self.statement_seconds and not info.get(NO_DEADLINE):
            self.dog.arm(dbapi_connection, self.statement_seconds)

    def before_cursor_execute(self, conn: Connection, *_args: Any) -> None:
        self._arm(conn.connection.dbapi_connection, conn.info)

    def after_cursor_execute(self, conn: Connection, *_args: Any) -> None:
        self.dog.disarm(conn.connection.dbapi_connection)

    def handle_error(self, context: Any) -> None:
        if context.connection is not None and not context.connection.invalidated:
            self.dog.disarm(context.connection.connection.dbapi_connection)

    def commit(self, conn: Connection) -> None:
        if not conn.invalidated:
            self._arm(conn.connection.dbapi_connection, conn.info)

    rollback = commit

    def reset(self, dbapi_connection: Any, record: Any, _state: Any) -> None:
        self._arm(dbapi_connection, record.info)

    def checkin(self, dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            self.dog.disarm(dbapi_connection)

    close = checkin

    def connect(self, _dbapi_connection: Any, record: Any) -> None:
        record.info["fresh"] = True

    def checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """Ping a pooled connection before it is handed out (a fresh one just answered)."""
        if record.info.pop("fresh", False):
            return
        self.dog.arm(dbapi_connection, self.ping_seconds)
        try:
            alive = self.engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError(f"ping failed: {exc}") from exc
        finally:
            self.dog.disarm(dbapi_connection)
        if not alive:
            raise InvalidatePoolError("ping failed")
