"""A public or whistleblower report stays hidden from the reported enterprise (issue #16 §4).

Until the office's triage accepts it, the enterprise sees nothing of it; afterwards it sees the
hazard found by the supervisor (执法检查), never the true source, the reporter or the receipt. The
office and the supervising department keep seeing the real source.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0, Zone
from flask.testing import FlaskClient
from helpers import PLAN, REPORT, complete, hazard, open_task, start_campaign_2026
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select
from web_support import csrf, make_app, sign_in

from workflow_app.services import hazards
from workflow_app.services.roles import REPORT_STEPS
from workflow_app.services.tokens import create_token
from workflow_app.services.vocabulary import SOURCES
from workflow_app.store.database import transaction
from workflow_app.store.models import Evidence

REPORTER = ("李吹哨", "13912345678")
TITLE = "消防通道堆放货物"
OPINION = "经核实，李吹哨反映属实"
ACCEPT = {"triage_decision": "accept", "hazard_level": "major", "triage_opinion": OPINION}
EXPORTS = ("ledger.xlsx", "ledger.csv", "table3")
SOURCE_CODES = ("public_report", "whistleblower")


@pytest.fixture
def app(factory, zone: Zone, tmp_path: Path):
    start_campaign_2026(factory)  # 附表3 lists its major hazards
    return make_app(factory, tmp_path, T0)


def _report(factory, zone: Zone, source: str) -> tuple[int, str, str]:
    """An anonymous report about E1 with the reporter's name and contact; its id, code and receipt."""
    with transaction(factory) as s:
        reported = hazards.report_hazard(s, None, zone.enterprise_id, {**REPORT, "source": source, "title": TITLE},
                                         T0, reporter=REPORTER)
    assert reported.receipt
    return reported.hazard_id, reported.code, reported.receipt


