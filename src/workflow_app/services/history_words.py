"""A record's history in words: each completed step's form data read through the form that took it.

An enum value reads as the name its BPMN declares (camunda:value name, a message id the pages translate),
never as its code; a field the form does not declare (or a value it does not list) is left out rather
than shown raw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..engine import FieldSpec, FormSpec
from ..store.models import AuditEntry, ProcessInstanceRow
from .model_registry import process_model

YES, NO = "是", "否"
CHANNEL_WORDS = {"in_app": "站内", "email": "邮件", "sms": "短信", "webhook": "群机器人"}
SENT_TO, HELD_BACK = "提醒已发送", "超出当日上限，转入每日汇总"


@dataclass(frozen=True)
class Note:
    """One fact of a history entry: the field's label (a message id) and its value, a message id when `words`
    (an enum choice's declared name, 是/否), else text as typed."""

    label: str
    text: str
    words: bool


@dataclass(frozen=True)
class HistoryLine:
    """An audit entry with its facts in words."""

    entry: AuditEntry
    notes: list[Note]


def read_history(session: Session, instance_id: int, entries: Sequence[AuditEntry]) -> list[HistoryLine]:
    """`entries` of a record whose (current) process instance is `instance_id`, each with its notes."""
    row = session.get(ProcessInstanceRow, instance_id)
    forms = process_model(row.model_version).forms if row is not None else {}
    return [HistoryLine(entry, entry_notes(entry, forms)) for entry in entries]


def entry_notes(entry: AuditEntry, forms: Mapping[str, FormSpec]) -> list[Note]:
    """The facts a completed step recorded, in its form's order (other entries say what they are by action)."""
    detail = entry.detail or {}
    if entry.action == "notices_sent":
        return _recipients(detail.get("recipients") or [])
    form = forms.get(str(detail.get("task"))) if entry.action == "complete_task" else None
    if form is None:
        return []
    data = detail.get("data") or {}
    notes = [_note(spec, data[spec.id]) for spec in form.fields if data.get(spec.id) not in (None, "", [])]
    return [n for n in notes if n is not None]


def _note(spec: FieldSpec, value: Any) -> Note | None:
    if spec.type == "enum":
        name = dict(spec.options).get(str(value))
        return Note(spec.label, name, True) if name else None
    if spec.type == "boolean":
        return Note(spec.label, YES if value in (True, "true") else NO, True)
    if spec.type == "file":
        return Note(spec.label, str(len(value) if isinstance(value, list) else 1), False)
    return Note(spec.label, str(value), False)


def _recipients(recipients: list[dict[str, Any]]) -> list[Note]:
    """Who received a notice on which channels, in words: "张三（站内、短信）、某企业（站内、邮件）", and those
    held back by their daily cap. Names are as typed (the page escapes them)."""
    def words(channels: list[str]) -> str:
        return "、".join(CHANNEL_WORDS.get(str(c), str(c)) for c in channels)

    sent = "、".join(f"{r.get('name', '')}（{words(r.get('channels') or [])}）" for r in recipients)
    held = "、".join(f"{r.get('name', '')}（{words(r['held'])}）" for r in recipients if r.get("held"))
    return [Note(SENT_TO, sent, False)] + ([Note(HELD_BACK, held, False)] if held else [])
