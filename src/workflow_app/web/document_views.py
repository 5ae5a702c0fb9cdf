"""Printable documents (文书): issue one from its record, download it as a PDF.

Endpoints: `documents.issue` (POST /documents/<kind>/<id>/issue, the issuer's users and the office)
and `documents.download` (GET /documents/<kind>/<id>.pdf, whoever may read it once issued), with
kind one of services.documents.KINDS and id the record's (an inspection, a hazard, a listing).
"""

from __future__ import annotations

import io

from flask import Blueprint, redirect, request, send_file, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from ..reports.documents import render
from ..services import documents
from ..services.document_contents import CONTENTS
from .context import app_services, me, now, unit_of_work
from .downloads import content_disposition

bp = Blueprint("documents", __name__)
RECORD_PAGES = {"hazard": "/hazards/{id}", "inspection": "/inspections/{id}"}
"""The page of each kind of record a document links to (its QR code and printed address)."""
PDF = "application/pdf"


def record_url(record: tuple[str, int]) -> str:
    """The record's page as an absolute address: under WORKFLOW_APP_BASE_URL, else this request's host."""
    record_type, record_id = record
    base = app_services().base_url or request.host_url.rstrip("/")
    return base + RECORD_PAGES[record_type].format(id=record_id)


@bp.post("/documents/<kind>/<int:subject_id>/issue")
@login_required
def issue(kind: str, subject_id: int) -> Response:
    documents.kind_of(kind)
    with unit_of_work() as session:
        documents.issue(session, me(), kind, subject_id, now())
    return redirect(url_for("documents.download", kind=kind, subject_id=subject_id))  # type: ignore[return-value]


@bp.get("/documents/<kind>/<int:subject_id>.pdf")
@login_required
def download(kind: str, subject_id: int) -> Response:
    documents.kind_of(kind)
    with unit_of_work() as session:
        issued = documents.issued(session, me(), kind, subject_id)
        content = CONTENTS[kind](session, subject_id, issued.issued_at)
    buffer = io.BytesIO()
    render(content, issued, record_url(content.record), buffer)
    buffer.seek(0)
    response = send_file(buffer, mimetype=PDF, max_age=0)
    name = f"{documents.KINDS[kind].title}-{issued.serial}.pdf"
    response.headers["Content-Disposition"] = content_disposition(name, PDF, inline=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response
