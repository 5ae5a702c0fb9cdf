"""APScheduler drives the timers: sweep, dispatch and duty opening run every WORKFLOW_APP_SWEEP_SECONDS;
an audit checkpoint is written every day at 00:30 Shanghai time; the daily digest goes out at 08:30 on
working days, and once at start (a catch-up for today if the scheduler was down at 08:30).

The schedule itself is not stored: what is due lives in the database (timer and outbox
rows), so a restarted or an additional process simply sweeps what is due, and the
database's locks and unique keys keep every firing and notice single. Each run is
recorded in `job_runs` for /healthz.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .engine.calendar import SHANGHAI
from .services.audit_checkpoints import write as write_checkpoint
from .services.channels import Channel, EmailChannel, WebhookChannel
from .services.digest import SEND_AT, send_digests
from .services.dispatch import dispatch
from .services.duties import open_due_duties
from .services.holidays import remind_office
from .services.personal_notices import NO_SMS, NoticePolicy
from .services.sms import SmsChannel
from .services.sweep import sweep
from .store.database import transaction
from .store.models import JobRun

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The delivery channels; e-mail fails (and is retried, then parked) while SMTP is not configured; SMS
    notices are queued only while a provider is configured (`settings.sms.enabled`), and one left over from
    an earlier configuration is parked saying so."""
    return {"email": EmailChannel(settings.smtp, workers=settings.dispatch_email_workers),
            "webhook": WebhookChannel(workers=settings.dispatch_webhook_workers, base_url=settings.base_url),
            "sms": SmsChannel(settings.sms)}


class Shutdown:
    """A stop request shared by the scheduler's jobs (SIGTERM): each finishes the unit it is on (one
    instance's transaction, one notice) and returns; a job not yet started does not start."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._idle = threading.Condition()
        self._running = 0

    def requested(self) -> bool:
        return self._requested.is_set()

    def request(self) -> None:
        self._requested.set()

    @contextmanager
    def job(self) -> Iterator[None]:
        with self._idle:
            self._running += 1
        try:
            yield
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Whether every running job returned within `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)


def run_job(factory: sessionmaker[Session], name: str, work: Callable[[datetime], int],
            clock: Clock = lambda: datetime.now(UTC), shutdown: Shutdown | None = None) -> int:
    """Run one job at `clock()`, record it in job_runs, and return how many items it processed."""
    if shutdown is not None and shutdown.requested():
        return 0
    started, began = clock(), time.perf_counter()
    processed, error = 0, None
    with shutdown.job() if shutdown is not None else contextlib.nullcontext():
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


def notice_policy(settings: Settings) -> NoticePolicy:
    """What notices to people may use in this deployment: SMS once a provider is set, the daily cap."""
    return NoticePolicy(sms_configured=settings.sms.enabled, daily_cap=settings.notice_daily_cap)


def sweep_job(factory: sessionmaker[Session], shutdown: Shutdown | None = None,
              policy: NoticePolicy = NO_SMS) -> Callable[[datetime], int]:
    should_stop = shutdown.requested if shutdown is not None else (lambda: False)
    return lambda now: len(sweep(factory, now, should_stop=should_stop, policy=policy))


def dispatch_job(factory: sessionmaker[Session], channels: dict[str, Channel],
                 shutdown: Shutdown | None = None) -> Callable[[datetime], int]:
    should_stop = shutdown.requested if shutdown is not None else (lambda: False)
    return lambda now: len(dispatch(factory, channels, now, should_stop=should_stop).sent)


def duties_job(factory: sessionmaker[Session]) -> Callable[[datetime], int]:
    def open_duties(now: datetime) -> int:
        with transaction(factory) as session:
            return open_due_duties(session, now)
    return open_duties


def checkpoint_job(factory: sessionmaker[Session], folder: Path) -> Callable[[datetime], int]:
    def checkpoint(now: datetime) -> int:
        with transaction(factory) as session:
            return write_checkpoint(session, folder, now)[0].count
    return checkpoint


def holiday_reminder_job(factory: sessionmaker[Session]) -> Callable[[datetime], int]:
    """Daily at 09:00 in December: the office is asked, once per year, to import next year's holidays."""
    def remind(now: datetime) -> int:
        with transaction(factory) as session:
            return remind_office(session, now)
    return remind


def digest_job(factory: sessionmaker[Session], base_url: str | None,
               shutdown: Shutdown | None = None) -> Callable[[datetime], int]:
    """The daily digest at `now` (nothing before 08:30 or on a day off); how many people got theirs now."""
    should_stop = shutdown.requested if shutdown is not None else (lambda: False)
    return lambda now: send_digests(factory, now, base_url, should_stop=should_stop).sent


def build_scheduler(settings: Settings, factory: sessionmaker[Session], blocking: bool,
                    shutdown: Shutdown) -> BaseScheduler:
    """A scheduler with the sweep and dispatch jobs, both due at once and then every interval; its jobs
    stop early once `shutdown` is requested."""
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=UTC)
    jobs = {"sweep": sweep_job(factory, shutdown, notice_policy(settings)),
            "dispatch": dispatch_job(factory, channels_from(settings), shutdown),
            "duties": duties_job(factory)}
    for name, work in jobs.items():
        scheduler.add_job(run_job, "interval", args=(factory, name, work), kwargs={"shutdown": shutdown}, id=name,
                          name=name,
                          seconds=settings.sweep_seconds, max_instances=1, coalesce=True,
                          next_run_time=datetime.now(UTC), misfire_grace_time=settings.sweep_seconds)
    checkpoint = checkpoint_job(factory, settings.checkpoint_dir)
    scheduler.add_job(run_job, "cron", args=(factory, "audit_checkpoint", checkpoint), kwargs={"shutdown": shutdown},
                      id="audit_checkpoint", name="audit_checkpoint", hour=0, minute=30, timezone=SHANGHAI,
                      max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)
    scheduler.add_job(run_job, "cron", args=(factory, "holiday_reminder", holiday_reminder_job(factory)),
                      id="holiday_reminder", name="holiday_reminder", month=12, hour=9, timezone=SHANGHAI,
                      max_instances=1, coalesce=True, misfire_grace_time=24 * 3600)
    digest = digest_job(factory, settings.base_url, shutdown)
    scheduler.add_job(run_job, "cron", args=(factory, "digest", digest), kwargs={"shutdown": shutdown},
                      id="digest", name="digest", hour=SEND_AT.hour, minute=SEND_AT.minute, timezone=SHANGHAI,
                      max_instances=1, coalesce=True, misfire_grace_time=12 * 3600)
    scheduler.add_job(run_job, "date", args=(factory, "digest", digest), kwargs={"shutdown": shutdown},
                      id="digest_catch_up", name="digest_catch_up", run_date=datetime.now(UTC),
                      misfire_grace_time=3600)  # down at 08:30: today's digest when the scheduler is back
    return scheduler
