"""Several departments supervise one enterprise: each sees it, reports and inspects there; the lead
reviews major-hazard plans and verifies closures, unless another department's inspection found the
hazard, which that department then verifies. High-risk and closed enterprises follow their profile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone, _org, _user
from flask.testing import FlaskClient
from helpers import PLAN, REPORT, complete, hazard, open_task, report, snapshot
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.reports.statistics import period_statistics
from workflow_app.services import hazards
from workflow_app.services.duties import open_due_duties
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from workflow_app.services.inbox import InboxQuery, inbox_page
from workflow_app.services.ledger import LedgerQuery, ledger_page
from workflow_app.services.roles import reportable_enterprises
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Duty, EnterpriseSector, Notice, Organisation, Sector, Supervision, User
from workflow_app.web.public_views import limiter

REVIEW = {"review_decision": "approve", "review_opinion": "同意"}
RECTIFIED = {"rectification_result": "已更换", "rectified_on": "2026-11-10"}
PASSED = {"verification_result": "passed", "verification_opinion": "合格"}
FOUND = {**REPORT, "source": "enforcement", "title": "熔炼炉冷却水系统无断水报警", "found_on": "2026-11-02"}


@pytest.fixture
def shared(factory: sessionmaker[Session], zone: Zone) -> Zone:
    """The zone with its enterprise E1 also supervised by the other department (D2), which does not lead."""
    with transaction(factory) as s:
        s.add(Supervision(enterprise_id=zone.enterprise_id, department_id=zone.other_department.organisation_id,
                          is_lead=False))
    return zone


@pytest.fixture
def stranger(factory: sessionmaker[Session], zone: Zone) -> User:
    """A user of a third department, which supervises nothing."""
    with transaction(factory) as s:
        return _user(s, "dept3", "department", _org(s, "D3", "department"))


def _seen_by(factory: sessionmaker[Session], user: User) -> tuple[list[int], list[int], list[str]]:
    """What `user` sees: hazard ids in the list and the ledger, and the steps on the inbox's watch tab."""
    with transaction(factory) as s:
        listed = [h.id for h in hazards.list_hazards(s, user)]
        ledger = [h.id for h in ledger_page(s, user, LedgerQuery(), T0.date()).hazards]
        watched = [task.bpmn_id for task, _, _ in inbox_page(s, user, InboxQuery(tab="watch"), T0.date()).rows]
    return listed, ledger, watched


def test_the_non_lead_sees_the_enterprise_but_the_lead_reviews_and_verifies(factory, shared):
    lead, other = shared.department, shared.other_department
    hid = report(factory, shared.principal, shared.enterprise_id, T0)
    complete(factory, shared.principal, hid, PLAN, T0)
    review = open_task(factory, hid)
    assert (review.bpmn_id, review.organisation_id) == ("Task_ReviewPlan", lead.organisation_id)
    assert _seen_by(factory, other) == ([hid], [hid], ["Task_ReviewPlan"])
    before = snapshot(factory, hid)
    with pytest.raises(NotFoundError):
        complete(factory, other, hid, REVIEW, T0)
    assert snapshot(factory, hid) == before

    complete(factory, lead, hid, REVIEW, T0)
    complete(factory, shared.principal, hid, RECTIFIED, T0)
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.organisation_id) == ("Task_DepartmentVerify", lead.organisation_id)
    with pytest.raises(NotFoundError):
        complete(factory, other, hid, PASSED, T0)
    complete(factory, lead, hid, PASSED, T0)
    assert hazard(factory, hid).status == "closed"


