"""Listing a major hazard for supervision (挂牌督办) is the office's decision on a department's proposal,
and delisting (摘牌) follows the department's re-inspection and, where production stopped, the office's
approval to resume it: on SQLite and PostgreSQL, through the services and the web."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import T0
from helpers import PLAN, complete, hazard, report
from pypdf import PdfReader
from sqlalchemy import func, select
from web_support import csrf, make_app, sign_in

from workflow_app.engine import FormValidationError
from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.services import audit, supervision_listings, tasks
from workflow_app.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, InboxTask, IssuedDocument, Notice, SupervisionListing, User

DECIDE = {"listing_decision": "list", "listing_deadline": "2026-12-15", "stop_production": "true",
          "decision_opinion": "同意挂牌，停产整改"}


def _rectifying(factory, zone, **overrides: Any) -> int:
    """A major hazard whose plan the department approved: open, confirmed, under rectification."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0, **overrides)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    return hid


def _close(factory, zone, hid: int, now: datetime) -> None:
    complete(factory, zone.principal, hid, {"rectification_result": "已更换", "rectified_on": "2026-11-10"}, now)
    complete(factory, zone.department, hid, {"verification_result": "passed", "verification_opinion": "合格"}, now)


def _propose(factory, actor: User, hid: int, now: datetime = T0, reason: str = "整改难度大，需挂牌督办") -> int:
    with transaction(factory) as s:
        return supervision_listings.propose(s, actor, hid, reason, now).id


def _listing(factory, listing_id: int) -> SupervisionListing:
    with transaction(factory) as s:
        listing = s.get(SupervisionListing, listing_id)
        assert listing is not None
        return listing


def _open_task(factory, listing_id: int) -> InboxTask:
    with transaction(factory) as s:
        instance_id = s.get(SupervisionListing, listing_id).instance_id
        return s.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id,
                                                 InboxTask.completed_at.is_(None))).one()


def _act(factory, actor: User, listing_id: int, data: dict[str, Any], now: datetime = T0) -> str:
    task = _open_task(factory, listing_id)
    with transaction(factory) as s:
        tasks.complete_task(s, actor, task.task_id, data, now)
    return task.bpmn_id


def _notices(factory, kind: str) -> list[tuple[int, str]]:
    with transaction(factory) as s:
        return sorted((org, subject) for org, subject in s.execute(
            select(Notice.recipient_org_id, Notice.subject).where(Notice.kind == kind)))


def test_approving_a_plan_no_longer_lists_the_hazard(factory, zone):
    """The plan: a major hazard is listed for supervision by the department's decision (挂牌督办), not by
    approving its rectification plan."""
    hid = _rectifying(factory, zone)
    assert (hazard(factory, hid).status, hazard(factory, hid).supervision_listed) == ("rectifying", False)
    with transaction(factory) as s:
        assert s.scalar(select(func.count(SupervisionListing.id)).where(SupervisionListing.hazard_id == hid)) == 0


