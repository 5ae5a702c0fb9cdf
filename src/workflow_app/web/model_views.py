"""/admin/models (office): deployed models, versions, instance counts, diagrams, and deploying a new version."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..diagram import render_svg
from ..engine import ModelError
from ..services.errors import NotFoundError
from ..services.model_registry import prepare, store, versions_with_counts
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
    upload = request.files.get("model")
    if upload is None or not upload.filename:
        return _page(_("请选择 BPMN 文件"), 422)
    limit = app_services().max_model_bytes
    content = upload.read(limit + 1)
    if len(content) > limit:
        return _page(_("文件过大（最多 %(mb).1f MB）", mb=limit / 1024 / 1024), 413)
    lines = [line.strip() for line in request.form.get("lanes", "").splitlines() if line.strip()]
    if any("=" not in line for line in lines):
        return _page(_("泳道映射应为“泳道名=角色”，每行一个"), 422)
    default_role = request.form.get("default_role") or None
    try:  # parsed before the transaction: a large model must not hold the database while it is read
        prepared = prepare(content, upload.filename, dict(line.split("=", 1) for line in lines), default_role)
    except ModelError as exc:
        return _page(str(exc), 422)
    for warning in prepared.model.warnings:
        flash(warning, "warning")
    with unit_of_work() as session:
        version = store(session, prepared, now())
        label = f"{version.process_id} v{version.version}"
    flash(_("已部署 %(label)s", label=label), "info")
    return redirect(url_for("models.index"))


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
