"""Concurrent completion, rolled-back and foreign steps versus the in-memory instances, the audit hash chain."""

from __future__ import annotations

import threading
import zlib

import pytest
from conftest import T0
from helpers import PLAN, complete, open_task, report, tamper
from sqlalchemy import insert, text

from workflow_app.engine import ProcessInstance
from workflow_app.services import audit, tasks
from workflow_app.services.errors import ConflictError
from workflow_app.services.instances import compress_state
from workflow_app.services.model_registry import process_model
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, InboxTask, ProcessInstanceRow


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
        tamper(s, "UPDATE audit_log SET actor_name = 'someone else' WHERE id = :id", id=first)
    with transaction(factory) as s:
        problems = audit.verify_chain(s)
    assert [p.entry_id for p in problems] == [first]


def test_audit_chain_detects_a_deleted_row(factory, zone):
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    with transaction(factory) as s:
        ids = [e.id for e in audit.history(s, "hazard", hid)]
        tamper(s, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    with transaction(factory) as s:
        assert [p.entry_id for p in audit.verify_chain(s)] == [ids[2]]
    with transaction(factory) as s:
        tamper(s, "DELETE FROM audit_log WHERE id = :id", id=ids[-1])
    with transaction(factory) as s:
        assert any(p.entry_id is None for p in audit.verify_chain(s))


def test_a_step_rolled_back_after_it_ran_leaves_nothing_behind_in_memory(factory, zone):
    """The in-memory instance a rolled-back step advanced must not be the one the next step uses."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hid)
    with pytest.raises(RuntimeError), transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task.task_id, PLAN, T0)
        raise RuntimeError("the request failed after the step ran")
    assert open_task(factory, hid).task_id == task.task_id
    assert complete(factory, zone.principal, hid, PLAN, T0) == "Task_PlanRectification"
    assert open_task(factory, hid).bpmn_id == "Task_ReviewPlan"


def test_a_step_saved_by_another_host_is_read_from_the_database_not_from_memory(factory, zone):
    """Another process advances the instance: this one's kept copy no longer matches the row and is not used."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)  # this process now keeps the instance at "review"
    with transaction(factory) as s:  # another host: restore from the row, step, save
        h = s.get(Hazard, hid)
        row = s.get(ProcessInstanceRow, h.instance_id)
        instance = ProcessInstance.restore(process_model(row.model_version),
                                           zlib.decompress(row.state).decode(), lambda: "")
        review = instance.ready_user_tasks()[0]
        instance.complete_task(review.task_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
        s.execute(text("UPDATE process_instances SET state = :state, version = version + 1 WHERE id = :id"),
                  {"state": compress_state(instance.state()), "id": row.id})
        s.execute(text("UPDATE inbox_tasks SET completed_at = :now WHERE task_id = :task"),
                  {"now": T0, "task": review.task_id})
        s.execute(insert(InboxTask.__table__).values(
            task_id=instance.ready_user_tasks()[0].task_id, instance_id=row.id, hazard_id=hid,
            enterprise_id=zone.enterprise_id, bpmn_id="Task_Rectify", name="实施整改", lane="企业", role="enterprise",
            organisation_id=zone.enterprise_id, created_at=T0))
    assert complete(factory, zone.principal, hid, {"rectification_result": "已完成", "rectified_on": "2026-11-10"},
                    T0) == "Task_Rectify"
    assert open_task(factory, hid).bpmn_id == "Task_DepartmentVerify"
