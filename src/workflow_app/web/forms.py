"""Read a BPMN-declared form from a request, and say its errors in the user's language."""

from __future__ import annotations

import secrets
from typing import Any

from flask import request, session
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..engine import FieldError, FormSpec
from ..services.evidence import EvidenceStore, Photo, Uploads, check_photo
from ..services.staged_uploads import StagedUploads, staging_root
from .context import app_services

ENGLISH_ERRORS = {
    "required": _l("%(label)s为必填项"),
    "too_long": _l("%(label)s过长"),
    "too_short": _l("%(label)s过短"),
    "not_an_option": _l("%(label)s的取值无效"),
    "not_a_boolean": _l("%(label)s应为是或否"),
    "not_a_date": _l("%(label)s应为日期（YYYY-MM-DD）"),
    "not_a_number": _l("%(label)s应为数字"),
    "too_small": _l("%(label)s过小"),
    "too_large": _l("%(label)s过大"),
    "not_a_file": _l("%(label)s应为已上传的文件"),
    "too_many_files": _l("%(label)s文件过多"),
    "not_applicable": _l("%(label)s此时不适用，无需填写"),
    "not_your_signature": _l("%(label)s须为本人姓名"),
    "extension_too_late": _l("整改时限已过，不能再申请延期"),
    "not_later": _l("%(label)s须晚于现在的整改时限"),
    "major_needs_plan": _l("重大事故隐患须制定治理方案（五落实），不能立即整改"),
    "total_below_week": _l("%(label)s不能小于本周数"),
    "override_needs_reason": _l("执法检查、行政处罚与执法记录统计不一致，须填写原因"),
    "reward_outside_rule": _l("%(label)s超出奖励规则的上下限（见上方的奖励规则）"),
    "unknown_field": _l("表单中没有字段“%(label)s”"),
}


def submitted_values(form: FormSpec) -> dict[str, Any]:
    """The declared, non-file fields as typed (blank ones left out; a checkbox absent is false)."""
    values: dict[str, Any] = {}
    for spec in form.fields:
        if spec.type == "file":
            continue
        if spec.type == "boolean":
            values[spec.id] = "true" if request.form.get(spec.id) else "false"
        elif request.form.get(spec.id, "").strip():
            values[spec.id] = request.form[spec.id]
    return values


def submitted_photos(form: FormSpec, store: EvidenceStore, staged: StagedUploads | None = None) -> Uploads:
    """The photos of every file field, each checked (InvalidInputError on the first bad one).

    With `staged`, the photos a failed attempt kept (their hashes in `staged_<field>`, ticked
    to keep) come first, read from the owner's own staging folder and checked again.
    """
    by_field: dict[str, list[Photo]] = {}
    for field_id in form.file_field_ids():
        kept = [staged.photo(h) for h in dict.fromkeys(request.form.getlist(f"staged_{field_id}"))] if staged else []
        files = [f for f in request.files.getlist(field_id) if f.filename]
        by_field[field_id] = kept + [check_photo(f.read(), f.filename or "photo") for f in files]
    return Uploads(store, by_field)


def error_messages(form: FormSpec, errors: list[FieldError]) -> dict[str, str]:
    """Field id → message in the user's language (the engine speaks zh-CN)."""
    labels = form.labels
    messages: dict[str, str] = {}
    for error in errors:
        messages.setdefault(error.field_id, field_message(error, labels.get(error.field_id)))
    return messages


def field_message(error: FieldError, label: str | None = None) -> str:
    """One field's error in the user's language: the engine's zh-CN message, or its English by code with
    the field's label translated (`label`, else the one the error carries, else the field's id); a code with no
    English template is the message's own translation, where the catalog has it."""
    if str(get_locale()) != "en":
        return error.message
    if error.code not in ENGLISH_ERRORS:
        return gettext(error.message)
    return str(ENGLISH_ERRORS[error.code]) % {"label": gettext(label or error.label or error.field_id)}


def staging(form_key: str) -> StagedUploads:
    """The current person's staged photos for one form: a signed-in user's, or this browser session's."""
    if current_user.is_authenticated:
        owner = f"user-{current_user.user.id}"
    else:
        owner = "public-" + session.setdefault("staging_owner", secrets.token_hex(16))
    return StagedUploads(staging_root(app_services().evidence.root), owner, form_key)


def keep_for_retry(staged: StagedUploads, uploads: Uploads | None) -> dict[str, list[str]]:
    """Stage the photos of a failed submission; field id → hashes the re-rendered form shows."""
    return staged.keep(uploads) if uploads is not None else {}
