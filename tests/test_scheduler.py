"""The scheduler side of escalation: working-day instants across a holiday, the standalone
scheduler process, /healthz, and the notification centre."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0
from helpers import PLAN, complete, hazard, open_task, report
from sqlalchemy import func, select
from web_support import csrf, make_app, sign_in

from workflow_app.config import Settings
from workflow_app.scheduling import run_job, sweep_job
from workflow_app.services.sweep import sweep
from workflow_app.store.database import make_engine, make_session_factory, transaction
from workflow_app.store.models import JobRun, Notice, TimerFiring
from workflow_app.web import create_app

SHANGHAI = timedelta(hours=8)


def _rectifying(factory, zone, now: datetime, deadline: date) -> int:
    found_on = (now.date() - timedelta(days=1)).isoformat()
    hid = report(factory, zone.principal, zone.enterprise_id, now, found_on=found_on)
    complete(factory, zone.principal, hid, {**PLAN, "rectification_deadline": deadline.isoformat()}, now)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, now)
    return hid


def test_reminder_overdue_and_escalation_count_working_days_across_national_day(factory, zone):
    # deadline Friday 2026-10-09, just after the National Day holiday (Oct 1-7; Sat Oct 10 is a working day)
    _rectifying(factory, zone, datetime(2026, 9, 21, 1, 0, tzinfo=UTC), date(2026, 10, 9))
    expected = {
        "reminder": datetime(2026, 9, 29, 9, 0, tzinfo=UTC) - SHANGHAI,  # 3 working days back: Oct 8, Sep 30, 29
        "overdue": datetime(2026, 10, 10, 0, 0, tzinfo=UTC) - SHANGHAI,  # midnight after the deadline
        "escalation": datetime(2026, 10, 15, 9, 0, tzinfo=UTC) - SHANGHAI,  # Oct 10 (Sat), 12, 13, 14, 15
    }
    for kind, instant in expected.items():
        assert sweep(factory, instant - timedelta(seconds=1)) == [], kind
        assert [(f.notice, f.due_at) for f in sweep(factory, instant)] == [(kind, instant)]


def test_a_late_verifier_is_reminded_and_escalated_to_the_office_across_national_day(factory, zone):
    hid = _rectifying(factory, zone, datetime(2026, 9, 21, 1, 0, tzinfo=UTC), date(2026, 10, 30))
    # verification asked for on Monday 2026-09-28; 10 working days: Sep 29, 30, Oct 8, 9, 10 (Sat), 12 … 16
    complete(factory, zone.principal, hid, {"rectification_result": "已完成", "rectified_on": "2026-09-27"},
             datetime(2026, 9, 28, 1, 0, tzinfo=UTC))
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.due_on) == ("Task_DepartmentVerify", date(2026, 10, 16))
    expected = {
        "verify_reminder": datetime(2026, 10, 14, 9, 0, tzinfo=UTC) - SHANGHAI,  # 2 working days before
        "verify_overdue": datetime(2026, 10, 17, 0, 0, tzinfo=UTC) - SHANGHAI,  # midnight after the due day
    }
    for kind, instant in expected.items():
        assert sweep(factory, instant - timedelta(seconds=1)) == [], kind
        assert [(f.notice, f.due_at) for f in sweep(factory, instant)] == [(kind, instant)]
    with transaction(factory) as s:
        sent = {(n.kind, n.recipient_org_id) for n in s.scalars(select(Notice).where(Notice.hazard_id == hid,
                                                                                      Notice.channel == "in_app"))}
    dept, office = zone.department.organisation_id, zone.office.organisation_id
    assert sent == {("verify_reminder", dept), ("verify_overdue", dept), ("verify_overdue", office)}
    assert hazard(factory, hid).overdue_since is None  # the enterprise was not late


def test_the_scheduler_process_fires_what_fell_due_while_nothing_ran_and_stops_on_sigterm(tmp_path: Path, zone,
                                                                                          factory, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("one process test is enough; the PostgreSQL sweepers have their own test")
    now = datetime.now(UTC)
    _rectifying(factory, zone, now - timedelta(days=40), (now - timedelta(days=30)).date())
    env = {**os.environ, "WORKFLOW_APP_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "WORKFLOW_APP_SWEEP_SECONDS": "1", "WORKFLOW_APP_BPMN_DIR": str(BPMN_DIR)}
    command = str(Path(sys.executable).with_name("workflow-app"))
    process = subprocess.Popen([command, "scheduler"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _count(factory, TimerFiring) < 3:
            time.sleep(0.2)
        time.sleep(1.5)  # let a second sweep run: it must fire nothing more
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "scheduler stopped" in output
    assert _count(factory, TimerFiring) == 3
    with transaction(factory) as s:
        run = s.get(JobRun, "sweep")
        assert run is not None and run.error is None and run.finished_at is not None


def _count(factory, model) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _app(factory, tmp_path: Path, now: datetime):
    return make_app(factory, tmp_path, now)


def test_healthz_reports_the_sweep_and_turns_503_when_due_timers_wait_too_long(factory, zone, tmp_path):
    _rectifying(factory, zone, T0, date(2026, 11, 20))
    reminder = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
    fresh = _app(factory, tmp_path, reminder + timedelta(seconds=30)).test_client().get("/healthz")
    assert fresh.status_code == 200
    sweep_check = fresh.json["checks"]["sweep"]
    assert sweep_check["timers_due"] == 1 and sweep_check["last_run"] is None
    assert fresh.json["checks"]["database"]["state"] == "ok"
    stale = _app(factory, tmp_path, reminder + timedelta(minutes=10)).test_client().get("/healthz")
    assert stale.status_code == 503 and stale.json["status"] == "fail"
    assert stale.json["checks"]["sweep"] == {**stale.json["checks"]["sweep"], "state": "fail", "lag_seconds": 600}
    assert run_job(factory, "sweep", sweep_job(factory), clock=lambda: reminder + timedelta(minutes=10)) == 1
    healthy = _app(factory, tmp_path, reminder + timedelta(minutes=11)).test_client().get("/healthz")
    assert healthy.status_code == 200 and healthy.json["checks"]["sweep"]["timers_due"] == 0
    assert healthy.json["checks"]["sweep"]["processed"] == 1 and healthy.json["checks"]["sweep"]["failed"] is False


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    broken = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}"))
    (tmp_path / "missing" / "dir").rmdir()
    settings = Settings(database_url="unused://", secret_key="t", bpmn_dir=BPMN_DIR, instance_dir=tmp_path / "i",
                        secure_cookies=False)
    response = create_app(settings, broken).test_client().get("/healthz")
    assert response.status_code == 503 and response.json["checks"]["database"]["state"] == "fail"


def test_notification_centre_counts_unread_and_shows_the_office_what_needs_it(factory, zone, tmp_path):
    hid = _rectifying(factory, zone, T0, date(2026, 11, 20))
    escalation = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    sweep(factory, escalation)
    client = _app(factory, tmp_path, escalation).test_client()
    sign_in(client, "boss")
    page = client.get("/notices").get_data(as_text=True)
    # the reminder and the overdue notice to the enterprise; the escalation of its late rectification reaches its
    # principal by name only (test_notice_recipients), the overdue one by name too: one line each
    assert 'id="unread">3<' in page and "隐患整改已逾期" in page and page.count("升级督办") == 1
    client.post("/notices/read", data={"csrf_token": csrf(client, "/notices")})
    assert 'id="unread"' not in client.get("/notices").get_data(as_text=True)
    assert client.post("/notices/1/retry", data={"csrf_token": csrf(client, "/notices")}).status_code == 403
    office = client.application.test_client()
    sign_in(office, "office")
    office_page = office.get("/notices").get_data(as_text=True)
    assert "升级督办" in office_page and "挂牌督办候选" in office_page and f"/hazards/{hid}" in office_page
    with transaction(factory) as s:
        # what boss saw: the enterprise's reminder and his own two (its overdue one stays unread for his colleagues)
        assert s.scalar(select(func.count(Notice.id)).where(Notice.read_at.is_not(None))) == 3
