"""Printable documents (issue #19): 责令限期整改指令书, 整改复查意见书, 隐患验收销号单, 挂牌督办通知书.

Each is generated from its record as a PDF naming the issuing unit, its serial number, the enterprise,
the hazard and the address of the record's page; serials are unique per issuing unit, kind and year.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask.testing import FlaskClient
from helpers import PLAN, complete, report
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.config import Settings
from workflow_app.services import documents
from workflow_app.services.enforcement import record_inspection
from workflow_app.services.errors import NotFoundError
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    AuditEntry,
    Inspection,
    IssuedDocument,
    Organisation,
    Penalty,
    SupervisionListing,
)

BASE = "https://hazards.example.gov.cn"
HOSTILE = "<b>甲&乙</b>"
FOUND = {"hazard_level": "major", "category": "equipment", "title": "储罐区<b>未设</b>泄漏报警 & 联锁",
         "description": "可燃气体报警器缺失", "location": "储罐区", "found_on": "2026-11-01"}
APPROVE = {"review_decision": "approve", "review_opinion": "同意"}
DONE = {"rectification_result": "已加装报警器", "rectified_on": "2026-11-10", "rectification_cost": "3.5"}
PASSED = {"verification_result": "passed", "verification_opinion": "现场复查<a href='x'>合格</a>"}
LATER = T0 + timedelta(days=10)


def _squeezed(value: str) -> str:
    return "".join(value.split())


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    assert not any(page.images for page in reader.pages)  # markup planted no picture
    assert not any("/Annots" in page for page in reader.pages)  # nor a link
    return _squeezed("".join(page.extract_text() for page in reader.pages))


def _inspected(factory: sessionmaker[Session], zone: Zone) -> tuple[int, int]:
    """An inspection of E1 by D1 that found one major hazard, with a fine; the ids of both."""
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).name = HOSTILE
        found = record_inspection(s, zone.department, zone.enterprise_id, "第一<i>包联</i>组", date(2026, 11, 2),
                                  "检查储罐区 & 配电室", [FOUND], [], T0)
        hazard_id = found.new_hazard_ids[0]
        s.add(Penalty(inspection_id=found.inspection_id, enterprise_id=zone.enterprise_id,
                      department_id=zone.department.organisation_id, hazard_id=hazard_id, case_number="罚〔2026〕7号",
                      legal_basis="《安全生产法》第一百零二条 <a href='https://evil.example/'>", kind="fine",
                      amount=50000, target="unit", target_name=HOSTILE, decided_by="局长", decided_on=date(2026, 11, 3),
                      recorded_by_id=zone.department.id, recorded_at=T0))
    return found.inspection_id, hazard_id


def _closed(factory: sessionmaker[Session], zone: Zone, hazard_id: int) -> None:
    """Plan, review, rectify and the inspecting department's verification: the hazard is closed."""
    for actor, data in ((zone.principal, PLAN), (zone.department, APPROVE), (zone.principal, DONE),
                        (zone.department, PASSED)):
        complete(factory, actor, hazard_id, data, T0 + timedelta(days=8))


def _listing(factory: sessionmaker[Session], zone: Zone, hazard_id: int, status: str = "listed") -> int:
    """A supervision listing the office decided (the listing process is another part's: written directly)."""
    with transaction(factory) as s:
        listing = SupervisionListing(
            hazard_id=hazard_id, status=status, proposing_department_id=zone.department.organisation_id,
            proposed_by_id=zone.department.id, proposed_at=T0, proposal_reason="重大隐患", decided_by_id=zone.office.id,
            decided_at=T0 + timedelta(days=1), decision_opinion="限期整改 & 停产", updated_at=T0,
            supervising_unit_id=zone.other_department.organisation_id, deadline=date(2026, 12, 15),
            stop_production=True)
        s.add(listing)
        s.flush()
        return listing.id


