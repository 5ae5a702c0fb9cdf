"""APScheduler drives the timers: sweep, dispatch and duty opening run every WORKFLOW_APP_SWEEP_SECONDS.

The schedule itself is not stored: what is due lives in the database (timer and outbox
rows), so a restarted or an additional process simply sweeps what is due, and the
database's locks and unique keys keep every firing and notice single. Each run is
recorded in `job_runs` for /healthz.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .services.channels import Channel, EmailChannel, WebhookChannel
from .services.dispatch import dispatch
from .services.duties import open_due_duties
from .services.sweep import sweep
from .store.database import transaction
from .store.models import JobRun

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The delivery channels; e-mail fails (and is retried, then parked) while SMTP is not configured."""
    return {"email": EmailChannel(settings.smtp, workers=settings.dispatch_email_workers),
            "webhook": WebhookChannel(workers=settings.dispatch_webhook_workers)}


def run_job(factory: sessionmaker[Session], name: str, work: Callable[[datetime], int],
            clock: Clock = lambda: datetime.now(UTC)) -> int:
    """Run one job at `clock()`, record it in job_runs, and return how many items it processed."""
    started, began = clock(), time.perf_counter()
    processed, error = 0, None
    try:
        processed = work(started)
    except Exception as exc:  # a failed run is recorded and the next one tries again
        log.exception("job %s failed", name)
        error = f"{type(exc).__name__}: {exc}"
    _record_run(factory, name, started, (time.perf_counter() - began) * 1000, processed, error)
    return processed


def _record_run(factory: sessionmaker[Session], name: str, started: datetime, duration_ms: float,
                processed: int, error: str | None) -> None:
    values = {"started_at": started, "finished_at": datetime.now(UTC), "duration_ms": round(duration_ms, 1),
              "processed": processed, "error": error}
    for _ in range(2):  # two processes may create the row at once: the loser updates it
        try:
            with transaction(factory) as session:
                run = session.get(JobRun, name) or JobRun(name=name)
                for key, value in values.items():
                    setattr(run, key, value)
                session.add(run)
            return
        except IntegrityError:
            continue


def sweep_job(factory: sessionmaker[Session]) -> Callable[[datetime], int]:
    return lambda now: len(sweep(factory, now))


def dispatch_job(factory: sessionmaker[Session], channels: dict[str, Channel]) -> Callable[[datetime], int]:
    return lambda now: len(dispatch(factory, channels, now).sent)


def duties_job(factory: sessionmaker[Session]) -> Callable[[datetime], int]:
    def open_duties(now: datetime) -> int:
        with transaction(factory) as session:
            return open_due_duties(session, now)
    return open_duties


def build_scheduler(settings: Settings, factory: sessionmaker[Session], blocking: bool) -> BaseScheduler:
    """A scheduler with the sweep and dispatch jobs, both due at once and then every interval."""
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=UTC)
    jobs = {"sweep": sweep_job(factory), "dispatch": dispatch_job(factory, channels_from(settings)),
            "duties": duties_job(factory)}
    for name, work in jobs.items():
        scheduler.add_job(run_job, "interval", args=(factory, name, work), id=name, name=name,
                          seconds=settings.sweep_seconds, max_instances=1, coalesce=True,
                          next_run_time=datetime.now(UTC), misfire_grace_time=settings.sweep_seconds)
    return scheduler