def test_proposed_listed_closed_reinspected_resumed_and_delisted(factory, zone):
    """The office lists on a department's proposal, naming the supervising unit, deadline and 停产停业;
    摘牌 needs the hazard closed, the unit's re-inspection and, production having stopped, 恢复生产 approval."""
    hid = _rectifying(factory, zone)
    lid = _propose(factory, zone.department, hid)
    decision = _open_task(factory, lid)
    assert (decision.bpmn_id, decision.role, decision.due_on.isoformat()) == ("Task_ListingDecision", "office",
                                                                             "2026-11-09")  # 5 working days
    assert decision.organisation_id == zone.office.organisation_id and not hazard(factory, hid).supervision_listed

    assert _act(factory, zone.office, lid, DECIDE) == "Task_ListingDecision"
    listed = _listing(factory, lid)
    assert (listed.status, listed.supervising_unit_id, listed.deadline.isoformat(), listed.stop_production) == (
        "listed", zone.department.organisation_id, "2026-12-15", True)
    assert (listed.decided_by_id, listed.decided_at) == (zone.office.id, T0) and hazard(factory, hid).supervision_listed
    told = {org for org, _ in _notices(factory, "listing_notice")}
    assert told == {zone.enterprise_id, zone.department.organisation_id}
    with transaction(factory) as s:  # the decision issues the 挂牌督办通知书, its serial in the notice
        issued = s.scalars(select(IssuedDocument).where(IssuedDocument.subject_id == lid)).one()
        bodies = list(s.scalars(select(Notice.body).where(Notice.kind == "listing_notice")))
    assert (issued.kind, issued.issuer_id, issued.number) == ("listing_notice", zone.office.organisation_id, 1)
    assert all("督办〔2026〕1号" in body for body in bodies)
    reinspect = _open_task(factory, lid)
    assert (reinspect.bpmn_id, reinspect.organisation_id, reinspect.due_on.isoformat()) == (
        "Task_Reinspect", zone.department.organisation_id, "2026-12-15")

    signed = {"reinspected_on": "2026-11-12", "reinspection_opinion": "已整改到位",
              "reinspector_signature": zone.department.display_name}
    with pytest.raises(FormValidationError) as still_open:
        _act(factory, zone.department, lid, signed)
    assert [e.code for e in still_open.value.errors] == ["hazard_open"]
    assert _listing(factory, lid).status == "listed" and _open_task(factory, lid).bpmn_id == "Task_Reinspect"

    _close(factory, zone, hid, T0 + timedelta(days=10))
    assert hazard(factory, hid).status == "closed" and hazard(factory, hid).supervision_listed  # closed, still listed
    later = T0 + timedelta(days=11)
    assert _act(factory, zone.department, lid, signed, later) == "Task_Reinspect"
    resume = _open_task(factory, lid)
    assert (resume.bpmn_id, resume.role) == ("Task_ResumeProduction", "office")
    assert (_listing(factory, lid).status, _listing(factory, lid).reinspection_opinion) == ("listed", "已整改到位")
    with pytest.raises(NotFoundError):  # the department cannot approve resuming production
        _act(factory, zone.department, lid, {"resume_on": "2026-11-14", "resume_opinion": "同意"}, later)
    _act(factory, zone.office, lid, {"resume_on": "2026-11-14", "resume_opinion": "同意恢复生产"}, later)

    delisted = _listing(factory, lid)
    assert (delisted.status, delisted.delisted_at, delisted.reinspected_by_id, delisted.production_resumed_by_id) == (
        "delisted", later, zone.department.id, zone.office.id)
    assert (delisted.decided_at, delisted.deadline.isoformat(), delisted.stop_production) == (T0, "2026-12-15", True)
    assert not hazard(factory, hid).supervision_listed
    with transaction(factory) as s:
        steps = [e.detail.get("task") for e in audit.history(s, "supervision_listing", lid)]
    assert steps == [None, "Task_ListingDecision", "Task_Reinspect", "Task_ResumeProduction"]


def test_without_stopped_production_the_reinspection_delists(factory, zone):
    hid = _rectifying(factory, zone)
    lid = _propose(factory, zone.department, hid)
    _act(factory, zone.office, lid, {**DECIDE, "stop_production": ""})
    _close(factory, zone, hid, T0)
    _act(factory, zone.department, lid, {"reinspected_on": "2026-11-03", "reinspection_opinion": "合格",
                                         "reinspector_signature": zone.department.display_name})
    assert _listing(factory, lid).status == "delisted" and not hazard(factory, hid).supervision_listed


