"""The loop as practised (issue #9): public report receipts, triage deadline, reward, bulk work, delegation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone
from helpers import PLAN, REPORT, complete, hazard, open_task, report
from sqlalchemy import select
from web_support import csrf, make_app, sign_in

from workflow_app.engine import FormValidationError
from workflow_app.services import delegation, inbox, tasks
from workflow_app.services.errors import InvalidInputError, PermissionDeniedError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Hazard, InboxTask, Notice
from workflow_app.web.public_views import limiter, lookups

ACCEPT_MAJOR = {"triage_decision": "accept", "hazard_level": "major", "triage_opinion": "属实，判定为重大隐患"}
REVIEWED = {"review_decision": "approve", "review_opinion": "同意"}
RECTIFIED = {"rectification_result": "已完成", "rectified_on": "2026-11-10"}
PASSED = {"verification_result": "passed", "verification_opinion": "现场核查，整改到位"}


def test_a_public_reporter_follows_the_report_by_receipt_and_sees_no_identity(factory, zone: Zone,
                                                                              tmp_path: Path) -> None:
    limiter._events.clear()
    lookups._events.clear()
    client = make_app(factory, tmp_path, T0).test_client()
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    page = client.post("/report", data={**form, "source": "public_report", "enterprise_id": zone.enterprise_id,
                                        "reporter_name": "李举报", "csrf_token": csrf(client, "/report")})
    assert page.status_code == 201
    with transaction(factory) as s:
        reported = s.scalars(select(Hazard)).one()
    assert reported.receipt_code and reported.receipt_code in page.get_data(as_text=True)

    shown = client.get(f"/report/status?receipt={reported.receipt_code.replace('-', '').lower()}")
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "待研判" in text
    for identity in ("李举报", "E1单位", REPORT["title"], reported.code):
        assert identity not in text
    assert client.get("/report/status?receipt=AAAA-BBBB-CCCC").status_code == 404

    complete(factory, zone.office, reported.id, ACCEPT_MAJOR, T0)
    assert "待制定整改方案" in client.get(f"/report/status?receipt={reported.receipt_code}").get_data(as_text=True)
    with transaction(factory) as s:  # reports by signed-in users get no receipt
        assert s.get(Hazard, report(factory, zone.principal, zone.enterprise_id, T0)).receipt_code is None


def test_triage_has_a_deadline_of_five_working_days_and_the_office_is_told_when_it_passes(factory, zone: Zone):
    hid = report(factory, None, zone.enterprise_id, T0, source="whistleblower")  # Monday 2026-11-02
    triage = open_task(factory, hid)
    assert (triage.bpmn_id, triage.due_on) == ("Task_Triage", date(2026, 11, 9))
    passed = datetime(2026, 11, 9, 16, 0, tzinfo=UTC)  # midnight after Monday 11-09, Shanghai
    assert sweep(factory, passed - timedelta(seconds=1)) == []
    assert [f.notice for f in sweep(factory, passed)] == ["triage_overdue"]
    with transaction(factory) as s:
        recipients = s.scalars(select(Notice.recipient_org_id).where(Notice.hazard_id == hid)).all()
    assert recipients == [zone.office.organisation_id]


def test_a_confirmed_public_report_of_a_major_hazard_records_a_reward_decision(factory, zone: Zone) -> None:
    hid = report(factory, None, zone.enterprise_id, T0, source="public_report")
    complete(factory, zone.office, hid, ACCEPT_MAJOR, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, REVIEWED, T0)
    complete(factory, zone.principal, hid, RECTIFIED, T0)
    complete(factory, zone.department, hid, PASSED, T0)
    closed = hazard(factory, hid)
    assert closed.status == "closed" and closed.closed_at is not None  # closed while the office decides
    decision = open_task(factory, hid)
    assert (decision.bpmn_id, decision.organisation_id) == ("Task_RewardDecision", zone.office.organisation_id)
    with pytest.raises(FormValidationError) as refused, transaction(factory) as s:
        tasks.complete_task(s, zone.office, decision.task_id, {"reward_decision": "award", "reward_reason": "属实"},
                            T0)
    assert [e.field_id for e in refused.value.errors] == ["reward_amount"]
    complete(factory, zone.office, hid, {"reward_decision": "award", "reward_amount": 2000,
                                        "reward_reason": "举报重大事故隐患，经核查属实"}, T0)
    with transaction(factory) as s:
        assert s.scalar(select(InboxTask.id).where(InboxTask.hazard_id == hid,
                                                   InboxTask.completed_at.is_(None))) is None
    assert hazard(factory, hid).status == "closed"


def test_bulk_reassign_does_the_allowed_tasks_and_reports_the_forbidden_one(factory, zone: Zone,
                                                                           tmp_path: Path) -> None:
    mine = [open_task(factory, report(factory, zone.principal, zone.enterprise_id, T0)).task_id for _ in range(2)]
    theirs = open_task(factory, report(factory, zone.outsider, zone.other_enterprise_id, T0)).task_id
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "boss")
    page = client.post("/inbox/bulk", data={"task_ids": [*mine, theirs], "action": "reassign",
                                            "to_user": zone.safety_officer.id, "next": "//evil.example/",
                                            "csrf_token": csrf(client, "/inbox")}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.request.path == "/inbox" and "已处理 2 项任务" in text and "未处理" in text
    with transaction(factory) as s:
        assignees = dict(s.execute(select(InboxTask.task_id, InboxTask.assignee_id)
                                   .where(InboxTask.task_id.in_([*mine, theirs]))).all())
        handed = s.scalars(select(AuditEntry).where(AuditEntry.action == "reassign_task")).all()
    assert assignees == {mine[0]: zone.safety_officer.id, mine[1]: zone.safety_officer.id, theirs: None}
    assert len(handed) == 2 and all(e.detail["to"] == "safety姓名" for e in handed)


def test_a_substitute_completes_a_colleagues_task_on_their_behalf_only_while_delegated(factory, zone: Zone,
                                                                                      tmp_path: Path) -> None:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hid)
    with transaction(factory) as s:
        inbox.claim(s, zone.safety_officer, task.task_id, T0)
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task.task_id, PLAN, T0)
    with pytest.raises(InvalidInputError), transaction(factory) as s:  # only a colleague may stand in
        delegation.delegate(s, zone.safety_officer, zone.outsider.id, date(2026, 11, 2), date(2026, 11, 6), "出差", T0)
    with transaction(factory) as s:
        delegation.delegate(s, zone.safety_officer, zone.principal.id, date(2026, 11, 3), date(2026, 11, 6), "出差", T0)
    client = make_app(factory, tmp_path, T0 + timedelta(days=1)).test_client()
    sign_in(client, "boss")
    assert task.task_id in client.get("/inbox").get_data(as_text=True)  # the substitute sees it
    after = T0 + timedelta(days=5)  # Saturday 11-07: the delegation has ended
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task.task_id, PLAN, after)
    assert client.post(f"/tasks/{task.task_id}", data={**PLAN, "csrf_token": csrf(client, "/inbox")}
                       ).status_code == 302
    with transaction(factory) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "complete_task")).one()
    assert entry.actor_name == "boss姓名（代safety姓名）" and entry.detail["on_behalf_of"] == zone.safety_officer.id