def test_the_non_lead_reports_and_inspects_and_verifies_what_its_inspection_found(factory, shared):
    lead, other = shared.department, shared.other_department
    own = report(factory, other, shared.enterprise_id, T0, source="enforcement", title="配电室门未关闭")
    assert hazard(factory, own).reported_by_id == other.id
    with transaction(factory) as s:
        found = record_inspection(s, other, shared.enterprise_id, "消防包联组", T0.date(), "检查熔炼车间",
                                  [FOUND], [], T0).new_hazard_ids
    [hid] = found
    complete(factory, shared.principal, hid, PLAN, T0)
    assert open_task(factory, hid).organisation_id == lead.organisation_id  # the plan: still the lead's review
    complete(factory, lead, hid, REVIEW, T0)
    complete(factory, shared.principal, hid, RECTIFIED, T0)
    verify = open_task(factory, hid)
    assert (verify.bpmn_id, verify.organisation_id) == ("Task_DepartmentVerify", other.organisation_id)
    with pytest.raises(NotFoundError):
        complete(factory, lead, hid, PASSED, T0)

    sweep(factory, T0 + timedelta(days=30))  # verification reminder and overdue notice: to the verifier
    with transaction(factory) as s:
        told = {(n.kind, n.recipient_org_id) for n in s.scalars(select(Notice).where(Notice.hazard_id == hid))}
    assert {("verify_reminder", other.organisation_id), ("verify_overdue", other.organisation_id)} <= told
    assert not {kind for kind, org in told if org == lead.organisation_id} & {"verify_reminder", "verify_overdue"}
    complete(factory, other, hid, PASSED, T0 + timedelta(days=30))
    assert hazard(factory, hid).status == "closed"


def test_the_lead_verifies_a_hazard_the_inspecting_department_no_longer_supervises(factory, shared):
    with transaction(factory) as s:
        [hid] = record_inspection(s, shared.other_department, shared.enterprise_id, "消防包联组", T0.date(), "检查",
                                  [FOUND], [], T0).new_hazard_ids
    with transaction(factory) as s:
        s.delete(s.get(Supervision, (shared.enterprise_id, shared.other_department.organisation_id)))
    complete(factory, shared.principal, hid, PLAN, T0)
    complete(factory, shared.department, hid, REVIEW, T0)
    complete(factory, shared.principal, hid, RECTIFIED, T0)
    assert open_task(factory, hid).organisation_id == shared.department.organisation_id


def test_a_department_that_does_not_supervise_sees_and_does_nothing(factory, shared, stranger):
    hid = report(factory, shared.principal, shared.enterprise_id, T0)
    complete(factory, shared.principal, hid, PLAN, T0)
    assert _seen_by(factory, stranger) == ([], [], [])
    with transaction(factory) as s:
        with pytest.raises(NotFoundError):
            hazards.get_hazard(s, stranger, hid)
        assert reportable_enterprises(s, stranger) == []
        assert [e for e, _ in reportable_enterprises(s, shared.other_department)] == [
            shared.enterprise_id, shared.other_enterprise_id]
    with pytest.raises(PermissionDeniedError):
        report(factory, stranger, shared.enterprise_id, T0, source="enforcement")
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        record_inspection(s, stranger, shared.enterprise_id, "组", T0.date(), "x", [FOUND], [], T0)
    with transaction(factory) as s:
        assert len(hazards.list_hazards(s, shared.office)) == 1  # the refused report and inspection left nothing


JUNE = datetime(2023, 6, 1, 1, tzinfo=UTC)


def _principal_periods(factory: sessionmaker[Session]) -> dict[int, str]:
    with transaction(factory) as s:
        open_due_duties(s, JUNE)
    with transaction(factory) as s:
        return {d.enterprise_id: d.period for d in s.scalars(select(Duty).where(Duty.kind == "principal_inspection"))}


def test_an_enterprise_flagged_or_in_any_high_risk_sector_inspects_monthly(factory, zone):
    assert _principal_periods(factory) == {zone.enterprise_id: "2023-Q2", zone.other_enterprise_id: "2023-Q2"}
    with transaction(factory) as s:
        s.execute(Duty.__table__.delete())
        s.get(Organisation, zone.enterprise_id).high_risk = True  # a smelter filed under 工贸
        s.add(Sector(code="hazchem", name="危险化学品", high_risk=True, department_id=zone.department.organisation_id))
        s.flush()
        s.add(EnterpriseSector(enterprise_id=zone.other_enterprise_id, sector_code="hazchem"))  # its second sector
    assert _principal_periods(factory) == {zone.enterprise_id: "2023-06", zone.other_enterprise_id: "2023-06"}


