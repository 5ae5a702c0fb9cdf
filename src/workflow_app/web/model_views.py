"""/admin/models (office): deployed models, versions, instance counts, diagrams, and deploying a new version."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import FileStorage

from ..diagram import render_svg
from ..engine import ModelError
from ..services.errors import NotFoundError
from ..services.model_registry import prepare_bundle, store, versions_with_counts
from ..store.models import ModelVersion
from .context import app_services, me, now, unit_of_work

bp = Blueprint("models", __name__)


def _office() -> None:
    if me().role != "office":
        raise NotFoundError("model administration is for the safety committee office")


def _page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    with unit_of_work() as session:
        versions = versions_with_counts(session)
    return render_template("models.html", versions=versions, error=error), status


@bp.get("/admin/models")
@login_required
def index() -> tuple[str, int]:
    _office()
    return _page()


@bp.post("/admin/models")
@login_required
def upload() -> Response | tuple[str, int]:
    _office()
    limit = app_services().max_model_bytes
    try:
        files = _uploaded_models(request.files.getlist("model"), limit)
    except _UploadRefused as refused:
        return _page(refused.message, refused.status)
    lines = [line.strip() for line in request.form.get("lanes", "").splitlines() if line.strip()]
    if any("=" not in line for line in lines):
        return _page(_("泳道映射应为“泳道名=角色”，每行一个"), 422)
    default_role = request.form.get("default_role") or None
    try:  # parsed before the transaction: a large model must not hold the database while it is read
        bundle = prepare_bundle(files, dict(line.split("=", 1) for line in lines), default_role)
    except ModelError as exc:
        return _page(str(exc), 422)
    for warning in dict.fromkeys(w for prepared in bundle for w in prepared.model.warnings):
        flash(warning, "warning")
    with unit_of_work() as session:
        versions = [store(session, prepared, now()) for prepared in bundle]
        label = "、".join(f"{version.process_id} v{version.version}" for version in versions)
    flash(_("已部署 %(label)s", label=label), "info")
    return redirect(url_for("models.index"))


class _UploadRefused(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def _uploaded_models(uploads: list[FileStorage], limit: int) -> list[tuple[str, bytes]]:
    """(file name, content) of every uploaded BPMN file, a zip's .bpmn entries included; at most `limit` bytes
    in all (a zip's entries counted uncompressed, so a small archive cannot unpack into a huge model)."""
    files: list[tuple[str, bytes]] = []
    for upload in uploads:
        if not upload.filename:
            continue
        content = upload.read(limit + 1)
        if upload.filename.lower().endswith(".zip"):
            files += _zip_entries(content, limit)
        else:
            files.append((PurePosixPath(upload.filename.replace("\\", "/")).name, content))
        if sum(len(content) for _, content in files) > limit:
            raise _UploadRefused(_("文件过大（最多 %(mb).1f MB）", mb=limit / 1024 / 1024), 413)
    if not files:
        raise _UploadRefused(_("请选择 BPMN 文件"), 422)
    return files


def _zip_entries(content: bytes, limit: int) -> list[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = [info for info in archive.infolist() if not info.is_dir() and info.filename.endswith(".bpmn")]
        if sum(info.file_size for info in entries) > limit:
            raise _UploadRefused(_("文件过大（最多 %(mb).1f MB）", mb=limit / 1024 / 1024), 413)
        return [(PurePosixPath(info.filename).name, archive.open(info).read(limit + 1)) for info in entries]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError):
        raise _UploadRefused(_("压缩包无法读取（应为 zip，内含 .bpmn 文件）"), 422) from None


@bp.get("/admin/models/<int:version_id>/diagram.svg")
@login_required
def diagram(version_id: int) -> Response:
    _office()
    with unit_of_work() as session:
        version = session.get(ModelVersion, version_id)
        if version is None:
            raise NotFoundError(f"no model version {version_id}")
        xml = version.xml
    return Response(render_svg(xml), mimetype="image/svg+xml")
