"""Engines and sessions; SQLite gets the pragmas a multi-threaded web app needs.

Nothing waits for the database without a limit (config.DatabaseLimits): connecting, waiting for a
pooled connection, each statement (server-side statement_timeout, and the client-side watchdog for
a server that answers nothing at all), and dead peers are found by TCP keepalives. What a caller
sees when a limit is reached is one of DATABASE_UNAVAILABLE, and its transaction is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from ..config import DatabaseLimits
from .watchdog import watch

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
"""What a caller gets when the database cannot be had in time: refused, lost, timed out, pool exhausted."""
CLIENT_GRACE = 2.0
"""Seconds the client waits beyond statement_timeout before cutting a silent connection off."""
SQLITE_LONGEST_WAIT = 3600.0
"""SQLite's wait for the write lock when the statement limit is 0 ("none": SQLite itself would not wait at all)."""
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


def make_engine(url: str, limits: DatabaseLimits | None = None) -> Engine:
    """Create an engine with `limits`; for a SQLite file, create its folder and enable WAL and foreign keys."""
    limits = limits or DatabaseLimits()
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(url, limits)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_timeout=limits.pool)
    pooled: dict[str, float] = {}
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pooled["pool_timeout"] = limits.pool  # an in-memory database has one connection per thread, no queue
    engine = create_engine(url, connect_args={"timeout": limits.statement or SQLITE_LONGEST_WAIT}, **pooled)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # BEGIN IMMEDIATE: a writer takes the write lock up front, so two writers queue
        # (busy timeout) instead of one failing late with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: str, limits: DatabaseLimits) -> Engine:
    """PostgreSQL with every limit: libpq's connect and TCP timeouts, statement_timeout, the pool's wait and
    the watchdog (which also pings a pooled connection before handing it out)."""
    connect_args: dict[str, object] = dict(KEEPALIVES)
    if limits.connect:
        connect_args["connect_timeout"] = max(1, round(limits.connect))
    if limits.statement:  # added to the URL's own `options` (a search_path …), which connect_args would replace
        given = make_url(url).query.get("options", "")
        connect_args["options"] = " ".join(filter(None, [given if isinstance(given, str) else " ".join(given),
                                                         f"-c statement_timeout={round(limits.statement * 1000)}"]))
        connect_args["tcp_user_timeout"] = round((limits.statement + CLIENT_GRACE) * 1000)
    engine = create_engine(url, connect_args=connect_args, pool_timeout=limits.pool)
    watch(engine, limits.statement + CLIENT_GRACE if limits.statement else 0, limits.connect or CLIENT_GRACE)
    return engine


def make_session_factory(engine: Engine, audit_key: str | None = None) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (services return them), carrying the key that
    signs the audit log (services/audit.py) in `Session.info`."""
    info = {"audit_key": audit_key.encode("utf-8")} if audit_key else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
