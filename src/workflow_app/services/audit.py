"""The append-only audit log: every row's hash covers its content and its predecessor's hash.

The hash is an HMAC keyed with WORKFLOW_APP_AUDIT_KEY (held by the processes, never stored in the
database), so whoever can write the database cannot edit a row and recompute the chain. Each row
names the key it was made with (`key_id`, a fingerprint); rows written before a key was configured
are plain SHA-256 and say so. Truncating the newest rows is caught by checkpoints kept outside the
database (services/audit_checkpoints.py).

Writers lock the single `audit_head` row, so concurrent transactions on PostgreSQL
append one after the other and the chain never forks (SQLite has one writer anyway).
`verify_chain` recomputes every hash and reports the first row that was edited,
deleted or inserted out of order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..store.models import AuditEntry, AuditHead, User

GENESIS = "0" * 64


KEY_ID_LABEL = b"workflow-app audit key"


@lru_cache(maxsize=4)
def key_id(key: bytes) -> str:
    """A key's public fingerprint, stored with each row it signs (the key itself never is)."""
    return hmac.new(key, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def session_key(session: Session) -> bytes | None:
    """The audit key the session's factory was given (store/database.make_session_factory)."""
    key = session.info.get("audit_key")
    return key if isinstance(key, bytes) and key else None


def _digest(key: bytes | None, prev_hash: str, at: datetime, actor_id: int | None, actor_name: str,
            action: str, object_type: str, object_id: str, detail: dict[str, Any]) -> str:
    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    canonical = json.dumps(
        [prev_hash, moment.astimezone(UTC).isoformat(), actor_id, actor_name,
         action, object_type, object_id, detail],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    ).encode("utf-8")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest() if key else hashlib.sha256(canonical).hexdigest()


_HEADS = AuditHead.__table__
_LOCK_HEAD = select(_HEADS.c.last_hash).where(_HEADS.c.id == 1).with_for_update()
_INSERT_ENTRY = insert(AuditEntry.__table__)
_MOVE_HEAD = update(_HEADS).where(_HEADS.c.id == 1).values(last_hash=bindparam("new_hash"))
"""Built once: the statements run in every state change (their cache keys are then cheap)."""


def record(session: Session, actor: User | None, action: str, object_type: str, object_id: str | int,
           detail: dict[str, Any], now: datetime, on_behalf_of: User | None = None) -> str:
    """Append one entry in the caller's transaction; `actor` None means the system. Returns its hash.

    `on_behalf_of` is the user a substitute acted for: the entry is signed "actor（代 them）".
    """
    name = actor.display_name if actor else "系统"
    if on_behalf_of is not None:
        name, detail = f"{name}（代{on_behalf_of.display_name}）", {**detail, "on_behalf_of": on_behalf_of.id}
    return _append(session, actor.id if actor else None, name, [(action, object_type, object_id, detail)], now)


def record_many(session: Session, actor: User | None, entries: list[tuple[str, str, str | int, dict[str, Any]]],
                now: datetime) -> None:
    """Append `entries` ((action, object_type, object_id, detail) each) in order, as `record` would one by one
    (a roster import audits thousands of organisations: one head lock and one executemany)."""
    if entries:
        _append(session, actor.id if actor else None, actor.display_name if actor else "系统", entries, now)


def _append(session: Session, actor_id: int | None, actor_name: str,
            entries: list[tuple[str, str, str | int, dict[str, Any]]], now: datetime, batch: int = 1000) -> str:
    """Lock the head, chain the entries onto it, insert them and move the head; returns the last hash.

    Plain Core statements on the session's connection: this runs in every state change, and the ORM's
    unit of work would cost more than the three statements.
    """
    connection = session.connection()
    prev_hash = connection.execute(_LOCK_HEAD).scalar()
    if prev_hash is None:
        prev_hash = GENESIS
        connection.execute(insert(_HEADS).values(id=1, last_hash=GENESIS))
    key = session_key(session)
    signed_with = key_id(key) if key else None
    rows = []
    for action, object_type, object_id, detail in entries:
        digest = _digest(key, prev_hash, now, actor_id, actor_name, action, object_type, str(object_id), detail)
        rows.append({"at": now, "actor_id": actor_id, "actor_name": actor_name, "action": action,
                     "object_type": object_type, "object_id": str(object_id), "detail": detail,
                     "prev_hash": prev_hash, "hash": digest, "key_id": signed_with})
        prev_hash = digest
    for start in range(0, len(rows), batch):
        connection.execute(_INSERT_ENTRY, rows[start:start + batch])
    connection.execute(_MOVE_HEAD, {"new_hash": prev_hash})
    return prev_hash


@dataclass(frozen=True)
class ChainProblem:
    """Where the chain breaks and how."""

    entry_id: int | None
    message: str


def verify_chain(session: Session) -> list[ChainProblem]:
    """Recompute the chain with the session's key; an empty list means every row is as it was written."""
    key = session_key(session)
    held = key_id(key) if key else None
    problems: list[ChainProblem] = []
    expected_prev, keyed_seen, foreign_keys = GENESIS, False, set()
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if entry.prev_hash != expected_prev:
            problems.append(ChainProblem(entry.id, "previous hash does not match: a row before it was "
                                                   "deleted or changed"))
        if entry.key_id is not None and entry.key_id != held:
            if entry.key_id not in foreign_keys:
                foreign_keys.add(entry.key_id)
                problems.append(ChainProblem(entry.id, f"made with audit key {entry.key_id}, which this process "
                                                       "does not hold: verify with WORKFLOW_APP_AUDIT_KEY set to it"))
        elif entry.key_id is None and keyed_seen:
            problems.append(ChainProblem(entry.id, "a row without the key after rows made with it: the chain was "
                                                   "rewritten by someone without the key"))
        elif _digest(key if entry.key_id else None, entry.prev_hash, entry.at, entry.actor_id, entry.actor_name,
                     entry.action, entry.object_type, entry.object_id, entry.detail) != entry.hash:
            problems.append(ChainProblem(entry.id, "content does not match its hash: the row was edited"))
        keyed_seen = keyed_seen or entry.key_id is not None
        expected_prev = entry.hash
    head = session.get(AuditHead, 1)
    if head is not None and head.last_hash != expected_prev:
        problems.append(ChainProblem(None, "the newest rows of the log were deleted"))
    return problems


def unkeyed_rows(session: Session) -> int:
    """How many rows were written without a key (before WORKFLOW_APP_AUDIT_KEY was set)."""
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.key_id.is_(None))) or 0


def history(session: Session, object_type: str, object_id: str | int) -> list[AuditEntry]:
    """The entries about one object, oldest first."""
    query = select(AuditEntry).where(AuditEntry.object_type == object_type,
                                     AuditEntry.object_id == str(object_id)).order_by(AuditEntry.id)
    return list(session.scalars(query))
