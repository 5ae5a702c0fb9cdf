"""What /healthz and /metrics report about the zone, read from the database at one instant.

The scheduler's runs are facts about the zone, not about one process: sweeps and dispatches run in
`serve` and/or `workflow-app scheduler` processes on several hosts, each recording its last run in
`job_runs` (scheduling.run_job). So any web process can tell whether *some* sweeper is alive.

A check's state is "ok", "warn" (reported, nobody needs to get up) or "fail" (an operator must act:
/healthz answers 503). The line between them:

- sweep fails when timers of running instances have been due for more than LATE_RUNS intervals and no
  sweep has finished cleanly within as long: reminders and escalations have stopped. Timers of an
  instance in incident are left out: the sweep skips them on purpose until an admin retries or skips
  the incident, and counting them made /healthz 503 for as long as any incident stayed open. A sweep
  that runs while some timer stays due (one broken instance) is a warning: the rest of the zone moves.
- dispatch fails likewise when notices have waited for sending that long and no dispatch has run.
- a year without its holiday schedule (services/holidays.py) is a warning: deadlines still come, counted
  Monday to Friday, and the office is reminded in December.
- open incidents and parked notices are warnings: each waits for the office (流程故障 and 通知 pages),
  which sees them in its daily work; they are not an outage, and a load balancer that took the app
  out of service for them would stop everyone's work for one instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import InboxTask, Incident, JobRun, Notice, ProcessInstanceRow, TimerFiring, TimerRow
from . import holidays

LATE_RUNS = 3
"""How many sweep intervals may pass before due work without a run is a failure."""


@dataclass
class Check:
    """One check: its state and what an operator wants to read about it."""

    state: str
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, **self.facts}


def overall(checks: dict[str, Check]) -> str:
    """The worst state of all checks."""
    states = {check.state for check in checks.values()}
    return "fail" if "fail" in states else "warn" if "warn" in states else "ok"


def _due_timers(now: datetime) -> Any:
    """Timers due at `now` of running instances (what the sweep would fire)."""
    return (select(func.count(TimerRow.id), func.min(TimerRow.fire_at))
            .join(ProcessInstanceRow, ProcessInstanceRow.id == TimerRow.instance_id)
            .where(TimerRow.fire_at <= now, ProcessInstanceRow.status == "running"))


def _run_facts(run: JobRun | None, now: datetime) -> dict[str, Any]:
    if run is None:
        return {"last_run": None, "last_run_age_seconds": None}
    age = round((now - run.started_at).total_seconds())
    return {"last_run": run.started_at.isoformat(), "last_run_age_seconds": age,
            "duration_ms": float(run.duration_ms or 0), "processed": run.processed,
            "failed": run.error is not None}  # the error's text stays in job_runs and the log: it may name hosts


def _state(waiting_since: datetime | None, run: JobRun | None, now: datetime, interval: timedelta) -> str:
    late = now - LATE_RUNS * interval
    ran_lately = run is not None and run.started_at >= late
    if waiting_since is not None and waiting_since < late:
        return "warn" if ran_lately and run is not None and run.error is None else "fail"
    return "ok" if ran_lately else "warn"  # nothing is late yet, but no run lately: the scheduler may be down


def sweep_check(session: Session, now: datetime, interval: timedelta) -> Check:
    due, oldest = session.execute(_due_timers(now)).one()
    run = session.get(JobRun, "sweep")
    lag = (now - oldest).total_seconds() if oldest else 0.0
    return Check(_state(oldest, run, now, interval),
                 {"timers_due": due, "lag_seconds": round(lag, 1), **_run_facts(run, now)})


def dispatch_check(session: Session, now: datetime, interval: timedelta) -> Check:
    waiting = Notice.status == "pending"
    pending = session.scalar(select(func.count(Notice.id)).where(waiting)) or 0
    due_since = session.scalar(select(func.min(func.coalesce(Notice.next_attempt_at, Notice.created_at)))
                               .where(waiting))
    parked = session.scalar(select(func.count(Notice.id)).where(Notice.status == "parked")) or 0
    run = session.get(JobRun, "dispatch")
    state = _state(due_since, run, now, interval)
    if state == "ok" and parked:
        state = "warn"
    return Check(state, {"notices_pending": pending, "notices_parked": parked, **_run_facts(run, now)})


def incidents_check(session: Session) -> Check:
    count = session.scalar(select(func.count(Incident.id)).where(Incident.resolved_at.is_(None))) or 0
    return Check("warn" if count else "ok", {"open": count})


def zone_checks(session: Session, now: datetime, interval: timedelta) -> dict[str, Check]:
    """Every check but the database's own (reaching this far means it answered)."""
    return {"sweep": sweep_check(session, now, interval), "dispatch": dispatch_check(session, now, interval),
            "incidents": incidents_check(session), "holiday_calendar": holiday_check(session, now)}


def holiday_check(session: Session, now: datetime) -> Check:
    """A year whose holidays are not imported is a warning: its deadlines are counted Monday to Friday."""
    missing = holidays.health_warning(session, now)
    return Check("warn", {"missing": missing}) if missing else Check("ok")


@dataclass(frozen=True)
class Counts:
    """The zone's gauges for /metrics."""

    notices: dict[str, int]
    open_tasks: int
    open_incidents: int
    timers_due: int
    timer_firings: int
    runs: dict[str, JobRun]


def counts(session: Session, now: datetime) -> Counts:
    by_status = select(Notice.status, func.count(Notice.id)).group_by(Notice.status)
    notices = {status: count for status, count in session.execute(by_status)}
    return Counts(
        notices={status: notices.get(status, 0) for status in ("pending", "sent", "parked")} | notices,
        open_tasks=session.scalar(select(func.count(InboxTask.id)).where(InboxTask.completed_at.is_(None))) or 0,
        open_incidents=session.scalar(select(func.count(Incident.id)).where(Incident.resolved_at.is_(None))) or 0,
        timers_due=session.execute(_due_timers(now)).one()[0],
        timer_firings=session.scalar(select(func.count()).select_from(TimerFiring)) or 0,
        runs={run.name: run for run in session.scalars(select(JobRun))},
    )
