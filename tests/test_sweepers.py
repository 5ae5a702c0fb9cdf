"""Several sweeper processes on one PostgreSQL: every due timer fires exactly once, and a
sweeper killed mid-batch leaves nothing half-done for the next one to finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0
from helpers import PLAN
from sqlalchemy import func, select

from workflow_app.services import hazards, tasks
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, InboxTask, Notice, TimerFiring, TimerRow

HAZARDS = 334  # three timers each: 1,002 due timers
LATER = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)  # after every reminder, overdue and escalation instant
REPORT = {"source": "enforcement", "hazard_level": "major", "category": "equipment", "title": "报警器失效",
          "description": "不报警", "location": "储罐区", "found_on": "2026-11-01"}


@pytest.fixture
def due_timers(engine, factory, zone) -> str:
    """HAZARDS hazards under rectification with every timer due at LATER; returns the database URL."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent sweepers are a PostgreSQL test (SQLite has a single writer)")
    for _ in range(HAZARDS):
        with transaction(factory) as s:
            hazard_id = hazards.report_hazard(s, zone.principal, zone.enterprise_id, REPORT, T0).hazard_id
        for actor, data in ((zone.principal, PLAN), (zone.department, {"review_decision": "approve",
                                                                       "review_opinion": "同意"})):
            with transaction(factory) as s:
                task = s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_id,
                                                         InboxTask.completed_at.is_(None))).one()
                tasks.complete_task(s, actor, task.task_id, data, T0)
    return engine.url.render_as_string(hide_password=False)


def _sweeper(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKFLOW_APP_DATABASE_URL": url, "WORKFLOW_APP_BPMN_DIR": str(BPMN_DIR)}
    return subprocess.Popen([str(Path(sys.executable).with_name("workflow-app")), "sweep", "--now", LATER.isoformat()],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _assert_each_fired_once(factory) -> None:
    with transaction(factory) as s:
        assert s.scalar(select(func.count(TimerFiring.id))) == 3 * HAZARDS
        assert s.scalar(select(func.count(TimerRow.id))) == 0
        # reminder → enterprise; overdue → enterprise, department; escalation → office, department: in-app each
        assert s.scalar(select(func.count(Notice.id)).where(Notice.recipient_user_id.is_(None))) == 5 * HAZARDS
        assert s.scalar(select(func.count(Hazard.id)).where(Hazard.escalated_at.is_(None))) == 0


def test_three_sweepers_at_once_fire_each_timer_exactly_once(due_timers, factory):
    sweepers = [_sweeper(due_timers) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in sweepers]
    assert [p.returncode for p in sweepers] == [0, 0, 0], outputs
    fired = [int(out.strip().splitlines()[-1].split()[0]) for out in outputs]  # "N timer(s) fired"
    assert sum(fired) == 3 * HAZARDS and all(n > 0 for n in fired), fired
    _assert_each_fired_once(factory)


def test_a_sweeper_killed_mid_batch_leaves_the_rest_to_the_next(due_timers, factory):
    victim = _sweeper(due_timers)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with transaction(factory) as s:
            if (s.scalar(select(func.count(TimerFiring.id))) or 0) >= 60:
                break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    with transaction(factory) as s:
        done_before = s.scalar(select(func.count(TimerFiring.id))) or 0
        # nothing half-done: an instance's firings and its timer rows change together
        leftovers = s.scalar(select(func.count(TimerRow.id))) or 0
    assert 60 <= done_before < 3 * HAZARDS and done_before + leftovers == 3 * HAZARDS
    assert len(sweep(factory, LATER)) == 3 * HAZARDS - done_before
    _assert_each_fired_once(factory)
