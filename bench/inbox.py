"""Benchmark: GET /inbox (first page, with counts) over 100,000 open tasks on SQLite.

Usage: python bench/inbox.py [--tasks N] [--enterprises M] [--requests R]
Seeds M enterprises in 10 towns and 8 sectors under 5 departments, one open task per
hazard (about 70% for enterprises, 20% for departments, 10% triage for the office; a
third of them dated, some overdue), then signs in one user per role and times R
requests of /inbox each through the Flask app (routing, queries, template). Prints
`p95 <role>: X ms`. Target (issue #3): every p95 < 50 ms; the same for each role's home page `/`
(issue #20: counts over every open task and hazard the user sees).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from workflow_app.config import Settings
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import (
    EnterpriseSector,
    Hazard,
    InboxTask,
    ModelVersion,
    Organisation,
    ProcessInstanceRow,
    Sector,
    Supervision,
    User,
)
from workflow_app.web import create_app

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
TASKS = [("Task_PlanRectification", "制定治理方案（五落实）", "企业", "enterprise"),
         ("Task_Rectify", "实施整改", "企业", "enterprise"),
         ("Task_ReviewPlan", "审核治理方案", "监管部门", "department"),
         ("Task_Triage", "举报受理研判", "安委办", "office")]


def progress(label: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 20) == 0:
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def supervise(session, ids: list[int], sectors: list[Sector]) -> None:  # type: ignore[no-untyped-def]
    """Each enterprise works in its sector, led by the sector's department; every third one is also
    supervised by the next department (三管三必须)."""
    session.execute(insert(EnterpriseSector), [{"enterprise_id": e, "sector_code": s.code}
                                               for e, s in zip(ids, sectors, strict=True)])
    departments = sorted({s.department_id for s in sectors})
    session.execute(insert(Supervision), [{"enterprise_id": e, "department_id": s.department_id, "is_lead": True}
                                          for e, s in zip(ids, sectors, strict=True)])
    session.execute(insert(Supervision), [
        {"enterprise_id": e, "department_id": departments[(departments.index(s.department_id) + 1) % len(departments)],
         "is_lead": False} for n, (e, s) in enumerate(zip(ids, sectors, strict=True)) if n % 3 == 0])


def _zone(session, enterprises: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    office = Organisation(code="OFFICE", name="安委办", kind="office")
    towns = [Organisation(code=f"T{i:02d}", name=f"第{i}街道", kind="town") for i in range(10)]
    departments = [Organisation(code=f"D{i}", name=f"第{i}监管部门", kind="department") for i in range(5)]
    session.add_all([office, *towns, *departments])
    session.flush()
    sectors = [Sector(code=f"s{i}", name=f"行业{i}", department_id=departments[i % 5].id) for i in range(8)]
    session.add_all(sectors)
    session.flush()
    rows = [{"code": f"E{i:05d}", "name": f"企业{i:05d}", "kind": "enterprise", "sector_code": sectors[i % 8].code,
             "town_id": towns[i % 10].id} for i in range(enterprises)]
    session.execute(insert(Organisation), rows)
    ids = list(session.scalars(select(Organisation.id).where(Organisation.kind == "enterprise")
                               .order_by(Organisation.id)))
    supervise(session, ids, [sectors[i % 8] for i in range(enterprises)])
    return {"office": office, "town": towns[0], "department": departments[0], "enterprises": ids,
            "sector_department": {s.code: s.department_id for s in sectors}}


def _users(session, zone: dict) -> None:  # type: ignore[no-untyped-def]
    pw = generate_password_hash("bench")
    enterprise_id = zone["enterprises"][0]
    session.add_all([
        User(username="ent", display_name="企业用户", role="enterprise", organisation_id=enterprise_id,
             password_hash=pw),
        User(username="dept", display_name="部门用户", role="department", organisation_id=zone["department"].id,
             password_hash=pw),
        User(username="town", display_name="街道用户", role="town", organisation_id=zone["town"].id, password_hash=pw),
        User(username="office", display_name="安委办用户", role="office", organisation_id=zone["office"].id,
             password_hash=pw),
    ])


def seed(factory, tasks: int, enterprises: int) -> None:  # type: ignore[no-untyped-def]
    """Organisations, users and `tasks` hazards with one open task each, inserted in batches."""
    rng = random.Random(7)
    with transaction(factory) as session:
        zone = _zone(session, enterprises)
        _users(session, zone)
        version_id = session.scalar(select(ModelVersion.id))
        sector_of = dict(session.execute(select(Organisation.id, Organisation.sector_code)
                                         .where(Organisation.kind == "enterprise")).all())
    state = zlib.compress(b"{}")
    batch = 5000
    for start in range(0, tasks, batch):
        with transaction(factory) as session:
            count = min(batch, tasks - start)
            first = start + 1
            session.execute(insert(ProcessInstanceRow), [
                {"id": first + n, "model_version_id": version_id, "state": state, "status": "running", "version": 1,
                 "started_at": NOW, "updated_at": NOW} for n in range(count)])
            owners = [zone["enterprises"][rng.randrange(enterprises)] for _ in range(count)]
            session.execute(insert(Hazard), [
                {"id": first + n, "code": f"YH2026{first + n:06d}", "instance_id": first + n, "enterprise_id": owner,
                 "title": f"隐患{first + n}", "description": "描述", "location": "车间", "category": "equipment",
                 "source": rng.choice(["self_inspection", "enforcement", "public_report"]),
                 "level": rng.choice(["general", "general", "major"]), "status": "rectifying",
                 "found_on": date(2026, 11, 1), "reported_at": NOW, "updated_at": NOW}
                for n, owner in enumerate(owners)])
            session.execute(insert(InboxTask), [_task(rng, first + n, owner, zone, sector_of) for n, owner in
                                                enumerate(owners)])
        progress("seed", start + count, tasks)


def _task(rng: random.Random, number: int, owner: int, zone: dict, sector_of: dict) -> dict:  # type: ignore[type-arg]
    bpmn_id, name, lane, role = TASKS[rng.choices(range(4), weights=[35, 35, 20, 10])[0]]
    organisation = {"enterprise": owner, "department": zone["sector_department"][sector_of[owner]],
                    "office": zone["office"].id}[role]
    due = date(2026, 11, 25) + timedelta(days=rng.randrange(-20, 40)) if rng.random() < 0.33 else None
    return {"task_id": f"00000000-0000-4000-8000-{number:012d}", "instance_id": number, "hazard_id": number,
            "enterprise_id": owner, "bpmn_id": bpmn_id, "name": name, "lane": lane, "role": role,
            "organisation_id": organisation, "due_on": due, "created_at": NOW}


def measure(app, username: str, requests: int, path: str = "/inbox") -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds per GET of `path` for one signed-in user (after two warm-up requests)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post("/login", data={"username": username, "password": "bench", "csrf_token": token})
    assert signed_in.status_code == 302
    for _ in range(2):
        assert client.get(path).status_code == 200
    timings = []
    for n in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        progress(f"GET {path} as {username}", n + 1, requests)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'inbox.db'}"
        engine = make_engine(url)
        factory = make_session_factory(engine)
        init_db(engine, factory, ROOT / "bpmn", NOW)
        seed(factory, args.tasks, args.enterprises)
        settings = Settings(database_url=url, secret_key="bench", bpmn_dir=ROOT / "bpmn",
                            instance_dir=Path(folder) / "instance", secure_cookies=False)
        app = create_app(settings, factory, clock=lambda: NOW)
        users = (("enterprise", "ent"), ("department", "dept"), ("town", "town"), ("office", "office"))
        results = {role: measure(app, user, args.requests) for role, user in users}
        # beyond the target: the oversight tab of supervisors, the widest query
        results |= {f"{role} (watch tab)": measure(app, user, args.requests, "/inbox?tab=watch")
                    for role, user in users[1:]}
        # each role's home (issue #20): task counts, and the overseers' figures over every hazard they see
        results |= {f"{role} (home)": measure(app, user, args.requests, "/") for role, user in users}
        engine.dispose()
    for role, timings in results.items():
        p95 = statistics.quantiles(timings, n=20)[18]
        print(f"p95 {role}: {p95:.1f} ms (median {statistics.median(timings):.1f} ms, target < 50 ms)")


if __name__ == "__main__":
    main()
