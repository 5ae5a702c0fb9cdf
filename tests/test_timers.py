"""Boundary timers on the rectification task fire through the sweep at an explicit now, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import BPMN_DIR, T0
from helpers import PLAN, complete, hazard, open_task, report
from sqlalchemy import select

from workflow_app.services import incidents, tasks
from workflow_app.services.errors import ConflictError
from workflow_app.services.model_registry import deploy
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Incident, Notice, TimerFiring

# PLAN's deadline is Friday 2026-11-20 (Shanghai): reminder 3 working days before at 09:00,
# overdue at midnight after it, escalation 5 working days after at 09:00.
REMINDER = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
OVERDUE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
ESCALATION = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


DONE = {"rectification_result": "已完成", "rectified_on": "2026-11-18"}


def _rectifying(factory, zone) -> int:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    return hid


def _notices(factory, hid):
    with transaction(factory) as s:
        return [(n.kind, n.recipient_org_id) for n in s.scalars(  # to organisations (people: test_notice_recipients)
            select(Notice).where(Notice.hazard_id == hid, Notice.recipient_user_id.is_(None)).order_by(Notice.id))]


def test_each_timer_fires_at_its_instant_exactly_once(factory, zone):
    hid = _rectifying(factory, zone)
    ent, dept, office = zone.principal.organisation_id, zone.department.organisation_id, zone.office.organisation_id

    assert sweep(factory, REMINDER - timedelta(seconds=1)) == []
    fired = sweep(factory, REMINDER)
    assert [(f.notice, f.due_at) for f in fired] == [("reminder", REMINDER)]
    assert sweep(factory, REMINDER) == []
    assert _notices(factory, hid) == [("reminder", ent)]

    assert [f.notice for f in sweep(factory, OVERDUE)] == ["overdue"]
    assert hazard(factory, hid).overdue_since == OVERDUE
    assert [f.notice for f in sweep(factory, ESCALATION + timedelta(days=3))] == ["escalation"]
    assert sweep(factory, ESCALATION + timedelta(days=30)) == []
    assert sorted(_notices(factory, hid)[1:]) == sorted([("overdue", ent), ("overdue", dept),
                                                         ("escalation", office), ("escalation", dept)])
    assert hazard(factory, hid).escalated_at == ESCALATION + timedelta(days=3)


def test_a_sweep_after_downtime_fires_everything_that_fell_due_once(factory, zone):
    hid = _rectifying(factory, zone)
    fired = sweep(factory, ESCALATION + timedelta(days=10))
    assert sorted(f.notice for f in fired) == ["escalation", "overdue", "reminder"]
    assert sweep(factory, ESCALATION + timedelta(days=10)) == []
    with transaction(factory) as s:
        assert len(s.scalars(select(TimerFiring)).all()) == 3
    assert len(_notices(factory, hid)) == 5


def test_completing_rectification_in_time_cancels_the_remaining_timers(factory, zone):
    hid = _rectifying(factory, zone)
    sweep(factory, REMINDER)
    complete(factory, zone.principal, hid, {"rectification_result": "已完成", "rectified_on": "2026-11-18"},
             REMINDER + timedelta(days=1))
    # only the verifier's own deadline is left running
    assert sorted(f.notice for f in sweep(factory, ESCALATION + timedelta(days=30))) == [
        "verify_overdue", "verify_reminder"]
    kinds = [kind for kind, _ in _notices(factory, hid)]
    assert kinds[:1] == ["reminder"] and "overdue" not in kinds
    assert hazard(factory, hid).overdue_since is None


def test_a_failing_timer_path_is_an_incident_that_freezes_its_instance_until_skipped(factory, zone):
    healthy = _rectifying(factory, zone)
    broken_xml = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8").replace(
        '<bpmn:endEvent id="EndEvent_Reminded" name="已提醒">\n'
        '      <bpmn:incoming>Flow_Timer_Reminder</bpmn:incoming>\n    </bpmn:endEvent>',
        '<bpmn:scriptTask id="EndEvent_Reminded" name="坏脚本" scriptFormat="python">'
        '<bpmn:incoming>Flow_Timer_Reminder</bpmn:incoming><bpmn:script>1 / 0</bpmn:script></bpmn:scriptTask>')
    with transaction(factory) as s:
        assert deploy(s, broken_xml.encode(), "hazard_lifecycle.bpmn", T0).version == 2
    broken = _rectifying(factory, zone)
    fired = sweep(factory, REMINDER)
    assert sorted(f.notice for f in fired) == ["reminder", "reminder"]  # the broken one fired, then failed
    assert _notices(factory, healthy) == [("reminder", zone.principal.organisation_id)]
    with transaction(factory) as s:
        incident = s.scalars(select(Incident)).one()
        assert incident.bpmn_id == "EndEvent_Reminded" and "ZeroDivisionError" in incident.error
        assert incident.data["rectification_deadline"] == PLAN["rectification_deadline"]
    # nothing of the broken instance moves: its task refuses completion, its timers stay unfired
    task = open_task(factory, broken)
    with pytest.raises(ConflictError, match="管理员"), transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task.task_id, DONE, REMINDER)
    assert [f.code for f in sweep(factory, OVERDUE)] == [hazard(factory, healthy).code]
    with transaction(factory) as s:
        incidents.skip(s, zone.office, incident.id, "提醒脚本有误，已修正模型，提醒改为人工电话通知", OVERDUE)
    # it moves again: the overdue timer that fell due meanwhile fires as the instance resumes, once
    assert [kind for kind, _ in _notices(factory, broken)] == ["reminder", "overdue", "overdue"]
    assert sweep(factory, OVERDUE) == []
    complete(factory, zone.principal, broken, {**DONE, "overdue_explanation": "提醒未送达，延误两天"}, OVERDUE)
    with transaction(factory) as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(broken))).all()
    assert "incident" in actions and "incident_skipped" in actions