def test_a_refused_proposal_may_be_proposed_again_but_never_two_at_once(factory, zone):
    hid = _rectifying(factory, zone)
    lid = _propose(factory, zone.department, hid)
    with pytest.raises(InvalidInputError, match="重复提议"):
        _propose(factory, zone.department, hid)
    with pytest.raises(FormValidationError) as no_deadline:
        _act(factory, zone.office, lid, {"listing_decision": "list", "decision_opinion": "同意"})
    assert [e.field_id for e in no_deadline.value.errors] == ["listing_deadline"]
    _act(factory, zone.office, lid, {"listing_decision": "refuse", "decision_opinion": "整改方案可行，暂不挂牌"})
    refused = _listing(factory, lid)
    assert (refused.status, refused.decision_opinion, refused.supervising_unit_id) == (
        "refused", "整改方案可行，暂不挂牌", None)
    assert not hazard(factory, hid).supervision_listed and _notices(factory, "listing_notice") == []
    again = _propose(factory, zone.department, hid, T0 + timedelta(days=3))
    assert _listing(factory, again).status == "proposed"
    with transaction(factory) as s:
        held = s.get(Hazard, hid)
        assert [x.status for x in supervision_listings.listings_of(s, zone.department, held)] == ["proposed", "refused"]
        assert supervision_listings.listings_of(s, zone.principal, held) == []  # not told of proposals, refusals


def test_only_a_supervising_department_proposes_and_only_the_office_decides(factory, zone):
    hid = _rectifying(factory, zone)
    for outsider in (zone.principal, zone.office, zone.town):
        with pytest.raises(PermissionDeniedError):
            _propose(factory, outsider, hid)
    with pytest.raises(NotFoundError):  # a department not supervising the enterprise does not even see it
        _propose(factory, zone.other_department, hid)
    general = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general", title="灭火器过期")
    with pytest.raises(InvalidInputError, match="重大事故隐患"):
        _propose(factory, zone.department, general)
    with pytest.raises(FormValidationError):  # blank reason: the start form's rule
        _propose(factory, zone.department, hid, reason="   ")
    with transaction(factory) as s:
        assert s.scalar(select(func.count(SupervisionListing.id))) == 0
    lid = _propose(factory, zone.department, hid)
    for not_office in (zone.department, zone.principal, zone.town):
        with pytest.raises(NotFoundError):
            _act(factory, not_office, lid, DECIDE)
    with pytest.raises(FormValidationError) as not_supervising:  # the unit must supervise the enterprise
        _act(factory, zone.office, lid, {**DECIDE, "supervising_unit_id": str(zone.other_department.organisation_id)})
    assert [e.code for e in not_supervising.value.errors] == ["not_supervising"]
    with pytest.raises(FormValidationError) as huge:
        _act(factory, zone.office, lid, {**DECIDE, "supervising_unit_id": "99999999999999"})
    assert [e.field_id for e in huge.value.errors] == ["supervising_unit_id"]
    with pytest.raises(FormValidationError) as past:
        _act(factory, zone.office, lid, {**DECIDE, "listing_deadline": "2026-11-02"})
    assert [e.code for e in past.value.errors] == ["not_future"]
    assert _listing(factory, lid).status == "proposed"
    _close(factory, zone, hid, T0)
    with pytest.raises(FormValidationError) as closed:  # closed meanwhile: nothing left to list
        _act(factory, zone.office, lid, DECIDE)
    assert [e.code for e in closed.value.errors] == ["hazard_closed"]


def test_decision_and_listing_deadline_timers_fire_once(factory, zone):
    """Reminder before the deadline, overdue notice at it to the supervising unit and the office, escalation
    after a grace period (the plan's 逾期升级督办), each once however often the sweep runs."""
    hid = _rectifying(factory, zone)
    lid = _propose(factory, zone.department, hid)
    for _ in range(2):
        sweep(factory, datetime(2026, 11, 10, 2, tzinfo=UTC))
    office, dept = zone.office.organisation_id, zone.department.organisation_id
    assert [org for org, _ in _notices(factory, "listing_decision_reminder")] == [office]
    assert sorted(org for org, _ in _notices(factory, "listing_decision_overdue")) == sorted([office, dept])
    _act(factory, zone.office, lid, {**DECIDE, "listing_deadline": "2026-11-20"}, datetime(2026, 11, 10, 3, tzinfo=UTC))
    for day in (17, 21, 28, 28):
        sweep(factory, datetime(2026, 11, day, 2, tzinfo=UTC))
    assert [org for org, _ in _notices(factory, "listing_reminder")] == [dept]
    assert sorted(org for org, _ in _notices(factory, "listing_overdue")) == sorted([office, dept])
    escalated = _notices(factory, "listing_escalation")
    assert sorted(org for org, _ in escalated) == sorted([office, dept]) and "2026-11-20" in escalated[0][1]


