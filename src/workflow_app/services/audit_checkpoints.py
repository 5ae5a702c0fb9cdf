"""Audit checkpoints: the log's head written outside the database, so that deleting its newest rows
(and moving `audit_head` back) is caught.

A checkpoint holds the newest row's id and hash and the number of rows up to it, with an HMAC of
its own under the audit key (a forged file is recognised). It goes to a folder outside the database
and, when the office has an e-mail address or a webhook, to the office as a notice. The log still
extends a checkpoint when that row exists with that hash and as many rows lead up to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import AuditEntry, Notice, Organisation
from .audit import session_key
from .notices import channels_of

PREFIX = "audit-checkpoint-"


@dataclass(frozen=True)
class Checkpoint:
    """The head of the log at one moment."""

    at: str  # ISO 8601, UTC
    last_id: int
    count: int
    head_hash: str


def take(session: Session, now: datetime) -> Checkpoint:
    """The log's head now (an empty log has last_id 0)."""
    last = session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return Checkpoint(now.isoformat(), last.id if last else 0, count, last.hash if last else "")


def _mac(checkpoint: Checkpoint, key: bytes | None) -> str | None:
    if key is None:
        return None
    canonical = json.dumps(asdict(checkpoint), sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def write(session: Session, folder: Path, now: datetime) -> tuple[Checkpoint, Path]:
    """Take a checkpoint, write it to `folder` (never overwriting one) and queue it to the office."""
    checkpoint = take(session, now)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PREFIX}{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    content = json.dumps({**asdict(checkpoint), "mac": _mac(checkpoint, session_key(session))}, indent=1)
    partial = path.with_suffix(".partial")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, path)
    _queue_to_office(session, checkpoint, now)
    return checkpoint, path


def _queue_to_office(session: Session, checkpoint: Checkpoint, now: datetime) -> None:
    """The checkpoint by e-mail / webhook to the office, a copy no database writer can reach."""
    office = session.scalar(select(Organisation).where(Organisation.kind == "office").limit(1))
    if office is None:
        return
    subject = f"审计日志锚点：第 {checkpoint.last_id} 条 {checkpoint.head_hash[:16]}"
    body = (f"{subject}\n时间（UTC）：{checkpoint.at}\n条数：{checkpoint.count}\n末条哈希：{checkpoint.head_hash}\n"
            "请妥善保存本通知，用于核验审计日志未被截断。")
    for channel in channels_of(office):
        if channel == "in_app":
            continue
        key = f"audit-checkpoint:{checkpoint.last_id}:{checkpoint.head_hash[:16]}:{channel}"
        if session.scalar(select(Notice.id).where(Notice.idempotency_key == key)) is None:
            session.add(Notice(idempotency_key=key, channel=channel, kind="audit_checkpoint",
                               recipient_org_id=office.id, subject=subject, body=body, created_at=now,
                               status="pending"))


def problems_with(session: Session, folder: Path) -> list[str]:
    """Every checkpoint in `folder` the log no longer extends (or that is not genuine), named by its file."""
    key = session_key(session)
    problems = []
    for path in sorted(folder.glob(f"{PREFIX}*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            checkpoint = Checkpoint(str(raw["at"]), int(raw["last_id"]), int(raw["count"]), str(raw["head_hash"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path.name}: unreadable checkpoint ({exc})")
            continue
        expected = _mac(checkpoint, key)
        if expected is not None and not hmac.compare_digest(str(raw.get("mac") or ""), expected):
            problems.append(f"{path.name}: not made with this audit key (forged or altered checkpoint)")
        elif (problem := _extends(session, checkpoint)) is not None:
            problems.append(f"{path.name}: {problem}")
    return problems


def _extends(session: Session, checkpoint: Checkpoint) -> str | None:
    if checkpoint.last_id == 0:
        return None
    row_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == checkpoint.last_id))
    if row_hash is None:
        return f"row {checkpoint.last_id}, the head at {checkpoint.at}, is gone: the log was truncated"
    if row_hash != checkpoint.head_hash:
        return f"row {checkpoint.last_id} no longer has the hash it had at {checkpoint.at}: the log was rewritten"
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= checkpoint.last_id))
    if count != checkpoint.count:
        return f"{checkpoint.count} rows led up to row {checkpoint.last_id} at {checkpoint.at}, now {count}"
    return None
