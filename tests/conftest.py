"""Fixtures: a database on SQLite and on PostgreSQL, a small zone, users per role, a clock."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, NullPool, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from workflow_app.services import holiday_calendar
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import EnterpriseSector, Organisation, Sector, Supervision, User
from workflow_app.web.public_views import limiter, lookups

BPMN_DIR = Path(__file__).resolve().parents[1] / "bpmn"


def _database_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own, `<name>_gw0` …, made on first use and
    dropped when the worker ends (conftest's pytest_sessionfinish): tests recreate the public schema, so
    two workers must never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}) is None:
            connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    admin.dispose()
    return own.render_as_string(hide_password=False)


POSTGRES_URL = _database_of_this_worker(os.environ.get("WORKFLOW_APP_TEST_POSTGRES_URL"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker's own database goes with it, and the template its tests' databases were copied from."""
    shared = os.environ.get("WORKFLOW_APP_TEST_POSTGRES_URL")
    if not POSTGRES_URL or not shared:
        return
    own = make_url(POSTGRES_URL).database
    admin = create_engine(make_url(shared), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{own}{TEMPLATE_SUFFIX}" WITH (FORCE)'))
        if shared != POSTGRES_URL:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)'))
    admin.dispose()
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def _postgres_engine() -> Engine:
    if not POSTGRES_URL:
        pytest.skip("WORKFLOW_APP_TEST_POSTGRES_URL is not set")
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """The public pages' rate limits count per address in this process: every test starts with empty windows
    (otherwise a test's reports depend on how many earlier tests in the worker reported from 127.0.0.1)."""
    limiter._events.clear()
    lookups._events.clear()


TEMPLATE_SUFFIX = "_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated, with the models in bpmn/ deployed at T0, made once per worker: each test
    starts from a copy of it (migrating and deploying anew took 0.4 s a test)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = make_engine(f"sqlite:///{path}")
    init_db(db, make_session_factory(db), BPMN_DIR, T0)
    db.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    """The name of a PostgreSQL database prepared as sqlite_template, once per worker: each test's database is
    created from it (CREATE DATABASE … TEMPLATE copies it in 40-170 ms)."""
    engine = _postgres_engine()
    init_db(engine, make_session_factory(engine), BPMN_DIR, T0)
    engine.dispose()
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL)
    template = f"{url.database}{TEMPLATE_SUFFIX}"
    with _admin(url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        connection.execute(text(f'ALTER DATABASE "{url.database}" RENAME TO "{template}"'))
    return template


def _admin(url: URL) -> Engine:
    """A connection to the server's `postgres` database, where databases are dropped and created."""
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _postgres_copy(template: str) -> Engine:
    """The worker's database, made anew from `template`."""
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL)
    with _admin(url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
    return make_engine(POSTGRES_URL)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database with the models in bpmn/ deployed, on each backend: a copy of the worker's template."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        db = make_engine(f"sqlite:///{path}")
    else:
        if not POSTGRES_URL:
            pytest.skip("WORKFLOW_APP_TEST_POSTGRES_URL is not set")
        db = _postgres_copy(request.getfixturevalue("postgres_template"))
    yield db
    db.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to the test database."""
    return holiday_calendar.follow(make_session_factory(engine))


@dataclass
class Zone:
    """The ids of a minimal zone: office, a town, a department, two enterprises, their users."""

    office: User
    town: User
    department: User
    other_department: User
    principal: User
    safety_officer: User
    outsider: User
    enterprise_id: int
    other_enterprise_id: int


def _org(session: Session, code: str, kind: str, **extra: object) -> Organisation:
    """An organisation; an enterprise with a sector works in it and is led by the sector's department."""
    org = Organisation(code=code, name=f"{code}单位", kind=kind, **extra)
    session.add(org)
    session.flush()
    sector = session.get(Sector, org.sector_code) if kind == "enterprise" and org.sector_code else None
    if sector is not None:
        session.add_all([EnterpriseSector(enterprise_id=org.id, sector_code=sector.code),
                         Supervision(enterprise_id=org.id, department_id=sector.department_id, is_lead=True)])
        session.flush()
    return org


def _user(session: Session, username: str, role: str, org: Organisation) -> User:
    user = User(username=username, display_name=f"{username}姓名", role=role, organisation_id=org.id,
                password_hash=generate_password_hash("pw"))
    session.add(user)
    session.flush()
    return user


def _principal(user: User) -> User:
    user.is_principal = True
    return user


@pytest.fixture
def zone(factory: sessionmaker[Session]) -> Zone:
    """A small zone: one enterprise in the industry sector with two users, one in transport."""
    with transaction(factory) as s:
        office = _org(s, "OFFICE", "office")
        town = _org(s, "T1", "town")
        dept = _org(s, "D1", "department")
        other_dept = _org(s, "D2", "department")
        s.add_all([Sector(code="industry", name="工贸", department_id=dept.id),
                   Sector(code="transport", name="交通运输", department_id=other_dept.id)])
        ent = _org(s, "E1", "enterprise", sector_code="industry", town_id=town.id)
        other = _org(s, "E2", "enterprise", sector_code="transport", town_id=town.id)
        return Zone(
            office=_user(s, "office", "office", office), town=_user(s, "town", "town", town),
            department=_user(s, "dept", "department", dept),
            other_department=_user(s, "dept2", "department", other_dept),
            principal=_principal(_user(s, "boss", "enterprise", ent)),
            safety_officer=_user(s, "safety", "enterprise", ent),
            outsider=_user(s, "outsider", "enterprise", other), enterprise_id=ent.id, other_enterprise_id=other.id,
        )
