"""Benchmark: full hazard loops, bare in memory vs. through the services on SQLite.

Usage: python bench/lifecycle.py [--loops N] [--rounds R]
Prints `bare: X loops/s`, `persisted: Y loops/s`, `ratio: Y/X`, `state: K KB per closed
instance`. Targets (issue #2): ratio >= 0.20, state <= 4 KB.
Both are run R times, alternating, and each keeps its best round: on a shared machine the
slow rounds measure the neighbours, not the code (the same reason `timeit` reports the minimum).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from workflow_app.engine import ProcessInstance, load_model
from workflow_app.services import hazards, holiday_calendar, tasks
from workflow_app.services.evidence import EvidenceStore, Uploads, check_photo
from workflow_app.services.setup import init_db
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import (
    EnterpriseSector,
    InboxTask,
    Organisation,
    ProcessInstanceRow,
    Sector,
    Supervision,
    User,
)

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
REPORT = {"source": "enforcement", "hazard_level": "major", "category": "equipment", "title": "报警器失效",
          "description": "可燃气体报警器不报警", "location": "储罐区", "found_on": "2026-11-01"}
STEPS = [
    {"responsible_person": "王五", "rectification_measures": "更换报警器", "rectification_funds": "2.5",
     "rectification_deadline": "2026-11-20", "emergency_plan": "设置警戒区"},
    {"review_decision": "approve", "review_opinion": "同意"},
    {"rectification_result": "已更换并调试", "rectified_on": "2026-11-10"},  # + an "after" photo
    {"verification_result": "passed", "verification_opinion": "验收合格", "verifier_signature": "部门"},
]


def png_bytes() -> bytes:
    """A small real photo: the rectification step carries one, as the model requires."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (60, 150, 90)).save(buffer, "PNG")
    return buffer.getvalue()


AFTER_PHOTO = check_photo(png_bytes(), "after.png")


def with_evidence(data: dict, store: EvidenceStore | None) -> tuple[dict, Uploads | None]:
    """The rectification step's data with its photo: its hash for the bare engine, an upload through services."""
    if "rectification_result" not in data:
        return data, None
    if store is None:
        return {**data, "photos_after": [AFTER_PHOTO.sha256]}, None
    return data, Uploads(store, {"photos_after": [AFTER_PHOTO]})


def progress(label: str, done: int, total: int) -> None:
    """Progress on stderr, one line rewritten in place every 5%."""
    if done == total or done % max(1, total // 20) == 0:
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def bare(loops: int) -> float:
    """Loops per second with the engine alone, nothing saved."""
    model = load_model((ROOT / "bpmn" / "hazard_lifecycle.bpmn").read_bytes(), "hazard_lifecycle.bpmn")
    started = time.perf_counter()
    for n in range(loops):
        instance, _ = ProcessInstance.start(model, REPORT, NOW)
        for data in STEPS:
            instance.complete_task(instance.ready_user_tasks()[0].task_id, with_evidence(data, None)[0], NOW)
        assert instance.is_completed
        progress("bare", n + 1, loops)
    return loops / (time.perf_counter() - started)


def zone(factory) -> dict[str, User]:
    """An office, a department, one enterprise in its sector, and a user for each acting role."""
    with transaction(factory) as s:
        office = Organisation(code="OFFICE", name="安委办", kind="office")
        dept = Organisation(code="D1", name="应急管理分局", kind="department")
        s.add_all([office, dept])
        s.flush()
        s.add(Sector(code="hazchem", name="危险化学品", department_id=dept.id))
        ent = Organisation(code="E1", name="瑞丰化工", kind="enterprise", sector_code="hazchem")
        s.add(ent)
        s.flush()
        s.add_all([EnterpriseSector(enterprise_id=ent.id, sector_code="hazchem"),
                   Supervision(enterprise_id=ent.id, department_id=dept.id, is_lead=True)])
        pw = generate_password_hash("x")
        users = {"enterprise": User(username="e", display_name="企业", role="enterprise", organisation_id=ent.id,
                                    password_hash=pw),
                 "department": User(username="d", display_name="部门", role="department", organisation_id=dept.id,
                                    password_hash=pw)}
        s.add_all(users.values())
        s.flush()
        return users


def persisted(loops: int, folder: Path) -> tuple[float, float]:
    """Loops per second through the services on a new SQLite file, and KB of state per closed instance."""
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    factory = holiday_calendar.follow(make_session_factory(engine))  # as the app: working days from the table
    init_db(engine, factory, ROOT / "bpmn", NOW)
    users = zone(factory)
    store = EvidenceStore(folder / "evidence")
    with transaction(factory) as s:
        enterprise_id = s.scalar(select(Organisation.id).where(Organisation.code == "E1"))
    started = time.perf_counter()
    for n in range(loops):
        with transaction(factory) as s:
            hazard_id = hazards.report_hazard(s, users["enterprise"], enterprise_id, REPORT, NOW).hazard_id
        for data in STEPS:
            with transaction(factory) as s:
                task_id, role = s.execute(select(InboxTask.task_id, InboxTask.role).where(
                    InboxTask.hazard_id == hazard_id, InboxTask.completed_at.is_(None))).one()
                step_data, uploads = with_evidence(data, store)
                tasks.complete_task(s, users[role], task_id, step_data, NOW, uploads)
        progress("persisted", n + 1, loops)
    rate = loops / (time.perf_counter() - started)
    with transaction(factory) as s:
        size = s.scalar(select(func.avg(func.length(ProcessInstanceRow.state)))
                        .where(ProcessInstanceRow.status == "completed"))
    engine.dispose()
    return rate, float(size or 0) / 1024


def main() -> None:
    """Run both and print the figures with the targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loops", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bare_rate = persisted_rate = state_kb = 0.0
    for _ in range(args.rounds):
        bare_rate = max(bare_rate, bare(args.loops))
        with tempfile.TemporaryDirectory() as folder:
            rate, state_kb = persisted(args.loops, Path(folder))
        persisted_rate = max(persisted_rate, rate)
    print(f"bare: {bare_rate:.1f} loops/s")
    print(f"persisted: {persisted_rate:.1f} loops/s")
    print(f"ratio: {persisted_rate / bare_rate:.2f} (target >= 0.20)")
    print(f"state: {state_kb:.2f} KB per closed instance (target <= 4 KB)")


if __name__ == "__main__":
    main()
