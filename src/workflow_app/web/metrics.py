"""/metrics in Prometheus text format: request latency of this process, the zone's counts at scrape time.

Request latency is a histogram labelled by endpoint name, method and status (never the raw path: ids
in paths would make a new series per hazard and grow without bound). The zone's figures (notices by
status, open tasks, incidents, due timers, the scheduler's last runs) are read from the database when
scraped, through a probe with a short limit; when it does not answer, `workflow_app_database_up` is 0
and the zone's figures are left out (an absent series, not a false zero).

Who may read it: the counts say how busy the zone is and how much goes wrong, which is not public. With
WORKFLOW_APP_METRICS_TOKEN set, a scraper sends it as a bearer token (from anywhere); without one, only
a client on this host (loopback, not through a reverse proxy) may read it. Anyone else gets 404.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..services import health
from ..store.database import transaction
from .context import app_services
from .health import PROBE_SECONDS, Probe, short_session

bp = Blueprint("metrics", __name__)
PREFIX = "workflow_app"
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


class ZoneCollector(Collector):
    """The zone's gauges, read at scrape time."""

    def __init__(self, factory: sessionmaker[Session], clock: Any, probe: Probe):
        self.factory, self.clock, self.probe = factory, clock, probe

    def _read(self, moment: datetime) -> health.Counts:
        with transaction(self.factory) as session:
            return health.counts(short_session(session, PROBE_SECONDS), moment)

    def collect(self) -> Iterator[Any]:
        moment = self.clock()
        try:
            counts = self.probe.run(lambda: self._read(moment), PROBE_SECONDS)
        except (SQLAlchemyError, TimeoutError):
            yield GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered this scrape", value=1)
        notices = GaugeMetricFamily(f"{PREFIX}_notices", "Notices in the outbox by status", labels=["status"])
        for status, count in sorted(counts.notices.items()):
            notices.add_metric([status], count)
        yield notices
        yield GaugeMetricFamily(f"{PREFIX}_open_tasks", "Open user tasks (inbox)", value=counts.open_tasks)
        yield GaugeMetricFamily(f"{PREFIX}_open_incidents", "Incidents waiting for an admin",
                                value=counts.open_incidents)
        yield GaugeMetricFamily(f"{PREFIX}_timers_due", "Timers due of running instances (not yet fired)",
                                value=counts.timers_due)
        yield CounterMetricFamily(f"{PREFIX}_timer_firings", "Timer firings in the zone, ever",
                                  value=counts.timer_firings)
        yield from _runs(counts.runs)


def _runs(runs: dict[str, Any]) -> Iterator[Any]:
    """The scheduler's last run per job, whichever process ran it."""
    started = GaugeMetricFamily(f"{PREFIX}_job_last_run_timestamp_seconds", "Start of the last run", labels=["job"])
    duration = GaugeMetricFamily(f"{PREFIX}_job_last_duration_seconds", "Duration of the last run", labels=["job"])
    processed = GaugeMetricFamily(f"{PREFIX}_job_last_processed", "Items the last run processed (sweep: firings)",
                                  labels=["job"])
    failed = GaugeMetricFamily(f"{PREFIX}_job_last_failed", "1 when the last run ended in an error", labels=["job"])
    for name, run in sorted(runs.items()):
        started.add_metric([name], run.started_at.timestamp())
        duration.add_metric([name], float(run.duration_ms or 0) / 1000)
        processed.add_metric([name], run.processed)
        failed.add_metric([name], 1 if run.error else 0)
    yield from (started, duration, processed, failed)


def init_app(app: Flask) -> None:
    """One registry per app (per process; see README on several processes), and the latency hooks."""
    registry = CollectorRegistry()
    latency = Histogram(f"{PREFIX}_request_duration_seconds", "Time to answer a request",
                        ["endpoint", "method", "status"], registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
    services = app.extensions["workflow_app"]
    registry.register(ZoneCollector(services.factory, services.clock, Probe()))
    app.extensions["workflow_app_metrics"] = registry

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        if "started" in g:
            latency.labels(request.endpoint or "none", request.method, str(response.status_code)).observe(
                time.perf_counter() - g.started)
        return response

    app.register_blueprint(bp)


def _may_read() -> bool:
    token = app_services().metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.remote_addr or ""
    try:
        loopback = ip_address(peer).is_loopback
    except ValueError:
        return False
    return loopback and not any(header in request.headers for header in FORWARDING_HEADERS)


@bp.get("/metrics")
def metrics() -> Response:
    if not _may_read():
        abort(404)
    body = generate_latest(current_app.extensions["workflow_app_metrics"])
    return Response(body, content_type=CONTENT_TYPE_LATEST)