def _client(app, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def _issue(client: FlaskClient, path: str):
    return client.post(f"{path}/issue", data={"csrf_token": csrf(client, "/inbox")})


@pytest.fixture
def app(factory, tmp_path: Path):
    return make_app(factory, tmp_path, LATER, base_url=BASE)


def test_each_document_prints_issuer_serial_enterprise_hazard_and_link(app, factory, zone: Zone) -> None:
    """安全生产法 第六十五条: the inspecting department orders hazards rectified by a deadline; 《安全生产事故隐患
    排查治理暂行规定》第二十三条/第二十五条: the department re-inspects and a major hazard may be listed."""
    inspection_id, hid = _inspected(factory, zone)
    _closed(factory, zone, hid)
    listing_id = _listing(factory, zone, hid)
    with transaction(factory) as s:
        code = s.scalar(text("SELECT code FROM hazards WHERE id = :id"), {"id": hid})
    dept, office = _client(app, "dept"), _client(app, "office")
    order_url = f"{BASE}/inspections/{inspection_id}"
    expected = {"rectification_order": (dept, inspection_id, "D1单位责改〔2026〕1号", order_url,
                                        ["责令限期整改指令书", "2026年11月20日", "《安全生产法》第一百零二条<a",
                                         "第一<i>包联</i>组", "罚款50000元", "检查储罐区&配电室"]),
                "reinspection_opinion": (dept, hid, "D1单位复查〔2026〕1号", f"{BASE}/hazards/{hid}",
                                         ["整改复查意见书", "已加装报警器", "现场复查<ahref='x'>合格</a>", "dept姓名"]),
                "closeout_slip": (dept, hid, "D1单位销号〔2026〕1号", f"{BASE}/hazards/{hid}",
                                  ["隐患验收销号单", "王五", "设置警戒区", "3.5", "销号日期", "2026年11月10日"]),
                "listing_notice": (office, listing_id, "OFFICE单位督办〔2026〕1号", f"{BASE}/hazards/{hid}",
                                   ["挂牌督办通知书", "D2单位", "2026年12月15日", "停产", "限期整改&停产"])}
    for kind, (client, subject_id, serial, url, phrases) in expected.items():
        path = f"/documents/{kind}/{subject_id}"
        issued = _issue(client, path)
        assert issued.status_code == 302 and issued.headers["Location"].endswith(f"{path}.pdf")
        pdf = client.get(f"{path}.pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf", kind
        assert pdf.headers["Content-Disposition"].startswith("attachment;")
        content = _pdf_text(pdf.data)
        for phrase in [serial, HOSTILE, code, "储罐区<b>未设</b>泄漏报警&联锁", url, *phrases]:
            assert _squeezed(phrase) in content, (kind, phrase)
    with transaction(factory) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "issue_document")).all()
    assert sorted(e.detail["serial"] for e in entries) == sorted(v[2] for v in expected.values())


def test_the_link_falls_back_to_the_requests_host(factory, zone: Zone, tmp_path: Path) -> None:
    app = make_app(factory, tmp_path, LATER)
    _, hid = _inspected(factory, zone)
    _closed(factory, zone, hid)
    dept = _client(app, "dept")
    _issue(dept, f"/documents/closeout_slip/{hid}")
    assert f"http://localhost/hazards/{hid}" in _pdf_text(dept.get(f"/documents/closeout_slip/{hid}.pdf").data)


def test_the_base_url_setting_is_checked() -> None:
    assert Settings.from_env({"WORKFLOW_APP_BASE_URL": "https://x.example.cn/"}).base_url == "https://x.example.cn"
    assert Settings.from_env({}).base_url is None
    for bad in ("javascript:alert(1)", "x.example.cn", "https://x.example.cn/?a=1"):
        with pytest.raises(ValueError, match="WORKFLOW_APP_BASE_URL"):
            Settings.from_env({"WORKFLOW_APP_BASE_URL": bad})


def _inspection(session: Session, zone: Zone, department_user) -> int:
    row = Inspection(enterprise_id=zone.enterprise_id, department_id=department_user.organisation_id, team="组",
                     inspected_on=date(2026, 11, 2), findings="检查", recorded_by_id=department_user.id,
                     recorded_at=T0)
    session.add(row)
    session.flush()
    return row.id