@pytest.mark.parametrize("status", ["closed", "merged"])
def test_a_closed_enterprise_gets_no_duties_and_no_new_hazards(factory, zone, status):
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).status = status
    with transaction(factory) as s:
        assert open_due_duties(s, JUNE) == 3  # the other enterprise's three
        assert {d.enterprise_id for d in s.scalars(select(Duty))} == {zone.other_enterprise_id}
    for actor in (zone.principal, zone.department, None):
        with pytest.raises(InvalidInputError, match="已关闭或已被合并"):
            report(factory, actor, zone.enterprise_id, T0, **({"source": "public_report"} if actor is None else {}))
    with pytest.raises(InvalidInputError, match="已关闭或已被合并"), transaction(factory) as s:
        record_inspection(s, zone.department, zone.enterprise_id, "组", T0.date(), "复查", [FOUND], [], T0)
    with transaction(factory) as s:
        assert hazards.list_hazards(s, zone.office) == []


# -- through HTTP ---------------------------------------------------------------------------------------------

@pytest.fixture
def client(factory: sessionmaker[Session], tmp_path: Path) -> FlaskClient:
    limiter._events.clear()
    return make_app(factory, tmp_path, T0).test_client()


def test_the_non_lead_reads_the_hazard_but_its_verification_is_refused_over_http(client, factory, shared):
    hid = report(factory, shared.principal, shared.enterprise_id, T0)
    complete(factory, shared.principal, hid, PLAN, T0)
    complete(factory, shared.department, hid, REVIEW, T0)
    complete(factory, shared.principal, hid, RECTIFIED, T0)
    verify = open_task(factory, hid)
    sign_in(client, "dept2")
    code = hazard(factory, hid).code
    assert client.get(f"/hazards/{hid}").status_code == 200
    assert code in client.get("/ledger").get_data(as_text=True)
    before = snapshot(factory, hid)
    refused = client.post(f"/tasks/{verify.task_id}", data={**PASSED, "verifier_signature": "dept2姓名",
                                                             "csrf_token": csrf(client, "/inbox")})
    assert refused.status_code in (403, 404)
    assert snapshot(factory, hid) == before
    assert client.get(f"/tasks/{verify.task_id}").status_code in (403, 404)


def test_report_pages_offer_only_active_enterprises_the_user_may_report_for(client, factory, zone):
    with transaction(factory) as s:
        s.get(Organisation, zone.other_enterprise_id).status = "closed"
    public = client.get("/report").get_data(as_text=True)
    assert "E1单位" in public and "E2单位" not in public
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    refused = client.post("/report", data={**form, "source": "public_report", "enterprise_id":
                                           str(zone.other_enterprise_id), "csrf_token": csrf(client, "/report")})
    assert refused.status_code == 422 and "已关闭或已被合并" in refused.get_data(as_text=True)
    with transaction(factory) as s:
        assert hazards.list_hazards(s, zone.office) == []
    sign_in(client, "dept2")  # E2's lead department: its enterprise is closed, E1 it does not supervise
    page = client.get("/hazards/new").get_data(as_text=True)
    assert "E1单位" not in page and "E2单位" not in page


def test_statistics_count_an_enterprise_under_its_lead_department_only(factory, shared):
    with transaction(factory) as s:  # the lead moves to D2, which supervises no sector of E1
        s.get(Supervision, (shared.enterprise_id, shared.department.organisation_id)).is_lead = False
        s.flush()
        s.get(Supervision, (shared.enterprise_id, shared.other_department.organisation_id)).is_lead = True
    report(factory, shared.principal, shared.enterprise_id, T0)
    with transaction(factory) as s:
        figures = period_statistics(s, date(2026, 11, 2), date(2026, 11, 9))
    assert {u.name: u.figures["found"] for u in figures.departments} == {"D1单位": 0, "D2单位": 1}
    assert figures.total["found"] == 1
