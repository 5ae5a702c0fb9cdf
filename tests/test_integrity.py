"""Concurrent completion, the audit hash chain."""

from __future__ import annotations

import threading

import pytest
from conftest import T0
from helpers import PLAN, complete, open_task, report
from sqlalchemy import text

from workflow_app.services import audit, tasks
from workflow_app.services.errors import ConflictError
from workflow_app.store.database import transaction


def test_two_sessions_completing_one_task_exactly_one_wins(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hid)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(actor, funds: str) -> None:
        barrier.wait()
        try:
            with transaction(factory) as s:
                tasks.complete_task(s, actor, task.task_id, {**PLAN, "rectification_funds": funds}, T0)
            outcomes.append(f"won:{funds}")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=submit, args=(zone.principal, "1")),
               threading.Thread(target=submit, args=(zone.safety_officer, "2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes)[0] == "conflict" and sorted(outcomes)[1].startswith("won:")
    winner_funds = sorted(outcomes)[1].split(":")[1]
    with transaction(factory) as s:
        entries = [e for e in audit.history(s, "hazard", hid) if e.action == "complete_task"]
    assert len(entries) == 1 and entries[0].detail["data"]["rectification_funds"] == float(winner_funds)


def test_a_completed_task_submitted_again_is_a_conflict(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hid)
    complete(factory, zone.principal, hid, PLAN, T0)
    with pytest.raises(ConflictError), transaction(factory) as s:
        tasks.complete_task(s, zone.safety_officer, task.task_id, PLAN, T0)


def test_audit_chain_detects_an_edited_row(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    with transaction(factory) as s:
        assert audit.verify_chain(s) == []
        first = audit.history(s, "hazard", hid)[0].id
        s.execute(text("UPDATE audit_log SET actor_name = 'someone else' WHERE id = :id"), {"id": first})
    with transaction(factory) as s:
        problems = audit.verify_chain(s)
    assert [p.entry_id for p in problems] == [first]


def test_audit_chain_detects_a_deleted_row(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    with transaction(factory) as s:
        ids = [e.id for e in audit.history(s, "hazard", hid)]
        s.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    with transaction(factory) as s:
        assert [p.entry_id for p in audit.verify_chain(s)] == [ids[2]]
    with transaction(factory) as s:
        s.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[-1]})
    with transaction(factory) as s:
        assert any(p.entry_id is None for p in audit.verify_chain(s))
