"""The audit chain cannot be quietly rewritten: keyed with a secret the database does not hold,
anchored by checkpoints outside it, and on PostgreSQL append-only for the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import T0, Zone
from helpers import PLAN, complete, report, tamper
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.services import audit
from workflow_app.services.audit_checkpoints import problems_with, write
from workflow_app.store.database import make_session_factory, transaction
from workflow_app.store.models import AuditEntry, AuditHead, Notice, Organisation


@pytest.fixture
def keyed(engine: Engine) -> sessionmaker[Session]:
    """The app's sessions, with the audit key from WORKFLOW_APP_AUDIT_KEY."""
    return make_session_factory(engine, "a secret the database never sees")


def _entries(factory: sessionmaker[Session], zone: Zone) -> list[AuditEntry]:
    """Entries made with the key (after those of setting up, made before a key was configured)."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.key_id.is_not(None)).order_by(AuditEntry.id)))


def _rewrite_from(session: Session, first_id: int, key: bytes | None, key_id: str | None) -> None:
    """What an attacker with database access does: edit a row, then recompute every hash after it."""
    rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id >= first_id).order_by(AuditEntry.id)))
    prev = session.scalar(select(AuditEntry.hash).where(AuditEntry.id < first_id).order_by(AuditEntry.id.desc())
                          .limit(1)) or audit.GENESIS
    for index, row in enumerate(rows):
        name = "someone else" if index == 0 else row.actor_name
        new_hash = audit._digest(key, prev, row.at, row.actor_id, name, row.action, row.object_type, row.object_id,
                                 row.detail)
        tamper(session, "UPDATE audit_log SET actor_name = :name, prev_hash = :prev, hash = :hash, key_id = :kid "
                        "WHERE id = :id", name=name, prev=prev, hash=new_hash, kid=key_id, id=row.id)
        prev = new_hash
    session.execute(text("UPDATE audit_head SET last_hash = :h WHERE id = 1"), {"h": prev})
    session.expire_all()


@pytest.mark.parametrize("forged_key", [None, b"a guessed key"])
def test_a_row_edited_and_the_chain_recomputed_without_the_key_is_caught(keyed, zone, forged_key):
    """Recomputed as plain SHA-256 rows, or with a guessed key under the real key's fingerprint."""
    entries = _entries(keyed, zone)
    assert len(entries) >= 3
    with transaction(keyed) as s:
        assert audit.verify_chain(s) == []
        _rewrite_from(s, entries[1].id, forged_key, entries[0].key_id if forged_key else None)
    with transaction(keyed) as s:
        problems = audit.verify_chain(s)
    assert problems and problems[0].entry_id == entries[1].id


def test_verifying_with_another_key_says_so_instead_of_calling_the_log_intact(keyed, engine, zone):
    _entries(keyed, zone)
    with transaction(make_session_factory(engine, "another key")) as s:
        problems = audit.verify_chain(s)
    assert len(problems) == 1 and "which this process does not hold" in problems[0].message


def test_truncating_the_newest_rows_and_moving_the_head_is_caught_by_a_checkpoint(keyed, zone, tmp_path: Path):
    entries = _entries(keyed, zone)
    with transaction(keyed) as s:
        checkpoint, path = write(s, tmp_path, T0)
    assert (checkpoint.last_id, checkpoint.count) == (entries[-1].id, entries[-1].id)  # ids start at 1, no gaps
    with transaction(keyed) as s:
        assert problems_with(s, tmp_path) == []
        tamper(s, "DELETE FROM audit_log WHERE id >= :id", id=entries[-2].id)
        s.get(AuditHead, 1).last_hash = entries[-3].hash
    with transaction(keyed) as s:
        assert audit.verify_chain(s) == []  # the chain alone cannot tell
        assert problems_with(s, tmp_path) == [f"{path.name}: row {entries[-1].id}, the head at {checkpoint.at}, "
                                              "is gone: the log was truncated"]


def test_a_forged_checkpoint_is_recognised_and_the_office_gets_each_checkpoint_by_email(keyed, zone, tmp_path):
    _entries(keyed, zone)
    with transaction(keyed) as s:
        s.get(Organisation, zone.office.organisation_id).email = "office@example.org"
    with transaction(keyed) as s:
        _, path = write(s, tmp_path, T0)
    with transaction(keyed) as s:
        notices = list(s.scalars(select(Notice).where(Notice.kind == "audit_checkpoint")))
    assert [(n.channel, n.recipient_org_id, n.status) for n in notices] == [
        ("email", zone.office.organisation_id, "pending")]
    forged = json.loads(path.read_text())
    forged["count"] -= 1
    path.write_text(json.dumps(forged))
    with transaction(keyed) as s:
        assert problems_with(s, tmp_path) == [f"{path.name}: not made with this audit key (forged or altered "
                                              "checkpoint)"]


@pytest.mark.postgres
def test_on_postgresql_the_app_cannot_update_or_delete_an_audit_row(keyed, zone, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the triggers exist on PostgreSQL")
    entries = _entries(keyed, zone)
    for sql in ("UPDATE audit_log SET actor_name = 'x' WHERE id = :id", "DELETE FROM audit_log WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(keyed) as s:
            s.execute(text(sql), {"id": entries[0].id})
    with transaction(keyed) as s:
        assert audit.verify_chain(s) == []
