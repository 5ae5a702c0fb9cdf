"""Serving stored evidence, the same for the web pages and the API: a photo inline, anything else (a PDF)
only as a download, under a name the uploader typed but that cannot break the header or fool the reader.

The name in Content-Disposition loses control characters (CR/LF, bidirectional overrides), path parts,
quotes and characters Windows refuses, keeps an extension of its real type (a PDF named `x.html` is saved
as `x.html.pdf`), and goes out twice (RFC 6266): `filename*` in UTF-8 for the Chinese name, `filename`
as plain ASCII for old clients. X-Content-Type-Options: nosniff comes with every response
(web/security_headers.py).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from flask import current_app, send_file
from werkzeug.wrappers import Response

from ..services import evidence
from .context import app_services

log = logging.getLogger(__name__)
INLINE = frozenset(evidence.MEDIA_TYPES.values())
"""Only images we checked are shown in the browser; anything else is saved."""
EXTENSIONS = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",), "image/webp": (".webp",),
              evidence.PDF: (".pdf",)}
FALLBACK_STEM = "attachment"
MAX_NAME = 120
UNSAFE = re.compile(r'["*:<>?|]')
NOT_PLAIN_ASCII = re.compile(r"[^A-Za-z0-9 ._()+=,-]")


def send_evidence(sha256: str, media_type: str, name: str, thumbnail: bool = False) -> Response:
    """A stored file (or a photo's thumbnail) as its type allows; callers checked who may see it."""
    store = app_services().evidence
    inline = media_type in INLINE
    if thumbnail and not inline:  # no thumbnail of a document: a document icon
        return send_file(Path(current_app.static_folder or "static") / "document.svg", mimetype="image/svg+xml")
    path = store.thumbnail_path(sha256) if thumbnail else store.path(sha256)
    if not path.is_file():  # lost from the evidence folder (a restore without it): say so, never a 500
        log.warning("evidence file %s is missing from %s", sha256, store.root)
        missing = send_file(Path(current_app.static_folder or "static") / "evidence-missing.svg",
                            mimetype="image/svg+xml", max_age=0)
        missing.status_code = 404
        return missing
    served = "image/jpeg" if thumbnail else media_type
    response = send_file(path, mimetype=served, max_age=0, etag=sha256 + ("-t" if thumbnail else ""))
    response.headers["Content-Disposition"] = content_disposition(name, served, inline)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def content_disposition(name: str, media_type: str, inline: bool) -> str:
    """`inline` or `attachment` with a safe `filename` (ASCII) and, when it differs, `filename*` (UTF-8)."""
    safe = safe_name(name, media_type)
    plain = NOT_PLAIN_ASCII.sub("_", unicodedata.normalize("NFKD", safe).encode("ascii", "ignore").decode())
    stem, suffix = _split(plain)
    if not stem.strip("_. "):
        plain = FALLBACK_STEM + suffix
    value = f'{"inline" if inline else "attachment"}; filename="{plain}"'
    return value if plain == safe else f"{value}; filename*=UTF-8''{quote(safe, safe='')}"


def safe_name(name: str, media_type: str) -> str:
    """The file name of `name` without control, path or quote characters, ending in an extension of `media_type`."""
    visible = "".join(c for c in name if not unicodedata.category(c).startswith("C"))
    last = re.split(r"[/\\]", visible)[-1]
    cleaned = UNSAFE.sub("_", last).strip(" .")
    extensions = EXTENSIONS.get(media_type, ("",))
    if not cleaned.lower().endswith(extensions):
        cleaned = (cleaned or FALLBACK_STEM) + extensions[0]
    stem, suffix = _split(cleaned)
    return (stem[:MAX_NAME].rstrip(" .") or FALLBACK_STEM) + suffix


def _split(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return (stem, dot + suffix) if dot else (name, "")
