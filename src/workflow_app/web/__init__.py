"""The Flask web app: sign-in, the task inbox, task forms from the BPMN, hazard pages,
evidence photos, the process diagram and the public report page.

Views only translate between HTTP and the services; every rule lives in services/.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from ..config import PROJECT_ROOT, Settings
from ..services import holiday_calendar
from ..services.evidence import EvidenceStore
from ..store.database import make_engine, make_session_factory
from . import (
    api,
    auth,
    campaign_views,
    case_views,
    checklist_views,
    delegation_views,
    document_views,
    enterprise_views,
    errors,
    hazard_views,
    health,
    holiday_views,
    home_views,
    i18n,
    inbox_views,
    incident_views,
    inspection_plan_views,
    inspection_views,
    labels,
    listing_views,
    metrics,
    model_views,
    notice_settings_views,
    notice_views,
    oidc,
    people_views,
    public_views,
    report_views,
    roster_views,
    security_headers,
    spot_check_views,
    staged_views,
    standard_views,
    task_views,
    token_views,
)

log = logging.getLogger(__name__)
MAX_ROW_ID = 2**63 - 1
MAX_REQUEST_BYTES = 80 * 1024 * 1024
"""Largest request body (a form with up to nine photos); Flask answers 413 beyond it."""


def create_app(settings: Settings | None = None, factory: sessionmaker[Session] | None = None,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the app; `factory` and `clock` let tests run it on their own database and time."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"), instance_path=str(settings.instance_dir))
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)  # type: ignore[method-assign]
    app.url_map.converters["int"] = RowId  # before any route: ids beyond a database integer are simply 404
    secret = settings.secret_key
    if not secret:
        log.warning("WORKFLOW_APP_SECRET_KEY is not set: using a random key, sign-ins end when the app restarts")
        secret = secrets.token_hex(32)
    app.config.update(
        SECRET_KEY=secret, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies, REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
    )
    app.extensions["workflow_app"] = AppServices(
        factory=holiday_calendar.follow(factory or make_session_factory(
            make_engine(settings.database_url, settings.database_limits), settings.audit_key)),
        evidence=EvidenceStore(Path(settings.instance_dir) / "evidence"),
        clock=clock or (lambda: datetime.now(UTC)), sweep_seconds=settings.sweep_seconds,
        metrics_token=settings.metrics_token, base_url=settings.base_url, max_model_bytes=settings.max_model_bytes,
        sms_configured=settings.sms.enabled,
    )
    csrf = CSRFProtect(app)
    api.init_app(app)  # before the error handlers: ours answer /api/ with problem details
    for blueprint in (api.hazards.blp, api.tasks.blp, api.catalog.blp, api.enforcement.blp):
        csrf.exempt(blueprint)  # token-authenticated, no cookies: nothing for CSRF to protect
    security_headers.init_app(app)  # after api: the docs page's policy follows its configured viewer
    metrics.init_app(app)  # before auth: the latency includes loading the signed-in user
    i18n.init_app(app)
    labels.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    notice_views.init_app(app)
    blueprints = (auth.bp, campaign_views.bp, inbox_views.bp, task_views.bp, hazard_views.bp, public_views.bp,
                  notice_views.bp, report_views.bp, token_views.bp, model_views.bp, case_views.bp,
                  incident_views.bp, delegation_views.bp, spot_check_views.bp, standard_views.bp,
                  checklist_views.bp, people_views.bp, roster_views.bp, enterprise_views.bp, health.bp,
                  holiday_views.bp, document_views.bp, listing_views.bp, inspection_views.bp,
                  inspection_plan_views.bp, staged_views.bp, home_views.bp, notice_settings_views.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    if settings.oidc is not None:
        oidc.init_app(app, settings.oidc)
    return app


class RowId(IntegerConverter):
    """`<int:…>` in our routes: a non-negative id that fits a database integer."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = 0,
                 max: int | None = MAX_ROW_ID, signed: bool = False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class AppServices:
    """What views need besides the request: sessions, the evidence store, the clock, the health probe."""

    def __init__(self, factory: sessionmaker[Session], evidence: EvidenceStore, clock: Callable[[], datetime],
                 sweep_seconds: int, metrics_token: str | None = None, base_url: str | None = None,
                 max_model_bytes: int = 5 * 1024 * 1024, sms_configured: bool = False):
        self.factory = factory
        self.sms_configured = sms_configured  # WORKFLOW_APP_SMS_PROVIDER set: people may choose SMS
        self.max_model_bytes = max_model_bytes  # WORKFLOW_APP_MAX_MODEL_BYTES: the largest model upload
        self.evidence = evidence
        self.clock = clock
        self.sweep_seconds = sweep_seconds
        self.metrics_token = metrics_token
        self.base_url = base_url  # WORKFLOW_APP_BASE_URL: where printed documents link to
        self.health_probe = health.Probe()
