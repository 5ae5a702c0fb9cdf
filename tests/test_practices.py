"""The loop as practised (issue #9): receipts, triage deadline, reward, bulk work, delegation, evidence, spot-checks."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone
from helpers import PLAN, REPORT, complete, hazard, open_task, report, snapshot
from pypdf import PdfReader
from sqlalchemy import select
from web_support import csrf, make_app, sign_in

from workflow_app.engine import FormValidationError
from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.services import audit, delegation, inbox, ledger, spot_checks, tasks
from workflow_app.services.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Evidence, Hazard, InboxTask, Notice, SpotCheck, SpotCheckItem
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
                                        "reporter_name": "李举报", "csrf_token": csrf(client, "/report")},
                       follow_redirects=True)
    assert page.status_code == 200 and page.request.path == "/report/thanks"
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
    complete(factory, zone.office, hid, {"reward_decision": "award", "reward_amount": 3000,
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


def test_closure_needs_an_after_photo_and_a_major_one_the_verifiers_own_signature(factory, zone: Zone) -> None:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, REVIEWED, T0)
    rectify = open_task(factory, hid)
    before = snapshot(factory, hid)
    with pytest.raises(FormValidationError) as refused, transaction(factory) as s:
        tasks.complete_task(s, zone.principal, rectify.task_id, RECTIFIED, T0)
    assert [e.field_id for e in refused.value.errors] == ["photos_after"] and snapshot(factory, hid) == before
    complete(factory, zone.principal, hid, RECTIFIED, T0)  # with a photo
    verify = open_task(factory, hid)
    for signature in ("", "王五"):
        with pytest.raises(FormValidationError) as unsigned, transaction(factory) as s:
            tasks.complete_task(s, zone.department, verify.task_id, {**PASSED, "verifier_signature": signature}, T0)
        assert [e.field_id for e in unsigned.value.errors] == ["verifier_signature"]
    complete(factory, zone.department, hid, {**PASSED, "verifier_signature": "dept姓名"}, T0)
    assert hazard(factory, hid).status == "closed"


def _closed_general_hazard(factory, zone: Zone, on: datetime) -> int:
    hid = report(factory, zone.principal, zone.enterprise_id, on, hazard_level="general", found_on="2026-10-01")
    complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, on)
    complete(factory, zone.safety_officer, hid, {"rectification_measures": "已清理", "rectified_on": "2026-10-02"}, on)
    complete(factory, zone.principal, hid, {"verification_result": "passed", "verification_opinion": "好"}, on)
    assert hazard(factory, hid).status == "closed"
    return hid


OCTOBER = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)


def test_the_monthly_spot_check_draw_is_reproducible_from_its_recorded_seed(factory, zone: Zone) -> None:
    closed = [_closed_general_hazard(factory, zone, OCTOBER) for _ in range(5)]
    _closed_general_hazard(factory, zone, T0)  # closed in November: not in October's population
    with transaction(factory) as s:
        with pytest.raises(PermissionDeniedError):
            spot_checks.draw(s, zone.department, "2026-10", T0)
        check = spot_checks.draw(s, zone.office, "2026-10", T0, rate=0.4)
        drawn = sorted(i.hazard_id for i in s.scalars(select(SpotCheckItem)))
        assert check.population == closed and len(drawn) == 2 and set(drawn) <= set(closed)
        assert spot_checks.redraw_matches(s, check)
        again = spot_checks.sample(closed, 0.4, int(check.seed))  # anyone can redo the draw from the record
        assert again == drawn
        with pytest.raises(ConflictError):
            spot_checks.draw(s, zone.office, "2026-10", T0)
    with transaction(factory) as s:  # a sample edited afterwards no longer matches its seed
        item = s.scalars(select(SpotCheckItem)).first()
        item.hazard_id = next(h for h in closed if h not in drawn)
    with transaction(factory) as s:
        assert not spot_checks.redraw_matches(s, s.scalars(select(SpotCheck)).one())


def test_a_failed_spot_check_reopens_the_hazard_and_is_counted_in_the_bulletin(factory, zone: Zone) -> None:
    closed = [_closed_general_hazard(factory, zone, OCTOBER) for _ in range(2)]
    with transaction(factory) as s:
        spot_checks.draw(s, zone.office, "2026-10", T0, rate=1.0, seed=7)
        items = {i.hazard_id: i.id for i in s.scalars(select(SpotCheckItem))}
    with pytest.raises(NotFoundError), transaction(factory) as s:  # not the other sector's department
        spot_checks.record_result(s, zone.other_department, items[closed[0]], False, "x", T0)
    with pytest.raises(InvalidInputError), transaction(factory) as s:
        spot_checks.record_result(s, zone.department, items[closed[0]], False, " ", T0)
    with transaction(factory) as s:
        spot_checks.record_result(s, zone.department, items[closed[0]], False, "通道再次被堵", T0)
        spot_checks.record_result(s, zone.department, items[closed[1]], True, "", T0)
    reopened, kept = hazard(factory, closed[0]), hazard(factory, closed[1])
    assert reopened.status != "closed" and reopened.closed_at is None
    assert open_task(factory, closed[0]).bpmn_id == "Task_ChooseRectification"
    assert kept.status == "closed"
    with transaction(factory) as s:
        assert spot_checks.figures(s, datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8),
                                   datetime(2026, 12, 1, tzinfo=UTC)) == spot_checks.SpotCheckFigures(2, 1, 1)
        actions = [e.action for e in audit.history(s, "hazard", closed[0])]
    assert actions[-2:] == ["spot_check_result", "reopen_hazard"]
    out = io.BytesIO()
    with transaction(factory) as s:
        monthly_bulletin(s, "2026-11", out)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)
    assert "本月复核抽检 2 项，合格 1 项，不合格重新整改 1 项" in text.replace("\n", "")


NOV_17_REMINDER = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)  # 3 working days before Friday 11-20, 09:00 Shanghai
EXTEND = {"rectify_action": "extend", "requested_deadline": "2026-12-04", "extension_reason": "备件需进口，到货需两周"}


def _rectifying_major(factory, zone: Zone) -> int:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)  # deadline 2026-11-20
    complete(factory, zone.department, hid, REVIEWED, T0)
    return hid


def _reminders(factory, hid: int) -> list[str]:
    with transaction(factory) as s:
        return list(s.scalars(select(Notice.subject).where(Notice.hazard_id == hid, Notice.kind == "reminder",
                                                           Notice.channel == "in_app").order_by(Notice.id)))


def test_an_extension_moves_the_timers_only_when_approved(factory, zone: Zone) -> None:
    hid = _rectifying_major(factory, zone)
    complete(factory, zone.principal, hid, EXTEND, T0 + timedelta(days=1))
    assert (open_task(factory, hid).bpmn_id, hazard(factory, hid).status) == ("Task_ReviewExtension",
                                                                             "extension_review")
    complete(factory, zone.department, hid, {"extension_decision": "refuse", "extension_opinion": "时限合理"},
             T0 + timedelta(days=2))
    assert open_task(factory, hid).due_on == date(2026, 11, 20)  # refused: the old deadline and its timers
    assert [f.notice for f in sweep(factory, NOV_17_REMINDER)] == ["reminder"]

    complete(factory, zone.principal, hid, EXTEND, NOV_17_REMINDER + timedelta(hours=2))
    # while the request is decided only the department's own deadline to decide runs (3 working days: Nov 20)
    assert sorted(f.notice for f in sweep(factory, datetime(2026, 11, 21, tzinfo=UTC))) == [
        "extension_overdue", "extension_reminder"]
    complete(factory, zone.department, hid, {"extension_decision": "approve", "extension_opinion": "同意"},
             NOV_17_REMINDER + timedelta(hours=3))
    moved = open_task(factory, hid)
    assert (moved.bpmn_id, moved.due_on, hazard(factory, hid).rectification_deadline) == (
        "Task_Rectify", date(2026, 12, 4), date(2026, 12, 4))
    assert sweep(factory, datetime(2026, 11, 30, tzinfo=UTC)) == []  # the old deadline's timers are gone
    assert [f.notice for f in sweep(factory, datetime(2026, 12, 1, 1, 0, tzinfo=UTC))] == ["reminder"]
    assert len(_reminders(factory, hid)) == 2 and "2026-11-20" in _reminders(factory, hid)[0] \
        and "2026-12-04" in _reminders(factory, hid)[1]  # once per deadline, though re-armed after the refusal
    with transaction(factory) as s:
        requests = [e.detail["data"] for e in audit.history(s, "hazard", hid) if e.action == "complete_task"
                    and e.detail["task"] in ("Task_Rectify", "Task_ReviewExtension")]
    assert [d.get("rectify_action") or d.get("extension_decision") for d in requests] == [
        "extend", "refuse", "extend", "approve"]


def test_past_the_deadline_no_extension_an_explanation_and_the_overdue_list_until_closed(factory, zone: Zone):
    hid = _rectifying_major(factory, zone)
    late = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    sweep(factory, late)  # reminder, overdue
    rectify = open_task(factory, hid)
    before = snapshot(factory, hid)
    for data, field in ((EXTEND, "rectify_action"), (RECTIFIED, "overdue_explanation")):
        with pytest.raises(FormValidationError) as refused, transaction(factory) as s:
            tasks.complete_task(s, zone.principal, rectify.task_id, data, late)
        assert [e.field_id for e in refused.value.errors] == [field]
    assert snapshot(factory, hid) == before
    complete(factory, zone.principal, hid, {**RECTIFIED, "overdue_explanation": "设备厂家延迟供货"}, late)
    complete(factory, zone.department, hid, {"verification_result": "failed", "verification_opinion": "未整改到位",
                                             "rectification_deadline": "2026-12-18"}, late)
    with transaction(factory) as s:  # a new deadline does not take it off the overdue list
        overdue = [h.id for h in ledger.ledger_records(s, zone.office, ledger.LedgerQuery(overdue=True), late.date(),
                                                       (Hazard.id,))]
    assert overdue == [hid] and hazard(factory, hid).overdue_since is not None
    complete(factory, zone.principal, hid, {**RECTIFIED, "overdue_explanation": "已按要求返工"}, late)
    complete(factory, zone.department, hid, PASSED, late)
    with transaction(factory) as s:
        assert list(ledger.ledger_records(s, zone.office, ledger.LedgerQuery(overdue=True), late.date(), (Hazard.id,))
                    ) == []


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_a_rectification_may_be_evidenced_by_a_pdf_document_served_only_as_a_download(factory, zone: Zone,
                                                                                      tmp_path: Path) -> None:
    hid = _rectifying_major(factory, zone)
    task = open_task(factory, hid)
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "boss")
    form = {**RECTIFIED, "csrf_token": csrf(client, "/inbox")}
    refused = client.post(f"/tasks/{task.task_id}", data={**form, "photos_after": (io.BytesIO(b"not a pdf"), "a.pdf")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and open_task(factory, hid).task_id == task.task_id
    done = client.post(f"/tasks/{task.task_id}", data={**form, "photos_after": (io.BytesIO(PDF), "检测报告.pdf")},
                       content_type="multipart/form-data")
    assert done.status_code == 302 and open_task(factory, hid).bpmn_id == "Task_DepartmentVerify"
    with transaction(factory) as s:
        document = s.scalars(select(Evidence).where(Evidence.hazard_id == hid)).one()
    assert document.media_type == "application/pdf"
    served = client.get(f"/photos/{document.id}")
    assert served.data == PDF and served.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/photos/{document.id}/thumb").mimetype == "image/svg+xml"


def test_the_spot_check_page_draws_for_the_office_and_takes_a_departments_result(factory, zone: Zone,
                                                                                 tmp_path: Path) -> None:
    hid = _closed_general_hazard(factory, zone, OCTOBER)
    app = make_app(factory, tmp_path, T0)
    office, dept, boss = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((office, "office"), (dept, "dept"), (boss, "boss")):
        sign_in(client, name)
    assert boss.get("/spot-checks").status_code == 403
    token = csrf(office, "/spot-checks")
    refused = office.post("/spot-checks", data={"month": "2026-10", "percent": "abc", "csrf_token": token})
    assert refused.status_code == 422
    assert office.post("/spot-checks", data={"month": "2026-10", "percent": "50", "seed": "99",  # a seed is not taken
                                             "csrf_token": token}).status_code == 302
    with transaction(factory) as s:
        check = s.scalars(select(SpotCheck)).one()
    assert check.seed != "99" and float(check.rate) == 0.5
    page = dept.get("/spot-checks").get_data(as_text=True)
    assert hazard(factory, hid).code in page and f"随机种子 {check.seed}" in page and "可复现" in page
    assert "抽检比例 50 %" in page
    with transaction(factory) as s:
        item = s.scalars(select(SpotCheckItem)).one()
    result = {"result": "failed", "note": "通道再次堵塞", "csrf_token": csrf(dept, "/spot-checks")}
    assert dept.post(f"/spot-checks/items/{item.id}", data=result).status_code == 302
    assert hazard(factory, hid).status != "closed"
