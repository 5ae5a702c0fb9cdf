"""/enterprises (一企一档): the list with search, filters and counts; one enterprise's file; its edits.

An enterprise's users go straight to their own file; any enterprise a user may not see is a 404.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from ..services import enterprise_edits as edits
from ..services.enterprise_file import (
    NO_COLOUR,
    RISK_COLOURS,
    STATUSES,
    EnterpriseQuery,
    choices,
    enterprise_file,
    list_enterprises,
)
from ..services.errors import ConflictError, InvalidInputError
from .context import me, now, today, unit_of_work

bp = Blueprint("enterprises", __name__)
COLOUR_NAMES = {"red": "重大风险（红）", "orange": "较大风险（橙）", "yellow": "一般风险（黄）", "blue": "低风险（蓝）",
                NO_COLOUR: "未评定"}
STATUS_NAMES = {"active": "在业", "closed": "关闭", "merged": "已合并"}
FIELD_NAMES = {
    "name": "企业名称", "credit_code": "统一社会信用代码", "address": "地址", "town_id": "所属镇街",
    "sector_code": "主行业", "sectors": "行业", "supervisors": "监管部门", "lead_department_id": "牵头监管部门",
    "high_risk": "高危企业", "major_hazard_source": "重大危险源", "risk_colour": "风险等级", "latitude": "纬度",
    "longitude": "经度", "status": "状态", "merged_into_id": "并入企业", "principal_name": "主要负责人",
    "principal_phone": "主要负责人电话", "safety_officer_name": "安全管理人员",
    "safety_officer_phone": "安全管理人员电话",
}
"""What the history of edits calls each field."""
LAST_PAGE = 100_000
"""Pages beyond this are not asked for (their offset would not fit a database integer)."""


def _row_id(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _flag(name: str) -> bool | None:
    return {"1": True, "0": False}.get(request.args.get(name, ""))


def _query() -> EnterpriseQuery:
    colour, status = request.args.get("colour", ""), request.args.get("status", "")
    return EnterpriseQuery(
        text=request.args.get("q", "")[:100], town_id=_row_id("town"), sector=request.args.get("sector") or None,
        department_id=_row_id("department"), colour=colour if colour in (*RISK_COLOURS, NO_COLOUR) else None,
        high_risk=_flag("high_risk"), major_hazard_source=_flag("major"),
        status=status if status in STATUSES else None, page=min(_row_id("page") or 1, LAST_PAGE))


@bp.get("/enterprises")
@login_required
def index() -> str | Response:
    user = me()
    if user.role == "enterprise":
        return redirect(url_for("enterprises.show", enterprise_id=user.organisation_id))
    with unit_of_work() as session:
        page = list_enterprises(session, user, _query())
        offered = choices(session)
    return render_template("enterprises.html", page=page, choices=offered, COLOUR_NAMES=COLOUR_NAMES,
                           STATUS_NAMES=STATUS_NAMES)


@bp.get("/enterprises/<int:enterprise_id>")
@login_required
def show(enterprise_id: int) -> str:
    user = me()
    with unit_of_work() as session:
        file = enterprise_file(session, user, enterprise_id, today())
    return render_template("enterprise.html", file=file, COLOUR_NAMES=COLOUR_NAMES, STATUS_NAMES=STATUS_NAMES,
                           FIELD_NAMES=FIELD_NAMES,
                           may_edit=edits.may_edit_contacts(user, enterprise_id, file.lead_department_id))


def _edit_page(enterprise_id: int, status: int = 200, contacts: edits.Contacts | None = None,
               profile: edits.Profile | None = None, errors: dict[str, str] | None = None,
               error: str | None = None) -> tuple[str, int]:
    """The edit page with the stored values, or those just typed when they were refused."""
    with unit_of_work() as session:
        form = edits.edit_form(session, me(), enterprise_id)
    kept = contacts is not None or profile is not None  # a refused edit keeps the version it was read at
    return render_template("enterprise_edit.html", form=form, contacts=contacts or form.contacts,
                           profile=profile or form.profile, errors=errors or {}, error=error,
                           version=request.form.get("version") if kept else form.enterprise.version,
                           COLOUR_NAMES=COLOUR_NAMES, STATUS_NAMES=STATUS_NAMES), status


@bp.get("/enterprises/<int:enterprise_id>/edit")
@login_required
def edit(enterprise_id: int) -> tuple[str, int]:
    return _edit_page(enterprise_id)


def _version() -> int:
    text = request.form.get("version", "")
    if not text.isdigit() or len(text) > 9:
        raise InvalidInputError(_("表单缺少版本号，请刷新页面后重试"))
    return int(text)


@bp.post("/enterprises/<int:enterprise_id>/contacts")
@login_required
def save_contacts(enterprise_id: int) -> Response | tuple[str, int]:
    typed = edits.Contacts(**{f.name: request.form.get(f.name, "") for f in fields(edits.Contacts)})
    return _save(enterprise_id, "contacts", typed, edits.edit_contacts, _("已保存企业联系人"))


def _save(enterprise_id: int, form: str, typed: Any, edit: Any, saved: str) -> Response | tuple[str, int]:
    """One edit of the file: saved and back to the file, or the edit page again with what was wrong."""
    try:
        with unit_of_work() as session:
            changed = edit(session, me(), enterprise_id, _version(), typed, now())
    except edits.EnterpriseInvalid as refused:
        return _edit_page(enterprise_id, 422, errors=refused.errors, **{form: typed})
    except ConflictError as refused:
        return _edit_page(enterprise_id, 409, error=_(str(refused)))
    flash(saved if changed else _("没有修改"), "info")
    return redirect(url_for("enterprises.show", enterprise_id=enterprise_id))


def _typed_profile() -> edits.Profile:
    form = request.form
    texts = {f.name: form.get(f.name, "") for f in fields(edits.Profile) if f.type == "str"}
    return edits.Profile(**texts, sector_codes=tuple(form.getlist("sector_codes")),
                         department_ids=tuple(form.getlist("department_ids")),
                         high_risk=form.get("high_risk") == "1",
                         major_hazard_source=form.get("major_hazard_source") == "1")


@bp.post("/enterprises/<int:enterprise_id>/profile")
@login_required
def save_profile(enterprise_id: int) -> Response | tuple[str, int]:
    return _save(enterprise_id, "profile", _typed_profile(), edits.edit_profile, _("已保存企业档案"))
