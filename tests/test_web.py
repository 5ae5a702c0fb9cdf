"""The web app through Flask's test client: sign-in, inbox, forms, photos, visibility, public reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import PLAN, REPORT, complete, open_task, report
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in, upload

from workflow_app.store.database import transaction
from workflow_app.store.models import Evidence, Hazard, InboxTask
from workflow_app.web.public_views import limiter


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    limiter._events.clear()
    return make_app(factory, tmp_path, T0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _count(factory: sessionmaker[Session], model: type) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_anonymous_is_sent_to_sign_in_everywhere(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    for path in ("/inbox", f"/tasks/{task.task_id}", f"/hazards/{hazard_id}", f"/hazards/{hazard_id}/diagram.svg",
                 "/ledger", "/hazards/new", "/exports/ledger.csv", "/bulletin.pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_sign_in_refuses_a_wrong_password_and_cookies_are_http_only(client: FlaskClient, zone: Zone) -> None:
    token = csrf(client)
    refused = client.post("/login", data={"username": "boss", "password": "nope", "csrf_token": token})
    assert refused.status_code == 401 and "用户名或密码不正确" in refused.get_data(as_text=True)
    accepted = client.post("/login", data={"username": "boss", "password": "pw", "csrf_token": token})
    assert accepted.status_code == 302
    cookie = accepted.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_post_without_csrf_token_is_refused(client: FlaskClient, factory, zone: Zone) -> None:
    assert client.post("/login", data={"username": "boss", "password": "pw"}).status_code == 400
    sign_in(client, "boss")
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    assert client.post(f"/tasks/{task.task_id}", data=PLAN).status_code == 400
    assert open_task(factory, hazard_id).task_id == task.task_id  # nothing happened


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "/%5Cevil.example", "https://evil.example",
                                    "/\t/evil.example"])
def test_sign_in_does_not_redirect_off_site(client: FlaskClient, zone: Zone, target: str) -> None:
    response = client.post("/login", query_string={"next": target.replace("%5C", "\\")},
                           data={"username": "boss", "password": "pw", "csrf_token": csrf(client)})
    assert response.headers["Location"] == "/"  # the home page (工作台)


def test_sign_in_lands_on_the_home_page_or_the_local_page_asked_for(client: FlaskClient, zone: Zone) -> None:
    home = client.post("/login", data={"username": "boss", "password": "pw", "csrf_token": csrf(client)})
    assert home.headers["Location"] == "/"
    assert "工作台" in client.get("/").get_data(as_text=True)
    other = client.application.test_client()
    asked = other.post("/login", query_string={"next": "/ledger?level=major"},
                       data={"username": "boss", "password": "pw", "csrf_token": csrf(other)})
    assert asked.headers["Location"] == "/ledger?level=major"


def test_inbox_lists_my_tasks_with_counts_and_marks_overdue(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, {**PLAN, "rectification_deadline": "2026-10-30"}, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    report(factory, zone.outsider, zone.other_enterprise_id, T0, title="别家的隐患")
    sign_in(client, "boss")
    page = client.get("/inbox").get_data(as_text=True)
    assert "实施整改" in page and "已逾期" in page and "别家的隐患" not in page
    assert 'data-tab="todo">1<' in page
    overdue_only = client.get("/inbox?overdue=1&level=major").get_data(as_text=True)
    assert "实施整改" in overdue_only
    assert "没有待办任务" in client.get("/inbox?level=general").get_data(as_text=True)
    assert client.get("/inbox?tab=watch").status_code == 400  # enterprises oversee nothing


def test_claim_and_release(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    sign_in(client, "boss")
    token = csrf(client, "/inbox")
    assert client.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": token}).status_code == 302
    assert 'data-tab="mine">1<' in client.get("/inbox").get_data(as_text=True)
    colleague = client.application.test_client()
    sign_in(colleague, "safety")
    assert colleague.get(f"/tasks/{task.task_id}").status_code == 403  # claimed by the principal
    assert colleague.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": csrf(colleague, "/inbox")}
                          ).status_code == 403
    assert client.post(f"/tasks/{task.task_id}/release", data={"csrf_token": token}).status_code == 302
    assert colleague.get(f"/tasks/{task.task_id}").status_code == 200


def _main_text(page: str) -> str:
    """The words of a page's <main> (tags and attributes left out)."""
    main = page.split("<main", 1)[1].split("</main>", 1)[0].split(">", 1)[1]
    return re.sub(r"<[^>]+>", " ", main)


