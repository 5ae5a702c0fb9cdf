"""Reviewers see what they decide on: the plan, what was done, photos before and after, the history in words."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import PLAN, REPORT, complete, open_task
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in, upload

from workflow_app.store.database import transaction
from workflow_app.store.models import Evidence

RECTIFIED = {"rectify_action": "done", "rectification_result": "已更换防爆型报警器并联动切断阀",
             "rectified_on": "2026-11-25", "rectification_cost": "3.2",
             "overdue_explanation": "报警器厂家供货延迟一周<script>alert(1)</script>"}
RAW_CODES = re.compile(r"\b(approve|return|passed|failed|done|extend|refuse|review_decision|verification_result|"
                       r"rectify_action|hazchem|industry|gas|todo|watch)\b")


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


def _client(app: Flask, username: str, language: str = "zh-CN") -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    sign_in(client, username)
    return client


def _reported_with_photo(app: Flask, enterprise_id: int) -> int:
    """A major hazard the principal reports through the web with one photo of the hazard."""
    boss = _client(app, "boss")
    response = boss.post("/hazards/new", data={
        **REPORT, "csrf_token": csrf(boss, "/hazards/new"), "enterprise_id": str(enterprise_id),
        "photos_before": [upload(png("red"), "before.png")]}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _photos(factory: sessionmaker[Session], hazard_id: int) -> dict[str, list[int]]:
    with transaction(factory) as s:
        rows = list(s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id).order_by(Evidence.id)))
    return {stage: [e.id for e in rows if e.stage == stage] for stage in ("photos_before", "photos_after")}


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<section class="card" id="{section_id}">(.*?)</section>', page, re.S)
    assert found, f"no section {section_id}"
    return found.group(1)


def _history(page: str) -> str:
    found = re.search(r'<ol class="history">(.*?)</ol>', page, re.S)
    assert found, "no history"
    return found.group(1)


@pytest.fixture
def hazard_id(app: Flask, factory: sessionmaker[Session], zone: Zone) -> int:
    return _reported_with_photo(app, zone.enterprise_id)


def test_plan_review_page_shows_the_five_in_place_and_the_photo_of_the_hazard(
        app: Flask, factory: sessionmaker[Session], zone: Zone, hazard_id: int) -> None:
    """A major hazard's plan (五落实: 责任人、措施、资金、时限、应急预案) is reviewed by its department
    (campaign plan 二(一); 《安全生产事故隐患排查治理暂行规定》第十五条): the page it decides on shows all five."""
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    task = open_task(factory, hazard_id)
    assert task.bpmn_id == "Task_ReviewPlan"
    page = _client(app, "dept").get(f"/tasks/{task.task_id}").get_data(as_text=True)
    plan = _section(page, "review-plan")
    for label, value in (("整改责任人", "王五"), ("整改措施", "更换报警器"), ("整改资金（万元）", "2.5"),
                         ("整改时限", "2026-11-20"), ("应急预案及防范措施", "设置警戒区")):
        assert f"<dt>{label}</dt><dd" in plan and value in plan, label
    before = _photos(factory, hazard_id)["photos_before"]
    photos = _section(page, "review-photos")
    assert f'href="/photos/{before[0]}"' in photos and f'src="/photos/{before[0]}/thumb"' in photos
    assert page.index('id="review-plan"') < page.index('enctype="multipart/form-data" class="card"')


def test_verification_page_shows_what_was_done_with_photos_before_and_after_and_the_history(
        app: Flask, factory: sessionmaker[Session], zone: Zone, hazard_id: int) -> None:
    """A major hazard is closed only on the department's verification (验收销号, campaign plan 二(二)):
    the page shows the result, date, cost, the explanation of a late rectification and both photos."""
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "方案可行"}, T0)
    complete(factory, zone.principal, hazard_id, RECTIFIED, T0 + timedelta(days=23))  # after the 11-20 deadline
    task = open_task(factory, hazard_id)
    assert task.bpmn_id == "Task_DepartmentVerify"
    page = _client(app, "dept").get(f"/tasks/{task.task_id}").get_data(as_text=True)
    done = _section(page, "review-outcome")
    for value in ("已更换防爆型报警器并联动切断阀", "2026-11-25", "3.2", "报警器厂家供货延迟一周&lt;script&gt;"):
        assert value in done, value
    assert "<script>alert" not in page  # typed text is text, on the page and in its history
    photos = _photos(factory, hazard_id)
    before, after = _section(page, "review-photos").split('id="photos-after"')
    assert f"/photos/{photos['photos_before'][0]}/thumb" in before
    assert f"/photos/{photos['photos_after'][0]}/thumb" in after
    history = _history(_section(page, "review-history"))
    assert "审核治理方案" in history and "同意" in history and "方案可行" in history
    assert "整改完成，申请验收" in history


def test_extension_review_page_shows_the_date_asked_and_why(
        app: Flask, factory: sessionmaker[Session], zone: Zone, hazard_id: int) -> None:
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    complete(factory, zone.principal, hazard_id, {"rectify_action": "extend", "requested_deadline": "2026-12-15",
                                                  "extension_reason": "防爆设备需定制"}, T0)
    task = open_task(factory, hazard_id)
    assert task.bpmn_id == "Task_ReviewExtension"
    page = _client(app, "dept").get(f"/tasks/{task.task_id}").get_data(as_text=True)
    asked = _section(page, "review-outcome")
    assert "申请延期至" in asked and "2026-12-15" in asked and "防爆设备需定制" in asked
    assert 'id="photos-before"' in page and "申请延期" in _history(page)


@pytest.mark.parametrize(("language", "words", "absent"), [
    ("zh-CN", ("同意", "方案可行", "验收通过", "审核结论", "验收意见"), ("Approve", "Passed")),
    ("en", ("Approve", "方案可行", "Passed", "Review decision", "Verification opinion"),
     ("同意", "验收通过", "审核结论")),
])
def test_history_reads_in_words_in_the_users_language(
        app: Flask, factory: sessionmaker[Session], zone: Zone, hazard_id: int, language: str,
        words: tuple[str, ...], absent: tuple[str, ...]) -> None:
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "方案可行"}, T0)
    complete(factory, zone.principal, hazard_id, {**RECTIFIED, "overdue_explanation": ""}, T0)
    complete(factory, zone.department, hazard_id, {"verification_result": "passed", "verification_opinion": "合格"},
             T0)
    for who in ("dept", "boss"):
        history = _history(_client(app, who, language).get(f"/hazards/{hazard_id}").get_data(as_text=True))
        for word in words:
            assert word in history, (who, word)
        for word in absent:
            assert word not in history, (who, word)
        assert RAW_CODES.search(history) is None, (who, RAW_CODES.search(history))


@pytest.mark.parametrize(("language", "message"), [("zh-CN", "没有这个标签页"), ("en", "There is no such tab")])
def test_an_unknown_tab_is_a_400_page_in_the_pages_language(app: Flask, zone: Zone, language: str,
                                                            message: str) -> None:
    client = _client(app, "dept", language)
    response = client.get("/inbox?tab=nonsense")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page and "nonsense" not in page
    assert "unknown" not in page


@pytest.mark.parametrize("query", ["status=nonsense", "level=huge", "source=rumour", "sort=random", "page=x"])
@pytest.mark.parametrize("path", ["/inbox", "/ledger"])
def test_an_unknown_filter_value_is_a_400_page_in_chinese(app: Flask, zone: Zone, path: str, query: str) -> None:
    if path == "/inbox" and query == "sort=random":
        pytest.skip("the inbox has one order (by due date)")
    response = _client(app, "dept").get(f"{path}?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page
    assert re.search(r"[a-z]+ must be|unknown|one of", page) is None
    assert "page=x" in query or query.split("=")[1] not in page


def test_the_standards_page_names_sectors_not_their_codes(app: Flask, zone: Zone) -> None:
    page = _client(app, "dept").get("/standards").get_data(as_text=True)
    for code, sector, name in (("GM-2023", "industry", "工贸"), ("JT-2023", "transport", "交通运输")):
        row = re.search(rf"<tr><td[^>]*>{code}</td>.*?</tr>", page, re.S)
        assert row and re.search(rf"<td[^>]*>{name}</td>", row.group(0)) and sector not in row.group(0), code
