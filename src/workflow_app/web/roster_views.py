"""/organisations/roster (组织名册): the office uploads a roster, sees what would change, confirms; export, template.

The uploaded files are kept server-side under the instance folder, named by a random token
and recorded with the uploader's id and each file's sha256. 确认导入 posts the token and the
digest of the preview shown; the import recomputes the preview from those same files and
applies it only if its digest is the one shown (services/roster.py), so a change of the
database since the preview leads to a new preview, never to an import of something unseen.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..reports.csv_file import csv_bytes
from ..reports.xlsx import workbook_bytes
from ..services import roster
from ..services.errors import ConflictError, InvalidInputError, NotFoundError
from ..services.roster_format import MAX_BYTES
from .context import me, now, unit_of_work

bp = Blueprint("roster", __name__)
TOKEN = re.compile(r"[0-9a-f]{32}")
KEPT_SECONDS = 24 * 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "roster-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.get("/organisations/roster")
@login_required
def index() -> tuple[str, int]:
    roster.require_office(me())
    return render_template("roster.html", shown=None, token=None), 200


@bp.post("/organisations/roster")
@login_required
def upload() -> tuple[str, int]:
    """Keep the uploaded files and show their preview (nothing is written to the database)."""
    roster.require_office(me())
    files = []
    for file in request.files.getlist("roster"):
        if file.filename:
            content = file.read(MAX_BYTES + 1)
            if len(content) > MAX_BYTES:
                return _refused(_("文件超过 %(mb)s MB，请拆分后导入", mb=MAX_BYTES // 1024 // 1024), 413)
            files.append((Path(file.filename.replace("\\", "/")).name[-100:] or "roster.csv", content))
    if not files:
        return _refused(_("请选择名册文件（XLSX 或 CSV）"), 422)
    token = _keep(files)
    return _preview(token, files)


@bp.post("/organisations/roster/apply")
@login_required
def apply() -> Response | tuple[str, int]:
    """Apply the kept files if their preview is still the one shown (else show the new one)."""
    roster.require_office(me())
    token = request.form.get("token", "")
    files = _kept(token)
    try:
        with unit_of_work() as session:
            shown = roster.import_roster(session, me(), files, now(), request.form.get("digest", ""))
    except ConflictError as changed:
        return _preview(token, files, _(str(changed)), 409)
    except InvalidInputError as refused:
        return _refused(str(refused), 422)
    for path in _folder().glob(f"{token}.*"):
        path.unlink(missing_ok=True)
    flash(_("组织名册已导入：新增 %(new)s，更新 %(changed)s", new=shown.count(True), changed=shown.count(False)),
          "info")
    return redirect(url_for("roster.index"))


@bp.get("/organisations/roster/export.<kind>")
@login_required
def export(kind: str) -> Response:
    """Every sheet as XLSX, or the enterprises (企业) as CSV."""
    if kind not in ("csv", "xlsx"):
        raise NotFoundError(kind)
    with unit_of_work() as session:
        sheets = roster.export_sheets(session, me())
    content = csv_bytes(sheets[-1][1]) if kind == "csv" else workbook_bytes(sheets)
    return Response(content, mimetype="text/csv" if kind == "csv" else XLSX,
                    headers={"Content-Disposition": f"attachment; filename=roster.{kind}"})


@bp.get("/organisations/roster/template.xlsx")
@login_required
def template() -> Response:
    roster.require_office(me())
    return Response(workbook_bytes(roster.template_sheets()), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=roster-template.xlsx"})


def _refused(message: str, status: int) -> tuple[str, int]:
    return render_template("roster.html", shown=None, token=None, error=message), status


def _preview(token: str, files: list[tuple[str, bytes]], error: str | None = None,
             status: int = 200) -> tuple[str, int]:
    try:
        with unit_of_work() as session:
            shown = roster.preview(session, me(), files)
    except InvalidInputError as refused:
        return _refused(str(refused), 422)
    return render_template("roster.html", shown=shown, token=token, error=error), (422 if shown.problems else status)


def _keep(files: list[tuple[str, bytes]]) -> str:
    """Store `files` under a new random token, bound to the signed-in user; clear uploads older than a day."""
    folder = _folder()
    for old in folder.iterdir():
        if old.stat().st_mtime < time.time() - KEPT_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    for index, (_name, content) in enumerate(files):
        (folder / f"{token}.{index}").write_bytes(content)
    record = {"user_id": me().id, "files": [{"name": name, "sha256": hashlib.sha256(content).hexdigest()}
                                            for name, content in files]}
    (folder / f"{token}.json").write_text(json.dumps(record), encoding="utf-8")
    return token


def _kept(token: str) -> list[tuple[str, bytes]]:
    """The files kept under `token` for the signed-in user, as uploaded; NotFoundError otherwise."""
    path = _folder() / f"{token}.json"
    if not TOKEN.fullmatch(token) or not path.exists():
        raise NotFoundError("上传的名册已过期，请重新上传")
    record = json.loads(path.read_text(encoding="utf-8"))
    if record["user_id"] != me().id:
        raise NotFoundError("上传的名册已过期，请重新上传")
    files = []
    for index, kept in enumerate(record["files"]):
        content = (_folder() / f"{token}.{index}").read_bytes()
        if hashlib.sha256(content).hexdigest() != kept["sha256"]:
            raise NotFoundError("上传的名册已过期，请重新上传")
        files.append((kept["name"], content))
    return files
