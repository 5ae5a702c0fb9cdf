"""Forms on the phone: photos survive a failed submit, fields follow the choice made, the public report
is searched, checked in one pass and not sent twice (issue #20, "On the phone")."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import PLAN, REPORT, complete, open_task, report
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in, upload

from workflow_app.engine import FormValidationError
from workflow_app.services import tasks
from workflow_app.services.staged_uploads import STAGED_HOURS, expire, staging_root
from workflow_app.store.database import transaction
from workflow_app.store.models import Evidence, Hazard, Organisation
from workflow_app.web.public_views import limiter

STAGED = re.compile(r'name="staged_photos_after" value="([0-9a-f]{64})" checked')
DONE = {"rectify_action": "done", "rectification_result": "已更换报警器并校验"}


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    limiter._events.clear()
    return make_app(factory, tmp_path, T0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _rectifying(factory: sessionmaker[Session], zone: Zone) -> tuple[int, str]:
    """A major hazard whose plan was approved: the enterprise's rectification task is open."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    task = open_task(factory, hazard_id)
    assert task.bpmn_id == "Task_Rectify"
    return hazard_id, task.task_id


def _evidence(factory: sessionmaker[Session], hazard_id: int) -> list[Evidence]:
    with transaction(factory) as s:
        return list(s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id,
                                                     Evidence.stage == "photos_after")))


def test_a_photo_survives_a_missing_field_and_the_retry_needs_no_new_upload(client: FlaskClient, factory,
                                                                            zone: Zone) -> None:
    hazard_id, task_id = _rectifying(factory, zone)
    sign_in(client, "boss")
    token = csrf(client, f"/tasks/{task_id}")
    failed = client.post(f"/tasks/{task_id}", data={**DONE, "csrf_token": token,
                                                    "photos_after": [upload(png("green"), "after.png")]},
                         content_type="multipart/form-data")
    page = failed.get_data(as_text=True)
    assert failed.status_code == 422 and 'id="e-rectified_on"' in page
    kept = STAGED.findall(page)
    assert len(kept) == 1
    assert f"/staged/task-{task_id}/{kept[0]}" in page
    thumb = client.get(f"/staged/task-{task_id}/{kept[0]}")
    assert thumb.status_code == 200 and thumb.data == png("green")
    assert _evidence(factory, hazard_id) == []  # nothing is evidence before the form goes through
    done = client.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-05", "csrf_token": token,
                                                  "staged_photos_after": kept[0]})
    assert done.status_code == 302
    assert open_task(factory, hazard_id).bpmn_id != "Task_Rectify"
    assert [e.sha256 for e in _evidence(factory, hazard_id)] == kept
    assert client.get(f"/staged/task-{task_id}/{kept[0]}").status_code == 404  # used: no longer staged


def test_an_unticked_staged_photo_is_removed(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id, task_id = _rectifying(factory, zone)
    sign_in(client, "boss")
    token = csrf(client, f"/tasks/{task_id}")
    client.post(f"/tasks/{task_id}", data={**DONE, "csrf_token": token,
                                           "photos_after": [upload(png("green"), "after.png")]},
                content_type="multipart/form-data")
    again = client.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-05", "csrf_token": token})
    assert again.status_code == 422 and "整改后照片为必填项" in again.get_data(as_text=True)
    assert _evidence(factory, hazard_id) == []


def test_a_staged_photo_not_used_within_a_day_expires(client: FlaskClient, factory, zone: Zone, app: Flask) -> None:
    hazard_id, task_id = _rectifying(factory, zone)
    sign_in(client, "boss")
    token = csrf(client, f"/tasks/{task_id}")
    page = client.post(f"/tasks/{task_id}", data={**DONE, "csrf_token": token,
                                                  "photos_after": [upload(png("green"), "after.png")]},
                       content_type="multipart/form-data").get_data(as_text=True)
    sha = STAGED.findall(page)[0]
    staged = staging_root(app.extensions["workflow_app"].evidence.root)
    day_old = time.time() - (STAGED_HOURS + 1) * 3600
    for path in staged.glob("*/*/*"):
        os.utime(path, (day_old, day_old))
    assert expire(staged) == 2  # the photo and its name
    late = client.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-05", "csrf_token": token,
                                                  "staged_photos_after": sha})
    assert late.status_code == 422 and "暂存的照片已过期或不存在" in late.get_data(as_text=True)
    assert _evidence(factory, hazard_id) == []