def _client(app, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def _token(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "测试", ["read"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def _export_cells(client: FlaskClient, name: str) -> list[list[str]]:
    """Every row of a downloaded export, as text (read back from the file)."""
    response = client.get(f"/exports/{name}")
    assert response.status_code == 200, name
    if name.endswith(".csv"):
        return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _sees_nothing(app, factory, zone: Zone, hid: int, code: str) -> None:
    """E1's users find no trace of the hazard: pages, API, exports, inbox, notices."""
    for username in ("boss", "safety"):
        web = _client(app, username)
        assert web.get(f"/hazards/{hid}").status_code == 404
        assert web.get(f"/hazards/{hid}/diagram.svg").status_code == 404
        for page in ("/ledger", f"/ledger?source={hazard(factory, hid).source}", "/inbox", "/inbox?tab=mine",
                     "/notices"):
            text = web.get(page).get_data(as_text=True)
            assert code not in text and TITLE not in text, page
        assert "共 0 项" in web.get("/ledger").get_data(as_text=True)
        for name in EXPORTS:
            cells = _export_cells(web, name)
            assert not any(code in c or TITLE in c for row in cells for c in row), name
    api, headers = app.test_client(), _token(factory, zone.principal)
    assert api.get(f"/api/v1/hazards/{hid}", headers=headers).status_code == 404
    assert api.get("/api/v1/hazards", headers=headers).json["items"] == []
    assert api.get("/api/v1/tasks", headers=headers).json["items"] == []


@pytest.mark.parametrize("source", SOURCE_CODES)
def test_the_enterprise_sees_nothing_before_triage_then_a_supervisor_finding_without_the_reporter(
        app, factory, zone: Zone, source: str) -> None:
    hid, code, receipt = _report(factory, zone, source)
    _sees_nothing(app, factory, zone, hid, code)
    office_api = app.test_client().get(f"/api/v1/hazards/{hid}", headers=_token(factory, zone.office))
    assert office_api.json["source"] == source  # the office triages what it sees

    complete(factory, zone.office, hid, ACCEPT, T0)
    forbidden = (SOURCES[source], source, REPORTER[0], REPORTER[1], receipt, OPINION, "举报受理研判")

    web = _client(app, "boss")
    page = web.get(f"/hazards/{hid}").get_data(as_text=True)
    assert TITLE in page and f"<dd>{SOURCES['enforcement']}</dd>" in page
    assert not [word for word in forbidden if word in page]
    svg = ET.fromstring(web.get(f"/hazards/{hid}/diagram.svg").data)
    classes = {g.get("data-element-id"): g.get("class", "") for g in svg.iter() if g.get("data-element-id")}
    assert "done" not in classes["Task_Triage"] and "current" in classes["Task_PlanRectification"]
    for name in EXPORTS:
        cells = _export_cells(web, name)
        row = next(r for r in cells if code in r or REPORT["description"] in r)  # 附表3 has no code
        assert SOURCES["enforcement"] in row, name
        assert not [word for word in forbidden for r in cells for c in r if word in c], name
    assert code in web.get("/ledger?source=enforcement").get_data(as_text=True)
    assert code not in web.get(f"/ledger?source={source}").get_data(as_text=True)
    assert code in web.get("/inbox").get_data(as_text=True)
    assert code not in web.get(f"/inbox?source={source}").get_data(as_text=True)

    api, headers = app.test_client(), _token(factory, zone.principal)
    detail = api.get(f"/api/v1/hazards/{hid}", headers=headers)
    assert detail.json["source"] == "enforcement"
    assert not [word for word in forbidden if word in detail.get_data(as_text=True)]
    assert [e["action"] for e in detail.json["history"]] == []  # the report and its triage are the office's
    listed = api.get("/api/v1/hazards", headers=headers).json["items"]
    assert [(h["id"], h["source"]) for h in listed] == [(hid, "enforcement")]
    assert api.get(f"/api/v1/hazards?source={source}", headers=headers).json["items"] == []
    assert [h["id"] for h in api.get("/api/v1/hazards?source=enforcement", headers=headers).json["items"]] == [hid]

    for user in (zone.office, zone.department, zone.town):
        assert api.get(f"/api/v1/hazards/{hid}", headers=_token(factory, user)).json["source"] == source
    office_page = _client(app, "office").get(f"/hazards/{hid}").get_data(as_text=True)
    assert SOURCES[source] in office_page and REPORTER[0] in office_page and OPINION in office_page
    office_export = _export_cells(_client(app, "office"), "ledger.xlsx")
    assert SOURCES[source] in next(r for r in office_export if code in r)


@pytest.mark.parametrize("source", SOURCE_CODES)
def test_a_rejected_report_stays_invisible_to_the_enterprise(app, factory, zone: Zone, source: str) -> None:
    hid, code, _ = _report(factory, zone, source)
    complete(factory, zone.office, hid, {"triage_decision": "not_hazard", "hazard_level": "general",
                                         "triage_opinion": "不属于隐患"}, T0)
    assert hazard(factory, hid).status == "rejected"
    _sees_nothing(app, factory, zone, hid, code)
    assert _client(app, "office").get(f"/hazards/{hid}").status_code == 200


def test_the_reward_decision_after_closure_is_not_shown_to_the_enterprise(app, factory, zone: Zone) -> None:
    hid, _, _ = _report(factory, zone, "whistleblower")
    for actor, data in ((zone.office, ACCEPT), (zone.principal, PLAN),
                        (zone.department, {"review_decision": "approve", "review_opinion": "同意"}),
                        (zone.principal, {"rectification_result": "已完成", "rectified_on": "2026-11-10"}),
                        (zone.department, {"verification_result": "passed", "verification_opinion": "整改到位"})):
        complete(factory, actor, hid, data, T0)
    assert open_task(factory, hid).bpmn_id == "Task_RewardDecision"
    complete(factory, zone.office, hid, {"reward_decision": "award", "reward_amount": 3000,
                                         "reward_reason": "举报属实"}, T0)
    page = _client(app, "boss").get(f"/hazards/{hid}").get_data(as_text=True)
    assert "已销号" in page and "举报奖励决定" not in page and "举报属实" not in page
    detail = app.test_client().get(f"/api/v1/hazards/{hid}", headers=_token(factory, zone.principal)).json
    assert [e["detail"].get("task") for e in detail["history"]] == [
        "Task_PlanRectification", "Task_ReviewPlan", "Task_Rectify", "Task_DepartmentVerify"]
    assert "举报奖励决定" in _client(app, "office").get(f"/hazards/{hid}").get_data(as_text=True)


def test_the_steps_hidden_as_a_reports_own_are_steps_of_the_hazard_model() -> None:
    ids = {e.get("id") for e in ET.parse(BPMN_DIR / "hazard_lifecycle.bpmn").iter()}
    assert ids >= REPORT_STEPS  # a renamed step would otherwise show the enterprise its triage


def _photo_with_exif() -> bytes:
    """A JPEG as a phone takes it: camera, time and GPS position in its EXIF, rotated by its orientation tag."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132], exif[0x0112] = "Huawei", "Mate 60 of 李吹哨", "2026:11:01 08:00:00", 6
    exif[0x8825] = {1: "N", 2: (31.0, 12.0, 30.0), 3: "E", 4: (121.0, 28.0, 10.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (80, 40), "red").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_a_reporters_photos_carry_no_metadata_and_no_file_name(factory, zone: Zone, app) -> None:
    client = app.test_client()
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    data = {**form, "source": "whistleblower", "enterprise_id": zone.enterprise_id,
            "csrf_token": csrf(client, "/report")}
    photo_file = (io.BytesIO(_photo_with_exif()), "李吹哨_IMG_0001.jpg")
    sent = client.post("/report", data={**data, "photos_before": photo_file}, content_type="multipart/form-data")
    assert sent.status_code == 303
    with transaction(factory) as s:
        [photo] = s.scalars(select(Evidence)).all()
    assert photo.original_name == "举报照片1.jpg"
    stored = app.extensions["workflow_app"].evidence.path(photo.sha256).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert dict(image.getexif()) == {} and image.size == (40, 80)  # upright, nothing of the phone left
    assert b"Huawei" not in stored and "李吹哨".encode() not in stored
    pdf = client.post("/report", data={**data, "photos_before": (io.BytesIO(b"%PDF-1.4\n%%EOF"), "举报.pdf")},
                      content_type="multipart/form-data")
    assert pdf.status_code == 422 and "照片" in pdf.get_data(as_text=True)
    with transaction(factory) as s:
        assert len(s.scalars(select(Evidence)).all()) == 1


def test_the_enterprises_filters_do_not_offer_report_sources(app, zone: Zone) -> None:
    for path in ("/ledger", "/inbox"):
        enterprise = _client(app, "boss").get(path).get_data(as_text=True)
        office = _client(app, "office").get(path).get_data(as_text=True)
        for code in SOURCE_CODES:
            assert f'value="{code}"' not in enterprise and f'value="{code}"' in office, (path, code)
        assert 'value="enforcement"' in enterprise
