"""Benchmark: the 一企一档 pages (/enterprises searched and filtered, /enterprises/<id>) on SQLite.

Usage: python bench/enterprises.py [--enterprises N] [--requests R]
Seeds N enterprises with Chinese names (pinyin initials kept), 10 towns, 8 sectors (two high-risk)
under 5 departments, each enterprise in one or two sectors, led by its sector's department, a risk
colour for most. Signs in the office and times R requests of each page through the Flask app
(routing, queries, template), counting the SQL statements each request runs. Prints
`p95 <page>: X ms, Q statements`. The statement count must not grow with N (no query per row).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select
from werkzeug.security import generate_password_hash

from workflow_app.config import Settings
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import EnterpriseSector, Organisation, Sector, Supervision, User
from workflow_app.store.name_search import initials
from workflow_app.web import create_app

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
SYLLABLES = "瑞丰华达安泰宏远恒信永兴东方金鑫海天明光新源盛通鼎力正德长城中联"
SUFFIXES = ("化工有限公司", "机械厂", "运输有限公司", "建设工程有限公司", "燃气有限公司", "食品有限公司")
COLOURS = ("red", "orange", "yellow", "yellow", "blue", "blue", "blue", None)


def _seed(session: Any, count: int) -> tuple[str, int]:
    """The zone; returns an initials prefix to search by and an enterprise id."""
    towns = [Organisation(code=f"T{i:02d}", name=f"第{i}街道", kind="town") for i in range(10)]
    departments = [Organisation(code=f"D{i}", name=f"第{i}监管部门", kind="department") for i in range(5)]
    office = Organisation(code="OFFICE", name="安委办", kind="office")
    session.add_all([office, *towns, *departments])
    session.flush()
    sectors = [Sector(code=f"s{i}", name=f"行业{i}", department_id=departments[i % 5].id, high_risk=i < 2)
               for i in range(8)]
    session.add_all(sectors)
    session.flush()
    session.add(User(username="office", display_name="安委办", role="office", organisation_id=office.id,
                     password_hash=generate_password_hash("pw")))
    pick = random.Random(17)
    rows = []
    for i in range(count):
        name = "".join(pick.choice(SYLLABLES) for _ in range(4)) + pick.choice(SUFFIXES) + f"{i}"
        rows.append({"code": f"E{i:05d}", "name": name, "name_initials": initials(name), "kind": "enterprise",
                     "sector_code": sectors[i % 8].code, "town_id": towns[i % 10].id, "risk_colour": COLOURS[i % 8],
                     "major_hazard_source": i % 13 == 0})
    session.execute(insert(Organisation), rows)
    ids = list(session.scalars(select(Organisation.id).where(Organisation.kind == "enterprise")
                               .order_by(Organisation.id)))
    by_code = {s.code: s for s in sectors}
    session.execute(insert(EnterpriseSector), [{"enterprise_id": e, "sector_code": f"s{n % 8}"} for n, e in
                                               enumerate(ids)] + [{"enterprise_id": e, "sector_code": f"s{(n + 3) % 8}"}
                                                                  for n, e in enumerate(ids) if n % 4 == 0])
    session.execute(insert(Supervision), [{"enterprise_id": e, "department_id": by_code[f"s{n % 8}"].department_id,
                                           "is_lead": True} for n, e in enumerate(ids)])
    return rows[count // 2]["name_initials"][:3], ids[count // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-enterprises-"))
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    factory = make_session_factory(engine)
    print(f"seeding {args.enterprises} enterprises …", file=sys.stderr, flush=True)
    init_db(engine, factory, ROOT / "bpmn", NOW)
    with transaction(factory) as session:
        prefix, some_id = _seed(session, args.enterprises)
    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    app = create_app(Settings(database_url="unused://", secret_key="bench", bpmn_dir=ROOT / "bpmn",
                              instance_dir=folder / "instance", secure_cookies=False), factory, clock=lambda: NOW)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.post("/login", data={"username": "office", "password": "pw"}).status_code == 302
    pages = {"list": "/enterprises", "search": f"/enterprises?q={prefix}",
             "filters": "/enterprises?colour=red&high_risk=1&major=0&status=active",
             "file": f"/enterprises/{some_id}"}
    for label, path in pages.items():
        times, counts = [], []
        for _ in range(args.requests):
            statements[0] = 0
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            counts.append(statements[0])
            assert response.status_code == 200, (path, response.status_code)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"p95 {label}: {p95:.1f} ms, {max(counts)} statements")


if __name__ == "__main__":
    main()