def test_serials_count_per_issuer_kind_and_year_and_a_reissue_keeps_its_serial(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        first, second, next_year = (_inspection(s, zone, zone.department) for _ in range(3))
        other = _inspection(s, zone, zone.other_department)
    new_year = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 2027-01-01 00:00 in Shanghai
    issues = [(zone.department, first, T0), (zone.department, second, T0), (zone.other_department, other, T0),
              (zone.department, next_year, new_year), (zone.office, first, new_year)]
    serials = []
    for actor, inspection_id, moment in issues:
        with transaction(factory) as s:
            serials.append(documents.issue(s, actor, "rectification_order", inspection_id, moment).serial)
    assert serials == ["D1单位责改〔2026〕1号", "D1单位责改〔2026〕2号", "D2单位责改〔2026〕1号",
                       "D1单位责改〔2027〕1号", "D1单位责改〔2026〕1号"]  # the office's reissue: the same document
    with transaction(factory) as s:
        assert s.scalar(select(func.count(IssuedDocument.id))) == 4
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "issue_document")) == 4


def test_who_may_issue_and_read_a_document(app, factory, zone: Zone) -> None:
    """The issuer and the office issue; the enterprise reads what was issued to it; everyone else: not found."""
    _, hid = _inspected(factory, zone)
    _closed(factory, zone, hid)
    proposed = _listing(factory, zone, hid, status="proposed")
    path = f"/documents/reinspection_opinion/{hid}"
    boss, outsider, town, other = (_client(app, u) for u in ("boss", "outsider", "town", "dept2"))
    assert boss.get(f"{path}.pdf").status_code == 404  # not issued yet
    for client in (boss, outsider, town, other):
        assert _issue(client, path).status_code == 404
    with transaction(factory) as s:
        assert s.scalar(select(func.count(IssuedDocument.id))) == 0
    assert _issue(_client(app, "dept"), path).status_code == 302
    assert boss.get(f"{path}.pdf").status_code == 200
    for client in (outsider, town, other):
        assert client.get(f"{path}.pdf").status_code == 404
    office = _client(app, "office")
    assert office.get(f"{path}.pdf").status_code == 200
    assert _issue(office, f"/documents/listing_notice/{proposed}").status_code == 404  # not listed
    assert _issue(office, f"/documents/no_such_kind/{hid}").status_code == 404
    assert _issue(office, "/documents/closeout_slip/999999").status_code == 404
    other_hid = report(factory, zone.principal, zone.enterprise_id, T0)  # never verified by a department
    assert _issue(office, f"/documents/reinspection_opinion/{other_hid}").status_code == 404
    listing = _listing(factory, zone, hid)
    assert _issue(office, f"/documents/listing_notice/{listing}").status_code == 302
    assert other.get(f"/documents/listing_notice/{listing}.pdf").status_code == 200  # the supervising unit
    assert boss.get(f"/documents/listing_notice/{listing}.pdf").status_code == 200


def test_the_hazard_page_offers_documents_to_issue_and_to_read(app, factory, zone: Zone) -> None:
    inspection_id, hid = _inspected(factory, zone)
    _closed(factory, zone, hid)
    dept_page = _client(app, "dept").get(f"/hazards/{hid}").get_data(as_text=True)
    for kind, subject_id in (("rectification_order", inspection_id), ("reinspection_opinion", hid),
                             ("closeout_slip", hid)):
        assert f'action="/documents/{kind}/{subject_id}/issue"' in dept_page
    boss = _client(app, "boss")
    assert "/documents/" not in boss.get(f"/hazards/{hid}").get_data(as_text=True)
    _issue(_client(app, "dept"), f"/documents/closeout_slip/{hid}")
    page = boss.get(f"/hazards/{hid}").get_data(as_text=True)
    assert f'href="/documents/closeout_slip/{hid}.pdf"' in page and "/issue" not in page
    assert "D1单位销号〔2026〕1号" in page


def test_an_enterprise_verified_hazard_is_closed_out_by_the_enterprise_itself(app, factory, zone: Zone) -> None:
    hid = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general")
    complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, T0)
    complete(factory, zone.safety_officer, hid, {"rectification_measures": "已清理通道", "rectified_on": "2026-11-02"},
             T0)
    complete(factory, zone.principal, hid, {"verification_result": "passed", "verification_opinion": "好"}, T0)
    boss = _client(app, "boss")
    assert _issue(boss, f"/documents/closeout_slip/{hid}").status_code == 302
    content = _pdf_text(boss.get(f"/documents/closeout_slip/{hid}.pdf").data)
    assert "E1单位销号〔2026〕1号" in content and "已清理通道" in content
    assert _issue(_client(app, "dept"), f"/documents/closeout_slip/{hid}").status_code == 404  # not its document
    assert _issue(boss, f"/documents/reinspection_opinion/{hid}").status_code == 404  # no department verified it