def test_another_user_cannot_use_or_see_someone_elses_staged_photo(client: FlaskClient, factory, zone: Zone) -> None:
    hazard_id, task_id = _rectifying(factory, zone)
    sign_in(client, "boss")
    token = csrf(client, f"/tasks/{task_id}")
    page = client.post(f"/tasks/{task_id}", data={**DONE, "csrf_token": token,
                                                  "photos_after": [upload(png("green"), "after.png")]},
                       content_type="multipart/form-data").get_data(as_text=True)
    sha = STAGED.findall(page)[0]
    colleague = client.application.test_client()
    sign_in(colleague, "safety")
    assert colleague.get(f"/staged/task-{task_id}/{sha}").status_code == 404
    their_token = csrf(colleague, f"/tasks/{task_id}")
    stolen = colleague.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-05",
                                                       "csrf_token": their_token, "staged_photos_after": sha})
    assert stolen.status_code == 422 and "暂存的照片已过期或不存在" in stolen.get_data(as_text=True)
    assert open_task(factory, hazard_id).bpmn_id == "Task_Rectify" and _evidence(factory, hazard_id) == []
    for forged in ("../../../etc/passwd", "a" * 64):
        response = client.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-05",
                                                          "csrf_token": token, "staged_photos_after": forged})
        assert response.status_code == 422


def test_conditional_fields_carry_their_rule_and_say_when_they_are_required(client: FlaskClient, factory,
                                                                          zone: Zone) -> None:
    _, task_id = _rectifying(factory, zone)
    sign_in(client, "boss")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'data-required-if="rectify_action" data-required-value="extend"[^>]*>\s*'
                     r'<label for="f-requested_deadline">申请延期至 <span class="req" aria-hidden="true">\*</span> '
                     r'<small class="req-when">申请延期时必填</small>', page)
    assert "整改完成，申请验收时必填" in page
    assert re.search(r'<label for="f-rectify_action">办理事项 <span class="req" aria-hidden="true">\*</span>', page)
    assert 'capture="environment"' in page and 'accept="image/*"' in page and "forms.js" in page
    client.post("/lang/en", data={"csrf_token": csrf(client, "/inbox")})
    english = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'<small class="req-when">Required when “[A-Z][^”]+” is chosen</small>', english)
    assert "时必填" not in english


def test_the_report_form_keeps_its_photos_too(client: FlaskClient, factory, zone: Zone) -> None:
    sign_in(client, "boss")
    token = csrf(client, "/hazards/new")
    form = {**REPORT, "enterprise_id": str(zone.enterprise_id), "csrf_token": token}
    failed = client.post("/hazards/new", data={**form, "title": "", "photos_before": [upload(png("red"), "r.png")]},
                         content_type="multipart/form-data")
    kept = re.findall(r'name="staged_photos_before" value="([0-9a-f]{64})" checked', failed.get_data(as_text=True))
    assert failed.status_code == 422 and len(kept) == 1
    done = client.post("/hazards/new", data={**form, "staged_photos_before": kept})
    assert done.status_code == 302
    hazard_id = int(done.headers["Location"].rsplit("/", 1)[1])
    with transaction(factory) as s:
        assert list(s.scalars(select(Evidence.sha256).where(Evidence.hazard_id == hazard_id))) == kept


def _public(zone: Zone, token: str, **extra: object) -> dict[str, object]:
    form = {k: v for k, v in REPORT.items() if k != "hazard_level"}
    return {**form, "source": "public_report", "enterprise_id": str(zone.enterprise_id), "csrf_token": token,
            **extra}


def _hazards(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(Hazard)) or 0


def test_public_report_shows_every_error_at_once_and_keeps_the_photo(client: FlaskClient, factory,
                                                                     zone: Zone) -> None:
    token = csrf(client, "/report")
    bad = client.post("/report", data=_public(zone, token, enterprise_id="", title="", found_on="明天",
                                              photos_before=[upload(png("blue"), "p.png")]),
                      content_type="multipart/form-data")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    for field in ("enterprise", "title", "found_on"):
        assert f'id="e-{field}"' in page, field
    kept = re.findall(r'name="staged_photos_before" value="([0-9a-f]{64})" checked', page)
    assert len(kept) == 1 and client.get(f"/staged/report-public/{kept[0]}").status_code == 200
    stranger = client.application.test_client()
    assert stranger.get(f"/staged/report-public/{kept[0]}").status_code == 404
    good = client.post("/report", data=_public(zone, token, staged_photos_before=kept))
    assert good.status_code == 303
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 1


