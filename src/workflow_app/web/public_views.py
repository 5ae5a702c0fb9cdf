"""The public report page (举报): anyone may report a hazard without an account.

The report enters the office's triage. A reporter's name and contact are optional and
shown to the office only. Abuse limits: a per-address rate limit, a hidden field that
only robots fill, and the photo limits every upload has.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import replace

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from ..engine import FormSpec, FormValidationError, validate_submission
from ..services import hazards
from ..services.errors import InvalidInputError, NotFoundError
from ..services.model_registry import latest_version, process_model
from ..services.roles import reportable_enterprises
from .context import app_services, now, unit_of_work
from .forms import error_messages, submitted_photos, submitted_values

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


def _page(form: FormSpec, enterprises: list[tuple[int, str]], values: dict, errors: dict[str, str],
          status: int = 200) -> tuple[str, int]:
    return render_template("public_report.html", form=form, enterprises=enterprises, values=values,
                           errors=errors, reporter=(request.form.get("reporter_name", ""),
                                                    request.form.get("reporter_contact", ""))), status


@bp.route("/report", methods=["GET", "POST"])
def report() -> tuple[str, int] | Response:
    with unit_of_work() as session:
        form = public_form(process_model(latest_version(session, hazards.HAZARD_PROCESS)).start_form)
        enterprises = reportable_enterprises(session, None)
    if request.method == "GET":
        return _page(form, enterprises, {}, {})
    if request.form.get("website"):  # the hidden field: only robots fill it
        abort(400)
    limiter.take(request.remote_addr or "unknown")
    values = submitted_values(form)
    try:
        validate_submission(form, values)  # the public choices first (only public sources)
        uploads = submitted_photos(form, app_services().evidence)
        enterprise_id = request.form.get("enterprise_id", "")
        if not enterprise_id.isdigit():
            raise InvalidInputError(_("请选择被举报的企业"))
        reporter = (request.form.get("reporter_name", "").strip()[:50],
                    request.form.get("reporter_contact", "").strip()[:100])
        with unit_of_work() as session:
            reported = hazards.report_hazard(session, None, int(enterprise_id), {**values, "hazard_level": "general"},
                                             now(), uploads, reporter)
    except FormValidationError as invalid:
        return _page(form, enterprises, values, error_messages(form, invalid.errors), 422)
    except InvalidInputError as refused:
        return _page(form, enterprises, values, {"_form": _(str(refused))}, 422)
    return render_template("public_thanks.html", code=reported.code, receipt=reported.receipt), 201


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