def test_a_reported_hazards_documents_print_the_source_the_enterprise_is_told(app, factory, zone: Zone) -> None:
    """A whistleblower's report is never revealed to the enterprise (plan 二(四): protect reporters)."""
    hid = report(factory, None, zone.enterprise_id, T0, source="whistleblower")
    complete(factory, zone.office, hid, {"triage_decision": "accept", "hazard_level": "major",
                                         "triage_opinion": "属实"}, T0)
    _closed(factory, zone, hid)
    office = _client(app, "office")
    _issue(office, f"/documents/closeout_slip/{hid}")
    for client in (office, _client(app, "boss")):
        content = _pdf_text(client.get(f"/documents/closeout_slip/{hid}.pdf").data)
        assert "执法检查" in content and "内部吹哨人" not in content and "属实" not in content


def _waits_for_a_lock(factory: sessionmaker[Session]) -> None:
    """Return once some other session waits for a row lock (the concurrent insert is blocked)."""
    for _ in range(100):
        with transaction(factory) as s:
            if s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
                return
        time.sleep(0.05)
    raise AssertionError("the second issue never waited for the first")


def _issue_in_thread(factory, actor, inspection_id: int, results: list) -> threading.Thread:
    def run() -> None:
        try:
            with transaction(factory) as s:
                results.append(documents.issue(s, actor, "rectification_order", inspection_id, T0).serial)
        except Exception as exc:  # the test reports what the thread raised
            results.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_concurrent_first_issues_never_share_a_number(engine, factory, zone: Zone) -> None:
    """Two sessions issue at once on PostgreSQL: the same record gets one serial, two records two numbers."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent sessions: PostgreSQL (SQLite has one writer at a time)")
    with transaction(factory) as s:
        first, second, third = (_inspection(s, zone, zone.department) for _ in range(3))
    for mine_id, theirs_id, expected in ((first, first, ["D1单位责改〔2026〕1号"] * 2),  # the same record
                                         (second, third, ["D1单位责改〔2026〕2号", "D1单位责改〔2026〕3号"])):
        results: list = []
        with transaction(factory) as s:
            mine = documents.issue(s, zone.department, "rectification_order", mine_id, T0)
            thread = _issue_in_thread(factory, zone.department, theirs_id, results)
            _waits_for_a_lock(factory)  # the other insert waits for this transaction's number
        thread.join(10)
        assert sorted([mine.serial, *results]) == expected, results
    with transaction(factory) as s:
        assert s.scalar(select(func.count(IssuedDocument.id))) == 3
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "issue_document")) == 3


def test_a_document_of_another_record_is_not_found(factory, zone: Zone) -> None:
    with transaction(factory) as s, pytest.raises(NotFoundError):
        documents.issued(s, zone.office, "rectification_order", 12345)


def test_an_issued_opinion_keeps_the_verification_it_was_issued_on(factory, zone: Zone, tmp_path: Path) -> None:
    """A failed re-inspection's opinion (重新整改期限) stays as handed out when a later one passes."""
    _, hid = _inspected(factory, zone)
    for actor, data in ((zone.principal, PLAN), (zone.department, APPROVE), (zone.principal, DONE)):
        complete(factory, actor, hid, data, T0 + timedelta(days=3))
    complete(factory, zone.department, hid, {"verification_result": "failed", "verification_opinion": "报警未联锁",
                                             "rectification_deadline": "2026-12-10"}, T0 + timedelta(days=4))
    dept = _client(make_app(factory, tmp_path, T0 + timedelta(days=5)), "dept")
    _issue(dept, f"/documents/reinspection_opinion/{hid}")
    complete(factory, zone.principal, hid, DONE, T0 + timedelta(days=6))
    complete(factory, zone.department, hid, PASSED, T0 + timedelta(days=7))
    content = _pdf_text(dept.get(f"/documents/reinspection_opinion/{hid}.pdf").data)
    assert "报警未联锁" in content and "不通过" in content and "2026年12月10日" in content
    assert "现场复查" not in content
