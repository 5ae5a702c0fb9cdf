"""Benchmark: the timer sweep with 100,000 waiting timers, on SQLite.

Usage: python bench/sweep.py [--waiting N] [--due-hazards M]
Seeds M real hazards under rectification (three boundary timers each, all due at the
measured instant: 334 hazards give 1,002 due timers) and fills the timer table up to N
waiting timers that fall due years later. Prints `empty sweep (nothing due): X ms`
(median of 20 sweeps before anything is due) and `1000 due: X ms` (one sweep firing
every due timer through the engine, with notices). Targets (issue #4): < 20 ms and < 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from lifecycle import REPORT, STEPS, progress, zone
from sqlalchemy import insert, select

from workflow_app.services import hazards, tasks
from workflow_app.services.setup import init_db
from workflow_app.services.sweep import sweep
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import (
    InboxTask,
    ModelVersion,
    ProcessInstanceRow,
    TimerRow,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
BEFORE_DUE = datetime(2026, 11, 10, 1, 0, tzinfo=UTC)
ALL_DUE = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)
FAR = datetime(2031, 1, 1, tzinfo=UTC)


def seed_due(factory, hazards_count: int) -> None:  # type: ignore[no-untyped-def]
    """Real hazards under rectification: report, plan, approve (the first steps of bench/lifecycle.py)."""
    users = zone(factory)
    for n in range(hazards_count):
        with transaction(factory) as s:
            hazard_id = hazards.report_hazard(s, users["enterprise"], users["enterprise"].organisation_id, REPORT,
                                              T0).hazard_id
        for data in STEPS[:2]:
            with transaction(factory) as s:
                task = s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_id,
                                                         InboxTask.completed_at.is_(None))).one()
                tasks.complete_task(s, users[task.role], task.task_id, data, T0)
        progress("due hazards", n + 1, hazards_count)


def seed_waiting(factory, count: int) -> None:  # type: ignore[no-untyped-def]
    """Filler timers that fall due years later, on instance rows the sweep never has to load."""
    with transaction(factory) as s:
        version_id = s.scalar(select(ModelVersion.id))
        first = (s.scalar(select(ProcessInstanceRow.id).order_by(ProcessInstanceRow.id.desc()).limit(1)) or 0) + 1
    state, batch = zlib.compress(b"{}"), 10_000
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with transaction(factory) as s:
            s.execute(insert(ProcessInstanceRow), [
                {"id": first + start + n, "model_version_id": version_id, "state": state, "status": "running",
                 "version": 1, "started_at": T0, "updated_at": T0} for n in range(size)])
            s.execute(insert(TimerRow), [
                {"task_id": f"ffffffff-0000-4000-8000-{start + n:012d}", "instance_id": first + start + n,
                 "bpmn_id": "Timer_Filler", "name": "filler", "fire_at": FAR} for n in range(size)])
        progress("waiting timers", start + size, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--due-hazards", type=int, default=334)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'sweep.db'}")
        factory = make_session_factory(engine)
        init_db(engine, factory, ROOT / "bpmn", T0)
        seed_due(factory, args.due_hazards)
        with transaction(factory) as s:
            real = len(s.scalars(select(TimerRow.id)).all())
        seed_waiting(factory, args.waiting - real)
        empty = []
        for _ in range(20):
            started = time.perf_counter()
            assert sweep(factory, BEFORE_DUE) == []
            empty.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        fired = sweep(factory, ALL_DUE)
        due_ms = (time.perf_counter() - started) * 1000
        engine.dispose()
    print(f"waiting timers: {args.waiting}, due at the second sweep: {len(fired)}")
    print(f"empty sweep (nothing due): {statistics.median(empty):.1f} ms (target < 20 ms)")
    print(f"{len(fired)} due: {due_ms:.0f} ms (target < 5000 ms)")


if __name__ == "__main__":
    main()
