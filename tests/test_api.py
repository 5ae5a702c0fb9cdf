"""/api/v1 through Flask's test client: tokens, role limits, problem details, idempotency, ETags."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0
from helpers import PLAN, REPORT, complete, open_task, report
from sqlalchemy import func, select
from web_support import csrf, make_app, png, sign_in

from workflow_app.services import standards
from workflow_app.services.tokens import create_token, revoke_token
from workflow_app.store.database import transaction
from workflow_app.store.models import ApiToken, Hazard


@pytest.fixture
def app(factory, tmp_path: Path):
    return make_app(factory, tmp_path, T0)


def _token(factory, user, scopes=("read", "write"), days=30) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "测试", list(scopes), days, T0)
    return {"Authorization": f"Bearer {plain}"}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    return body


def test_calls_need_a_valid_unexpired_unrevoked_token(app, factory, zone):
    client = app.test_client()
    _problem(client.get("/api/v1/hazards"), 401)
    _problem(client.get("/api/v1/hazards", headers={"Authorization": "Bearer wfa_nope"}), 401)
    with transaction(factory) as s:
        plain, _ = create_token(s, zone.principal, "短期", ["read"], 1, T0 - timedelta(days=2))
    _problem(client.get("/api/v1/hazards", headers={"Authorization": f"Bearer {plain}"}), 401)  # expired
    headers = _token(factory, zone.principal)
    assert client.get("/api/v1/hazards", headers=headers).status_code == 200
    with transaction(factory) as s:
        latest = s.scalar(select(ApiToken).order_by(ApiToken.id.desc()).limit(1))
        revoke_token(s, zone.principal, latest.id, T0)
    _problem(client.get("/api/v1/hazards", headers=headers), 401)


def test_a_read_token_cannot_write(app, factory, zone):
    body = _problem(app.test_client().post("/api/v1/hazards", json={"enterprise_id": zone.enterprise_id,
                                                                     "data": REPORT},
                                           headers=_token(factory, zone.principal, ("read",))), 403)
    assert "write" in body["detail"]


def test_history_says_in_words_what_was_done_beside_the_codes(app, factory, zone):
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    history = client.get(f"/api/v1/hazards/{hazard_id}", headers=headers).json["history"]
    reviewed = next(e for e in history if e["detail"].get("task") == "Task_ReviewPlan")
    assert reviewed["action"] == "complete_task" and reviewed["detail"]["data"]["review_decision"] == "approve"
    assert reviewed["action_label"] == "办理：审核治理方案"
    assert "审核结论：同意" in reviewed["outcome_label"] and "approve" not in reviewed["outcome_label"]
    assert {"label": "审核意见", "text": "同意"} in reviewed["notes"]
    assert history[0]["action_label"] == "上报隐患"
    english = client.get(f"/api/v1/hazards/{hazard_id}", headers={**headers, "Accept-Language": "en"}).json
    reviewed = next(e for e in english["history"] if e["detail"].get("task") == "Task_ReviewPlan")
    assert reviewed["action_label"] == "completed: Review the plan"
    assert "Review decision: Approve" in reviewed["outcome_label"]
    for words in (reviewed["action_label"], reviewed["outcome_label"]):
        assert not any("\u3400" <= c <= "\u9fff" for c in words), words
    assert reviewed["detail"]["data"]["review_decision"] == "approve"


def test_hazards_are_limited_like_the_web_and_paged_by_cursor(app, factory, zone):
    own = [report(factory, zone.principal, zone.enterprise_id, T0, title=f"隐患{n}") for n in range(3)]
    other = report(factory, zone.outsider, zone.other_enterprise_id, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    first = client.get("/api/v1/hazards?limit=2", headers=headers).json
    assert [h["id"] for h in first["items"]] == [own[2], own[1]] and first["next_cursor"] == own[1]
    second = client.get(f"/api/v1/hazards?limit=2&cursor={first['next_cursor']}", headers=headers).json
    assert [h["id"] for h in second["items"]] == [own[0]] and second["next_cursor"] is None
    _problem(client.get(f"/api/v1/hazards/{other}", headers=headers), 404)
    detail = client.get(f"/api/v1/hazards/{own[0]}", headers=headers).json
    assert detail["history"][0]["action"] == "report_hazard" and detail["attachments"] == []
    assert _problem(client.get("/api/v1/hazards?limit=0", headers=headers), 422)["errors"]["limit"]


def test_reporting_is_idempotent_and_validated_like_the_web_form(app, factory, zone):
    client = app.test_client()
    headers = {**_token(factory, zone.principal), "Idempotency-Key": "report-1"}
    body = {"enterprise_id": zone.enterprise_id, "data": REPORT}
    first = client.post("/api/v1/hazards", json=body, headers=headers)
    again = client.post("/api/v1/hazards", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert again.headers["Idempotent-Replayed"] == "true"
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Hazard.id))) == 1
    _problem(client.post(f"/api/v1/hazards/{first.json['id']}/attachments", headers=headers,
                         data={"file": (io.BytesIO(png()), "a.png")}, content_type="multipart/form-data"), 409)
    bad = _problem(client.post("/api/v1/hazards", json={**body, "data": {**REPORT, "found_on": "昨天"}},
                               headers=_token(factory, zone.principal)), 422)
    assert "found_on" in bad["errors"]


def test_a_hazard_reported_against_standard_items_is_major_and_shows_them(app, factory, zone):
    client, headers = app.test_client(), _token(factory, zone.principal)
    with transaction(factory) as s:
        offered = [i for i in standards.applicable_items(s, "industry", T0.date()) if i.standard.kind == "standard"]
        other = next(i.id for i in standards.applicable_items(s, "transport", T0.date()))
    chosen = [offered[0].id, offered[1].id]
    body = {"enterprise_id": zone.enterprise_id, "data": {**REPORT, "hazard_level": "general"}}
    refused = _problem(client.post("/api/v1/hazards", json={**body, "judged_item_ids": [other]}, headers=headers),
                       400)  # another sector's standard
    assert "判定标准" in refused["detail"]
    reported = client.post("/api/v1/hazards", json={**body, "judged_item_ids": chosen}, headers=headers)
    assert reported.status_code == 201, reported.get_data(as_text=True)
    detail = client.get(f"/api/v1/hazards/{reported.json['id']}", headers=headers).json
    assert detail["level"] == "major"
    assert [(i["id"], i["number"], i["doc_number"]) for i in detail["judged_items"]] == [
        (i.id, i.number, i.standard.doc_number) for i in offered[:2]]


def test_completing_a_task_needs_its_current_etag(app, factory, zone):
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    task = open_task(factory, hazard_id)
    client, headers = app.test_client(), _token(factory, zone.principal)
    assert [t["task_id"] for t in client.get("/api/v1/tasks", headers=headers).json["items"]] == [task.task_id]
    got = client.get(f"/api/v1/tasks/{task.task_id}", headers=headers)
    form = got.json["form"]
    assert got.headers["ETag"] == got.json["etag"]
    assert form["properties"]["rectification_deadline"] == {"title": "整改时限", "type": "string", "format": "date"}
    assert "responsible_person" in form["required"]
    url = f"/api/v1/tasks/{task.task_id}/complete"
    _problem(client.post(url, json={"data": PLAN}, headers=headers), 428)
    _problem(client.post(url, json={"data": PLAN}, headers={**headers, "If-Match": '"1-999"'}), 412)
    outsider = _token(factory, zone.outsider)
    _problem(client.post(url, json={"data": PLAN}, headers={**outsider, "If-Match": got.headers["ETag"]}), 404)
    done = client.post(url, json={"data": PLAN}, headers={**headers, "If-Match": got.headers["ETag"]})
    assert done.status_code == 200 and done.json == {"task_id": task.task_id, "status": "completed"}
    assert open_task(factory, hazard_id).bpmn_id == "Task_ReviewPlan"


def test_attachments_upload_and_download_within_the_hazards_one_may_see(app, factory, zone):
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    uploaded = client.post(f"/api/v1/hazards/{hazard_id}/attachments", headers=headers,
                           data={"file": (io.BytesIO(png("green")), "g.png")}, content_type="multipart/form-data")
    assert uploaded.status_code == 201 and uploaded.json["media_type"] == "image/png"
    download = client.get(f"/api/v1/attachments/{uploaded.json['id']}", headers=headers)
    assert download.status_code == 200 and download.data == png("green")
    _problem(client.get(f"/api/v1/attachments/{uploaded.json['id']}", headers=_token(factory, zone.outsider)), 404)
    refused = client.post(f"/api/v1/hazards/{hazard_id}/attachments", headers=headers,
                          data={"file": (io.BytesIO(b"not an image"), "x.jpg")}, content_type="multipart/form-data")
    assert refused.status_code == 400


def test_models_campaigns_and_notices(app, factory, zone):
    client = app.test_client()
    models = client.get("/api/v1/models", headers=_token(factory, zone.principal)).json
    assert {m["process_id"] for m in models} >= {"hazard_lifecycle", "campaign", "enterprise_duty"}
    _problem(client.get("/api/v1/campaigns", headers=_token(factory, zone.principal)), 404)
    assert client.get("/api/v1/campaigns", headers=_token(factory, zone.office)).json == []
    _problem(client.get("/api/v1/campaigns/none", headers=_token(factory, zone.office)), 404)
    assert client.get("/api/v1/notices", headers=_token(factory, zone.principal)).json == []


def test_tokens_page_shows_a_new_token_once_and_revokes(app, factory, zone):
    client = app.test_client()
    sign_in(client, "boss")
    page = client.post("/tokens", data={"name": "EHS 系统", "scopes": "write", "days": "30",
                                        "csrf_token": csrf(client, "/tokens")}).get_data(as_text=True)
    token = page.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("wfa_") and token not in client.get("/tokens").get_data(as_text=True)
    api = app.test_client()
    assert api.get("/api/v1/hazards", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with transaction(factory) as s:
        token_id = s.scalar(select(ApiToken.id))
    client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf(client, "/tokens")})
    assert api.get("/api/v1/hazards", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize("raw", [b"\x00", b"[1, 2]", b'"text"', b"{broken", b"null", b"\xff\xfe{}"])
def test_a_malformed_or_non_object_json_body_is_a_400_problem_and_changes_nothing(app, factory, zone, raw):
    headers = {**_token(factory, zone.principal), "Content-Type": "application/json"}
    body = _problem(app.test_client().post("/api/v1/hazards", data=raw, headers=headers), 400)
    assert "JSON object" in body["detail"]
    task_id = open_task(factory, report(factory, zone.principal, zone.enterprise_id, T0)).task_id
    _problem(app.test_client().post(f"/api/v1/tasks/{task_id}/complete", data=raw,
                                    headers={**headers, "If-Match": '"any"'}), 400)
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Hazard.id))) == 1  # only the one reported above


def test_an_idempotency_key_reused_with_a_different_body_is_refused(app, factory, zone):
    client = app.test_client()
    headers = {**_token(factory, zone.principal), "Idempotency-Key": "report-2"}
    body = {"enterprise_id": zone.enterprise_id, "data": REPORT}
    assert client.post("/api/v1/hazards", json=body, headers=headers).status_code == 201
    reordered = {"data": dict(reversed(list(REPORT.items()))), "enterprise_id": zone.enterprise_id}
    assert client.post("/api/v1/hazards", json=reordered, headers=headers).headers["Idempotent-Replayed"] == "true"
    changed = _problem(client.post("/api/v1/hazards", json={**body, "data": {**REPORT, "title": "另一处隐患"}},
                                   headers=headers), 422)
    assert changed["type"].endswith("/idempotency-key-reused") and "report-2" in changed["detail"]
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    upload_headers = {**headers, "Idempotency-Key": "photo-1"}
    path = f"/api/v1/hazards/{hazard_id}/attachments"
    assert client.post(path, headers=upload_headers, data={"file": (io.BytesIO(png("green")), "g.png")},
                       content_type="multipart/form-data").status_code == 201
    _problem(client.post(path, headers=upload_headers, data={"file": (io.BytesIO(png("blue")), "g.png")},
                         content_type="multipart/form-data"), 422)
    with transaction(factory) as s:
        assert s.scalar(select(func.count(Hazard.id))) == 2


class _CountingStream(io.BytesIO):
    """A request body that counts what the server reads of it."""

    read_bytes = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def test_an_upload_too_large_by_its_content_length_is_refused_before_it_is_read(app, factory, zone):
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    body = _CountingStream(b"x" * 1024)
    response = app.test_client().post(
        f"/api/v1/hazards/{hazard_id}/attachments", input_stream=body,
        headers={**_token(factory, zone.principal), "Content-Type": "multipart/form-data; boundary=b"},
        environ_overrides={"CONTENT_LENGTH": str(20 * 1024 * 1024)})
    assert _problem(response, 413) and body.read_bytes == 0