def test_public_report_refresh_or_double_send_reports_once(client: FlaskClient, factory, zone: Zone) -> None:
    token = csrf(client, "/report")
    page = client.get("/report").get_data(as_text=True)
    once = re.search(r'name="submission" value="([^"]+)"', page)
    assert once
    data = _public(zone, token, submission=once.group(1))
    first = client.post("/report", data=data)
    assert first.status_code == 303
    thanks = client.get(first.headers["Location"])
    assert thanks.status_code == 200 and "YH2026" in thanks.get_data(as_text=True)
    assert client.get(first.headers["Location"]).status_code == 200  # a refresh shows the receipt again
    again = client.post("/report", data=data)  # the same form sent twice (a double tap, "resend" on refresh)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert _hazards(factory) == 1
    receipt = re.search(r'id="receipt">([^<]+)<', thanks.get_data(as_text=True))
    assert receipt
    status = client.get("/report/status", query_string={"receipt": receipt.group(1)}).get_data(as_text=True)
    assert re.search(r'id="receipt-status-meaning">安委办正在核实举报内容', status)  # in plain words


def test_public_enterprise_picker_finds_by_name_and_pinyin_initials(client: FlaskClient, factory,
                                                                    zone: Zone) -> None:
    with transaction(factory) as s:
        s.add(Organisation(code="E9", name="瑞丰化工有限公司", kind="enterprise"))
    for query in ("rfhg", "瑞丰"):
        page = client.get("/report", query_string={"q": query}).get_data(as_text=True)
        assert "瑞丰化工有限公司" in page and "E1单位" not in page, query
    page = client.get("/report").get_data(as_text=True)
    assert "瑞丰化工有限公司" in page and "E1单位" in page and 'data-initials="rfhgyxgs"' in page


def test_cost_follows_the_choice_and_the_overdue_explanation_only_when_late(factory, tmp_path: Path,
                                                                            zone: Zone) -> None:
    """Actual cost applies to a finished rectification (optional: the five-in-place plan already required the
    funds); the overdue explanation exists only once the deadline (2026-11-20) has passed, and is then required
    for a finished one — on the page and on the server alike."""
    hazard_id, task_id = _rectifying(factory, zone)
    client = make_app(factory, tmp_path / "on-time", T0).test_client()
    sign_in(client, "boss")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'data-shown-if="rectify_action" data-shown-value="done" data-shown-equals="true">\s*'
                     r'<label for="f-rectification_cost">实际投入资金（万元）</label>', page)
    assert "f-overdue_explanation" not in page and "逾期说明" not in page

    late = make_app(factory, tmp_path / "late", datetime(2026, 11, 23, 2, 0, tzinfo=UTC)).test_client()
    sign_in(late, "boss")
    page = late.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'data-required-if="rectify_action" data-required-value="done"[^>]*>\s*'
                     r'<label for="f-overdue_explanation">逾期说明[^<]*<span class="req"', page)
    token = csrf(late, f"/tasks/{task_id}")
    form = {**DONE, "rectified_on": "2026-11-22", "csrf_token": token,
            "photos_after": [upload(png("green"), "after.png")]}
    missing = late.post(f"/tasks/{task_id}", data=form, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "逾期说明（超过整改时限后提交须填写）为必填项" in missing.get_data(as_text=True)
    kept = STAGED.findall(missing.get_data(as_text=True))
    assert len(kept) == 1 and open_task(factory, hazard_id).bpmn_id == "Task_Rectify"
    done = late.post(f"/tasks/{task_id}", data={**DONE, "rectified_on": "2026-11-22", "csrf_token": token,
                                                "staged_photos_after": kept, "overdue_explanation": "设备到货延迟"})
    assert done.status_code == 302 and open_task(factory, hazard_id).bpmn_id != "Task_Rectify"


def test_the_server_asks_the_same_of_every_door(factory, zone: Zone) -> None:
    """The service behind the API and the CLI: an explanation refused on time, required when late."""
    _, task_id = _rectifying(factory, zone)
    finished = {**DONE, "rectified_on": "2026-11-05", "photos_after": ["a" * 64]}
    with pytest.raises(FormValidationError) as refused, transaction(factory) as s:
        tasks.complete_task(s, zone.principal, task_id, {**finished, "overdue_explanation": "x"}, T0)
    assert [(e.field_id, e.code) for e in refused.value.errors] == [("overdue_explanation", "not_applicable")]
    with transaction(factory) as s:
        _, form = tasks.task_form(s, zone.principal, task_id, T0.date())
        assert "overdue_explanation" not in form.field_ids() and "rectification_cost" in form.field_ids()
        _, late_form = tasks.task_form(s, zone.principal, task_id, date(2026, 11, 21))
        assert late_form.required_for({"rectify_action": "done"}) == [
            "rectify_action", "rectification_result", "rectified_on", "photos_after", "overdue_explanation"]
        assert late_form.required_for({"rectify_action": "extend"}) == ["rectify_action", "requested_deadline",
                                                                        "extension_reason"]
