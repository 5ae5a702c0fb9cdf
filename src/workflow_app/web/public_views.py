"""The public report page (举报): anyone may report a hazard without an account.

The report enters the office's triage. A reporter's name and contact are optional and
shown to the office only. Abuse limits: a per-address rate limit, a hidden field that
only robots fill, and the photo limits every upload has.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import replace

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from ..engine import FormSpec, FormValidationError, validate_submission
from ..services import hazards
from ..services.errors import InvalidInputError, NotFoundError
from ..services.evidence import PDF, Uploads
from ..services.model_registry import latest_version, process_model
from ..services.roles import public_enterprise_choices
from ..services.staged_uploads import StagedUploads
from .context import app_services, now, unit_of_work
from .forms import error_messages, keep_for_retry, staging, submitted_photos, submitted_values

bp = Blueprint("public", __name__)
REPORTS_PER_HOUR = 5
LOOKUPS_PER_HOUR = 30


class RateLimit:
    """At most `limit` events per key in a sliding window, in this process.

    Several processes each keep their own window: behind a load balancer the effective
    limit is multiplied by the number of processes (acceptable for abuse damping).
    """

    def __init__(self, limit: int, window_seconds: float):
        self.limit, self.window = limit, window_seconds
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Count one event for `key`; raises TooManyRequests (with Retry-After) when the window is full."""
        moment = time.monotonic()
        with self._lock:
            events = self._events[key]
            while events and events[0] <= moment - self.window:
                events.popleft()
            if len(events) >= self.limit:
                raise TooManyRequests(retry_after=max(1, math.ceil(events[0] + self.window - moment)))
            events.append(moment)


limiter = RateLimit(REPORTS_PER_HOUR, 3600)
lookups = RateLimit(LOOKUPS_PER_HOUR, 3600)
"""Receipt lookups per address: receipts are unguessable, and this keeps anyone from trying."""


def public_form(start_form: FormSpec) -> FormSpec:
    """The start form without the level (triage sets it) and with only the public sources."""
    fields = []
    for spec in start_form.fields:
        if spec.id == "hazard_level":
            continue
        if spec.id == "source":
            spec = replace(spec, options=tuple(o for o in spec.options if o[0] in hazards.PUBLIC_SOURCES))
        fields.append(spec)
    return replace(start_form, fields=tuple(fields))


REPORT_FORM = "report-public"
"""The staging folder of the public report (photos kept for a retry, per browser session)."""


def _page(form: FormSpec, enterprises: list[tuple[int, str, str]], values: dict, errors: dict[str, str],
          status: int = 200, staged: dict[str, list[str]] | None = None) -> tuple[str, int]:
    """The report form; each showing carries a fresh `submission` id, so a form sent twice reports once."""
    return render_template("public_report.html", form=form, enterprises=enterprises, values=values,
                           errors=errors, staged=staged or {}, staged_key=REPORT_FORM,
                           search=request.args.get("q", "")[:60], submission=secrets.token_urlsafe(16),
                           chosen=request.form.get("enterprise_id", ""),
                           reporter=(request.form.get("reporter_name", ""),
                                     request.form.get("reporter_contact", ""))), status


def _all_errors(form: FormSpec, values: dict, staged: StagedUploads) -> tuple[dict[str, str], Uploads | None]:
    """Every error of the submission at once (the form's fields, the enterprise, the photos) and the photos."""
    errors: dict[str, str] = {}
    try:
        validate_submission(form, values)  # the public choices first (only public sources)
    except FormValidationError as invalid:
        errors.update(error_messages(form, invalid.errors))
    if not request.form.get("enterprise_id", "").isdigit():
        errors["enterprise"] = _("请选择被举报的企业")
    try:
        uploads = submitted_photos(form, app_services().evidence, staged)
    except InvalidInputError as refused:
        errors["_form"] = _(str(refused))
        return errors, None
    photos = {field_id: [p for p in files if p.media_type != PDF] for field_id, files in uploads.by_field.items()}
    if photos != uploads.by_field:  # a document's properties may name the reporter: refused, never kept
        errors["_form"] = _("举报只能附照片（JPEG、PNG、WebP）：文档的属性可能暴露举报人")
    return errors, Uploads(uploads.store, photos)


@bp.route("/report", methods=["GET", "POST"])
def report() -> tuple[str, int] | Response:
    with unit_of_work() as db:
        form = public_form(process_model(latest_version(db, hazards.HAZARD_PROCESS)).start_form)
        enterprises = public_enterprise_choices(db, request.args.get("q", ""))
    if request.method == "GET":
        return _page(form, enterprises, {}, {})
    if request.form.get("website"):  # the hidden field: only robots fill it
        abort(400)
    submission = request.form.get("submission", "")
    if submission and session.get("last_report", {}).get("submission") == submission:
        return redirect(url_for("public.thanks"), 303)  # sent twice (a double tap, a resend): reported once
    limiter.take(request.remote_addr or "unknown")
    values = submitted_values(form)
    staged = staging(REPORT_FORM)
    errors, uploads = _all_errors(form, values, staged)
    if not errors:
        reporter = (request.form.get("reporter_name", "").strip()[:50],
                    request.form.get("reporter_contact", "").strip()[:100])
        try:
            with unit_of_work() as db:
                reported = hazards.report_hazard(db, None, int(request.form["enterprise_id"]),
                                                 {**values, "hazard_level": "general"}, now(), uploads, reporter)
        except FormValidationError as invalid:
            errors = error_messages(form, invalid.errors)
        except InvalidInputError as refused:
            errors = {"_form": _(str(refused))}
    if errors:
        return _page(form, enterprises, values, errors, 422, keep_for_retry(staged, uploads))
    staged.discard()
    session["last_report"] = {"submission": submission, "code": reported.code, "receipt": reported.receipt}
    return redirect(url_for("public.thanks"), 303)


@bp.get("/report/thanks")
def thanks() -> tuple[str, int] | Response:
    """The receipt of this browser's last report (post/redirect/get: a refresh shows it again, reports nothing)."""
    last = session.get("last_report")
    if not last:
        return redirect(url_for("public.report"))
    return render_template("public_thanks.html", code=last["code"], receipt=last["receipt"]), 200


@bp.get("/report/status")
def status() -> tuple[str, int]:
    """A receipt's status, for a reporter without an account (no identity on the page)."""
    receipt = request.args.get("receipt", "").strip()
    if not receipt:
        return render_template("public_status.html", receipt="", found=None), 200
    lookups.take(request.remote_addr or "unknown")
    try:
        with unit_of_work() as session:
            found = hazards.receipt_status(session, receipt)
    except NotFoundError:
        return render_template("public_status.html", receipt=receipt, found=None,
                               error=_("没有找到该回执号，请核对后重试")), 404
    return render_template("public_status.html", receipt=receipt, found=found), 200