def test_a_refusal_speaks_the_pages_language(client: FlaskClient, factory, zone: Zone) -> None:
    """A 403 says why in the page's language: no English sentence on a Chinese page, no Chinese on an English one."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    sign_in(client, "boss")
    client.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": csrf(client, "/inbox")})
    colleague = client.application.test_client()
    sign_in(colleague, "safety")
    chinese = colleague.get(f"/tasks/{task.task_id}")
    words = _main_text(chinese.get_data(as_text=True))
    assert chinese.status_code == 403 and "该事项已由他人认领办理" in words
    assert not re.search(r"[A-Za-z]{2,}", words), words
    colleague.post("/lang/en", data={"csrf_token": csrf(colleague, "/inbox")})
    english = colleague.get(f"/tasks/{task.task_id}")
    words = _main_text(english.get_data(as_text=True))
    assert english.status_code == 403 and "This task is assigned to someone else" in words
    assert not re.search(r"[\u3400-\u9fff]", words), words


def test_every_refusal_a_service_raises_has_its_english_words() -> None:
    """Each PermissionDeniedError's message is Chinese (the catalog's source) with an English translation."""
    source = Path(__file__).parent.parent / "src" / "workflow_app"
    catalog = (Path(__file__).parent.parent / "translations" / "en" / "LC_MESSAGES" / "messages.po").read_text()
    constants = dict(re.findall(r'^([A-Z_]+) = "([^"]+)"$', "\n".join(
        p.read_text() for p in source.rglob("*.py")), re.MULTILINE))
    messages = set()
    for path in source.rglob("*.py"):
        for literal, name in re.findall(r'PermissionDeniedError\((?:"([^"]*)"|([A-Z_]+)\))', path.read_text()):
            messages.add(literal or constants[name])
    assert len(messages) > 25
    for message in messages:
        assert re.search(r"[\u3400-\u9fff]", message), message
        assert re.search(rf'^msgid "{re.escape(message)}"\nmsgstr "[^"]+"', catalog, re.MULTILINE), message


def test_task_form_comes_from_the_bpmn_and_keeps_input_on_errors(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    sign_in(client, "boss")
    page = client.get(f"/tasks/{task.task_id}").get_data(as_text=True)
    for label in ("整改责任人", "整改资金（万元）", "整改时限", "应急预案及防范措施"):
        assert label in page
    assert 'type="date"' in page and 'type="number"' in page
    token = csrf(client, f"/tasks/{task.task_id}")
    bad = client.post(f"/tasks/{task.task_id}", data={**PLAN, "rectification_funds": "很多", "csrf_token": token})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="e-rectification_funds"' in body and "应为数字" in body
    assert 'value="王五"' in body  # what the user typed is kept
    assert open_task(factory, hazard_id).task_id == task.task_id
    good = client.post(f"/tasks/{task.task_id}", data={**PLAN, "csrf_token": token})
    assert good.status_code == 302 and good.headers["Location"] == f"/hazards/{hazard_id}"
    assert open_task(factory, hazard_id).bpmn_id == "Task_ReviewPlan"


def test_errors_are_in_english_when_english_is_chosen(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    sign_in(client, "boss")
    token = csrf(client, "/inbox")
    client.post("/lang/en", data={"csrf_token": token})
    page = client.get(f"/tasks/{task.task_id}").get_data(as_text=True)
    assert "Person responsible" in page and "Submit" in page
    assert 'lang="zh-CN">中文</button>' in page and ">English</button>" not in page
    bad = client.post(f"/tasks/{task.task_id}", data={**PLAN, "responsible_person": "", "csrf_token": token})
    assert "Person responsible for rectification is required" in bad.get_data(as_text=True)


def _report_form(token: str, **extra: object) -> dict[str, object]:
    return {**{k: v for k, v in REPORT.items()}, "csrf_token": token, **extra}


def test_report_with_photos_then_only_allowed_users_see_them(client: FlaskClient, factory, zone: Zone) -> None:
    sign_in(client, "boss")
    token = csrf(client, "/hazards/new")
    response = client.post("/hazards/new", data=_report_form(
        token, enterprise_id=str(zone.enterprise_id),
        photos_before=[upload(png("red"), "a.png"), upload(png("blue"), "b.png")]),
        content_type="multipart/form-data")
    assert response.status_code == 302
    hazard_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/hazards/{hazard_id}").get_data(as_text=True)
    with transaction(factory) as s:
        photos = list(s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id)))
    assert len(photos) == 2 and f"/photos/{photos[0].id}/thumb" in page
    full = client.get(f"/photos/{photos[0].id}")
    assert full.status_code == 200 and full.mimetype == "image/png" and full.data == png("red")
    assert client.get(f"/photos/{photos[0].id}/thumb").mimetype == "image/jpeg"
    stranger = client.application.test_client()
    sign_in(stranger, "outsider")
    for path in (f"/photos/{photos[0].id}", f"/photos/{photos[0].id}/thumb", f"/hazards/{hazard_id}",
                 f"/hazards/{hazard_id}/diagram.svg", f"/tasks/{open_task(factory, hazard_id).task_id}"):
        assert stranger.get(path).status_code == 404, path
    other_department = client.application.test_client()
    sign_in(other_department, "dept2")
    assert other_department.get(f"/hazards/{hazard_id}").status_code == 404
    department = client.application.test_client()
    sign_in(department, "dept")
    assert department.get(f"/photos/{photos[1].id}").status_code == 200


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"x" * (8 * 1024 * 1024 + 1), "big.jpg", "文件过大"),
    (b"#!/bin/sh\necho not a photo\n", "evil.jpg", "不是可识别的图片"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(client: FlaskClient, factory, zone: Zone, app: Flask,
                                                       content: bytes, name: str, message: str) -> None:
    sign_in(client, "boss")
    token = csrf(client, "/hazards/new")
    response = client.post("/hazards/new", data=_report_form(
        token, enterprise_id=str(zone.enterprise_id), photos_before=[upload(png(), "ok.png"), upload(content, name)]),
        content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _count(factory, Hazard) == 0 and _count(factory, Evidence) == 0
    assert not (Path(app.instance_path) / "evidence").exists()


def test_a_request_beyond_the_size_limit_is_refused(client: FlaskClient, zone: Zone, app: Flask) -> None:
    sign_in(client, "boss")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/hazards/new", data=_report_form(csrf(client, "/hazards/new"),
                                                             photos_before=[upload(png(size=(400, 400)), "a.png")]),
                           content_type="multipart/form-data")
    assert response.status_code == 413


def test_hazard_page_shows_history_signed_by_name_and_the_current_step(client: FlaskClient, factory,
                                                                       zone: Zone) -> None:
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    sign_in(client, "dept")
    page = client.get(f"/hazards/{hazard_id}").get_data(as_text=True)
    assert "boss姓名" in page and "制定治理方案（五落实）" in page and "审核治理方案" in page
    svg = client.get(f"/hazards/{hazard_id}/diagram.svg")
    assert svg.mimetype == "image/svg+xml"
    assert b'data-element-id="Task_ReviewPlan"' in svg.data and b"current" in svg.data


def test_public_report_enters_triage_and_the_reporter_is_seen_by_the_office_only(client: FlaskClient, factory,
                                                                                 zone: Zone) -> None:
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    token = csrf(client, "/report")
    response = client.post("/report", data={**form, "source": "whistleblower", "enterprise_id": zone.enterprise_id,
                                            "reporter_name": "李吹哨", "reporter_contact": "13800000000",
                                            "csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200 and "YH2026" in response.get_data(as_text=True)
    with transaction(factory) as s:
        hazard_row = s.scalars(select(Hazard)).one()
        task = s.scalars(select(InboxTask).where(InboxTask.hazard_id == hazard_row.id)).one()
    assert task.bpmn_id == "Task_Triage" and hazard_row.level == "general"
    office = client.application.test_client()
    sign_in(office, "office")
    assert "李吹哨" in office.get(f"/hazards/{hazard_row.id}").get_data(as_text=True)
    enterprise = client.application.test_client()
    sign_in(enterprise, "boss")
    page = enterprise.get(f"/hazards/{hazard_row.id}").get_data(as_text=True)
    assert "李吹哨" not in page and "13800000000" not in page


def test_public_report_refuses_other_sources_robots_and_floods(client: FlaskClient, factory, zone: Zone) -> None:
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    token = csrf(client, "/report")
    own = client.post("/report", data={**form, "enterprise_id": zone.enterprise_id, "csrf_token": token})
    assert own.status_code == 422  # self_inspection is not a public source
    robot = client.post("/report", data={**form, "source": "public_report", "enterprise_id": zone.enterprise_id,
                                         "website": "http://spam", "csrf_token": token})
    assert robot.status_code == 400
    codes = [client.post("/report", data={**form, "source": "public_report", "enterprise_id": zone.enterprise_id,
                                          "csrf_token": token}).status_code for _ in range(5)]
    assert codes == [303, 303, 303, 303, 429]  # five per hour: the invalid one above counted too
    assert _count(factory, Hazard) == 4
