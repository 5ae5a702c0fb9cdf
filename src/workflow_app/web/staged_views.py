"""A staged photo (kept from a failed submission) shown back to the one who uploaded it, on the form's retry."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, send_file
from werkzeug.wrappers import Response

from ..services.errors import InvalidInputError
from ..services.evidence import PDF
from .forms import staging

bp = Blueprint("staged", __name__)


@bp.get("/staged/<form_key>/<sha256>")
def photo(form_key: str, sha256: str) -> Response:
    """Only from the asking person's own staging folder: another person's hash is not found."""
    try:
        found = staging(form_key).photo(sha256)
    except InvalidInputError:
        abort(404)
    if found.media_type == PDF:
        return send_file(Path(current_app.static_folder or "static") / "document.svg", mimetype="image/svg+xml")
    response = Response(found.content, mimetype=found.media_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = "inline"
    return response