def test_the_bulletin_lists_the_listed_hazards_and_those_delisted_in_the_month(factory, zone):
    """The monthly bulletin (月通报) shows the hazards under listed supervision with unit, deadline and 停产."""
    stopped = _rectifying(factory, zone)
    _act(factory, zone.office, _propose(factory, zone.department, stopped), DECIDE)
    done = _rectifying(factory, zone, title="液氨管道泄漏")
    lid = _propose(factory, zone.department, done)
    _act(factory, zone.office, lid, {**DECIDE, "stop_production": "", "listing_deadline": "2026-11-30"})
    _close(factory, zone, done, T0)
    _act(factory, zone.department, lid, {"reinspected_on": "2026-11-03", "reinspection_opinion": "合格",
                                         "reinspector_signature": zone.department.display_name},
         datetime(2026, 11, 3, 2, tzinfo=UTC))
    out = io.BytesIO()
    with transaction(factory) as s:
        monthly_bulletin(s, "2026-11", out)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages).replace("\n", "")
    assert "五、挂牌督办的重大事故隐患（1 项）" in text
    assert "督办单位 D1单位，督办时限 2026-12-15，停产停业整改" in text
    assert "本月摘牌 1 项" in text and "液氨管道泄漏（2026-11-03 摘牌）" in text


def test_the_pages_propose_list_and_show_the_enterprise_its_stopped_production(factory, zone, tmp_path):
    hid = _rectifying(factory, zone)
    app = make_app(factory, tmp_path, T0)
    dept, enterprise, office = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((dept, "dept"), (enterprise, "boss"), (office, "office")):
        sign_in(client, name)
    assert "提议挂牌督办" in dept.get(f"/hazards/{hid}").get_data(as_text=True)
    assert 'id="propose-listing"' not in enterprise.get(f"/hazards/{hid}").get_data(as_text=True)
    token = csrf(enterprise, f"/hazards/{hid}")
    assert enterprise.post(f"/hazards/{hid}/listings", data={"proposal_reason": "x", "csrf_token": token}
                           ).status_code == 403
    reason = "<script>alert(1)</script>整改难"
    posted = dept.post(f"/hazards/{hid}/listings", data={"proposal_reason": reason,
                                                         "csrf_token": csrf(dept, f"/hazards/{hid}")})
    assert posted.status_code == 302
    page = office.get("/listings").get_data(as_text=True)
    assert "待决定" in page and f"/hazards/{hid}" in page
    assert "<script>alert" not in office.get(f"/hazards/{hid}").get_data(as_text=True)
    assert "储罐区报警器失效" not in enterprise.get("/listings").get_data(as_text=True)  # a proposal is internal

    task = _open_task(factory, _listing_of(factory, hid))
    form = office.get(f"/tasks/{task.task_id}").get_data(as_text=True)
    assert "D1单位" in form and "&lt;script&gt;" in form
    done = office.post(f"/tasks/{task.task_id}", data={**DECIDE, "csrf_token": csrf(office, f"/tasks/{task.task_id}")})
    assert done.status_code == 302
    own = enterprise.get(f"/hazards/{hid}").get_data(as_text=True)
    assert "挂牌督办中" in own and "须停产停业整改" in own and "2026-12-15" in own and "提议理由" not in own
    assert "储罐区报警器失效" in enterprise.get("/listings").get_data(as_text=True)
    outsider = app.test_client()
    sign_in(outsider, "outsider")
    assert "储罐区报警器失效" not in outsider.get("/listings").get_data(as_text=True)


def _listing_of(factory, hid: int) -> int:
    with transaction(factory) as s:
        return s.scalars(select(SupervisionListing.id).where(SupervisionListing.hazard_id == hid)).one()
