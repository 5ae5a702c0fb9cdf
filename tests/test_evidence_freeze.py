"""A closed hazard's evidence is frozen (issue #16 §4): no upload path adds to it; an accepted one is audited."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import BPMN_DIR, T0, Zone
from helpers import PLAN, complete, hazard, open_task, report
from sqlalchemy import func, select
from web_support import csrf, make_app, png, sign_in

from workflow_app.services.model_registry import deploy
from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Evidence

REVIEWED = {"review_decision": "approve", "review_opinion": "同意"}
RECTIFIED = {"rectification_result": "已完成", "rectified_on": "2026-11-10"}
PASSED = {"verification_result": "passed", "verification_opinion": "现场核查，整改到位"}
ACCEPT_MAJOR = {"triage_decision": "accept", "hazard_level": "major", "triage_opinion": "属实"}


@pytest.fixture
def app(factory, tmp_path: Path):
    return make_app(factory, tmp_path, T0)


def _token(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "测试", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def _closed_major_hazard(factory, zone: Zone) -> int:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    for actor, data in ((zone.principal, PLAN), (zone.department, REVIEWED), (zone.principal, RECTIFIED),
                        (zone.department, PASSED)):
        complete(factory, actor, hid, data, T0)
    assert hazard(factory, hid).status == "closed"
    return hid


def _stored(factory, hazard_id: int) -> tuple[list[tuple[int, str]], int]:
    """The hazard's evidence rows and the length of the audit log."""
    with transaction(factory) as s:
        query = select(Evidence.id, Evidence.sha256).where(Evidence.hazard_id == hazard_id).order_by(Evidence.id)
        rows = [(row.id, row.sha256) for row in s.execute(query)]
        return rows, s.scalar(select(func.count(AuditEntry.id))) or 0


def test_the_api_refuses_an_attachment_on_a_closed_hazard_and_changes_nothing(app, factory, zone: Zone) -> None:
    hid = _closed_major_hazard(factory, zone)
    client, headers = app.test_client(), _token(factory, zone.principal)
    before = client.get(f"/api/v1/hazards/{hid}", headers=headers).json
    stored = _stored(factory, hid)
    refused = client.post(f"/api/v1/hazards/{hid}/attachments", headers=headers,
                          data={"file": (io.BytesIO(png("blue")), "late.png")}, content_type="multipart/form-data")
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert "已销号" in refused.json["detail"]
    assert _stored(factory, hid) == stored
    after = client.get(f"/api/v1/hazards/{hid}", headers=headers).json
    assert after["attachments"] == before["attachments"] and after["history"] == before["history"]


def test_an_attachment_accepted_on_an_open_hazard_is_in_its_history(app, factory, zone: Zone) -> None:
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    uploaded = client.post(f"/api/v1/hazards/{hid}/attachments", headers=headers,
                           data={"file": (io.BytesIO(png("green")), "现场.png")}, content_type="multipart/form-data")
    assert uploaded.status_code == 201
    history = client.get(f"/api/v1/hazards/{hid}", headers=headers).json["history"]
    added = [e for e in history if e["action"] == "add_attachment"]
    assert len(added) == 1 and added[0]["actor_name"] == "boss姓名"
    assert added[0]["detail"]["sha256"] == uploaded.json["sha256"] and added[0]["detail"]["name"] == "现场.png"
    sign_in(page_client := app.test_client(), "boss")
    assert "添加附件" in page_client.get(f"/hazards/{hid}").get_data(as_text=True)


def _model_with_reward_evidence() -> bytes:
    """The hazard model with a file field on the reward decision, a task of a hazard already closed."""
    xml = (BPMN_DIR / "hazard_lifecycle.bpmn").read_text(encoding="utf-8")
    anchor = '<camunda:formField id="reward_reason"'
    assert anchor in xml
    return xml.replace(anchor, '<camunda:formField id="reward_files" label="奖励材料" type="file" />' + anchor,
                       1).encode()


def test_the_web_refuses_evidence_on_a_closed_hazard_with_a_message_and_stores_nothing(app, factory,
                                                                                      zone: Zone) -> None:
    with transaction(factory) as s:
        deploy(s, _model_with_reward_evidence(), "hazard_lifecycle.bpmn", T0)
    hid = report(factory, None, zone.enterprise_id, T0, source="public_report")
    for actor, data in ((zone.office, ACCEPT_MAJOR), (zone.principal, PLAN), (zone.department, REVIEWED),
                        (zone.principal, RECTIFIED), (zone.department, PASSED)):
        complete(factory, actor, hid, data, T0)
    assert hazard(factory, hid).status == "closed"
    task = open_task(factory, hid)
    assert task.bpmn_id == "Task_RewardDecision"
    stored = _stored(factory, hid)
    client = app.test_client()
    sign_in(client, "office")
    url = f"/tasks/{task.task_id}"
    form = {"reward_decision": "no_award", "reward_reason": "不予奖励", "csrf_token": csrf(client, url),
            "reward_files": (io.BytesIO(png("blue")), "late.png")}
    page = client.post(url, data=form, content_type="multipart/form-data")
    assert page.status_code == 409
    assert 'class="flash error"' in page.get_data(as_text=True) and "已销号" in page.get_data(as_text=True)
    assert _stored(factory, hid) == stored
    assert open_task(factory, hid).task_id == task.task_id  # the decision was not taken either
