"""/api/v1 lookups (me, enterprises, standard items), /tasks by cursor, upload stages, field errors by language."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0
from helpers import PLAN, REPORT, complete, open_task, report
from sqlalchemy import select
from web_support import make_app, png

from workflow_app.engine import FieldError
from workflow_app.services import standards
from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask, Organisation
from workflow_app.web.forms import field_message


@pytest.fixture
def app(factory, tmp_path: Path):
    return make_app(factory, tmp_path, T0)


def _token(factory, user, scopes=("read", "write")) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "lookups", list(scopes), 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def test_me_says_who_calls_with_the_name_a_signature_needs(app, factory, zone):
    me = app.test_client().get("/api/v1/me", headers=_token(factory, zone.department, ("read",))).json
    assert me == {"id": zone.department.id, "username": "dept", "display_name": zone.department.display_name,
                  "role": "department", "scopes": ["read"],
                  "organisation": {"id": zone.department.organisation_id, "name": me["organisation"]["name"],
                                   "kind": "department"}}


def test_enterprises_are_those_the_role_rules_show_a_page_at_a_time(app, factory, zone):
    client = app.test_client()
    with transaction(factory) as s:
        every = list(s.scalars(select(Organisation.id).where(Organisation.kind == "enterprise")
                               .order_by(Organisation.id)))
    mine = client.get("/api/v1/enterprises", headers=_token(factory, zone.principal)).json
    assert [e["id"] for e in mine["items"]] == [zone.enterprise_id] and mine["next_cursor"] is None
    assert mine["items"][0]["sectors"] == ["industry"]
    office = _token(factory, zone.office)
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/enterprises", query_string={"limit": 1, **({"cursor": cursor} if cursor else {})},
                          headers=office).json
        seen += [e["id"] for e in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == every and len(every) >= 2
    supervised = client.get("/api/v1/enterprises", headers=_token(factory, zone.department)).json["items"]
    assert zone.enterprise_id in [e["id"] for e in supervised]
    assert zone.other_enterprise_id not in [e["id"] for e in supervised]


def test_standard_items_are_those_a_report_of_the_enterprise_may_name(app, factory, zone):
    client, headers = app.test_client(), _token(factory, zone.principal)
    items = client.get(f"/api/v1/enterprises/{zone.enterprise_id}/standard-items", headers=headers).json
    with transaction(factory) as s:
        expected = [i.id for i in standards.enterprise_items(s, [zone.enterprise_id], T0.date())]
    assert [i["id"] for i in items] == expected and expected
    major = next(i for i in items if i["standard_kind"] == "standard")
    reported = client.post("/api/v1/hazards", headers=headers, json={
        "enterprise_id": zone.enterprise_id, "data": {**REPORT, "hazard_level": "general"},
        "judged_item_ids": [major["id"]]})
    assert reported.status_code == 201
    assert client.get(f"/api/v1/hazards/{reported.json['id']}", headers=headers).json["level"] == "major"
    other = client.get(f"/api/v1/enterprises/{zone.other_enterprise_id}/standard-items", headers=headers)
    assert other.status_code == 404 and other.mimetype == "application/problem+json"


def test_tasks_are_paged_by_cursor_in_a_stable_order(app, factory, zone):
    for day in (0, 0, 0, 3, 3):  # ties on the due date are broken by the row
        report(factory, zone.principal, zone.enterprise_id, T0 + timedelta(days=day))
    with transaction(factory) as s:
        expected = [t.task_id for t in s.scalars(select(InboxTask).where(InboxTask.completed_at.is_(None))
                                                 .order_by(InboxTask.due_on, InboxTask.id))]
    client, headers = app.test_client(), _token(factory, zone.principal)
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get("/api/v1/tasks", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=headers).json
        seen += [t["task_id"] for t in page["items"]]
        pages += 1
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == expected and pages == 3 and len(set(seen)) == 5
    for bad in ("2026-13-01.4", "x", "-.-1", "2026-11-01."):
        refused = client.get("/api/v1/tasks", query_string={"cursor": bad}, headers=headers)
        assert refused.status_code == 422 and "cursor" in refused.json["errors"], bad


def test_an_upload_says_its_stage(app, factory, zone):
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    client, headers = app.test_client(), _token(factory, zone.principal)
    url = f"/api/v1/hazards/{hazard_id}/attachments"
    before = client.post(url, headers=headers, data={"file": (io.BytesIO(png("red")), "r.png"), "stage": "before"},
                         content_type="multipart/form-data")
    plain = client.post(url, headers=headers, data={"file": (io.BytesIO(png("blue")), "b.png")},
                        content_type="multipart/form-data")
    assert (before.json["stage"], plain.json["stage"]) == ("photos_before", "attachment")
    refused = client.post(url, headers=headers, data={"file": (io.BytesIO(png("green")), "g.png"), "stage": "x"},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and "stage" in refused.json["errors"]
    keyed = {**headers, "Idempotency-Key": "photo-stage"}
    assert client.post(url, headers=keyed, data={"file": (io.BytesIO(png("green")), "g.png"), "stage": "after"},
                       content_type="multipart/form-data").status_code == 201
    reused = client.post(url, headers=keyed, data={"file": (io.BytesIO(png("green")), "g.png"), "stage": "before"},
                         content_type="multipart/form-data")
    assert reused.status_code == 422 and reused.json["type"].endswith("/idempotency-key-reused")
    assert len(client.get(f"/api/v1/hazards/{hazard_id}", headers=headers).json["attachments"]) == 3
    document = client.get("/api/v1/openapi.json").json
    spec = document["paths"]["/api/v1/hazards/{hazard_id}/attachments"]["post"]
    declared = spec["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["schemas"][declared]["properties"]["stage"]["enum"] == ["after", "attachment",
                                                                                           "before"]


def test_field_errors_follow_accept_language(app, factory, zone):
    client, headers = app.test_client(), _token(factory, zone.principal)
    body = {"enterprise_id": zone.enterprise_id, "data": {**REPORT, "title": "", "category": "weather", "x": 1}}
    english = client.post("/api/v1/hazards", json=body, headers={**headers, "Accept-Language": "en"}).json
    assert english["errors"] == {"title": ["Hazard title is required"], "category": [english["errors"]["category"][0]],
                                 "x": ["The form has no field “x”"]}
    for messages in english["errors"].values():
        assert not any("\u3400" <= c <= "\u9fff" for c in messages[0]), messages
    chinese = client.post("/api/v1/hazards", json=body, headers={**headers, "Accept-Language": "zh-CN"}).json
    assert chinese["errors"]["title"] == ["隐患名称为必填项"]
    task = client.get("/api/v1/tasks", headers=headers).json["items"]
    assert task == []  # nothing was reported by the refused calls
    report(factory, zone.principal, zone.enterprise_id, T0)
    task_id = client.get("/api/v1/tasks", headers=headers).json["items"][0]["task_id"]
    etag = client.get(f"/api/v1/tasks/{task_id}", headers=headers).headers["ETag"]
    refused = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {**PLAN, "rectification_funds": "多"}},
                          headers={**headers, "If-Match": etag, "Accept-Language": "en"}).json
    assert refused["errors"] == {"rectification_funds": ["Rectification funds (10k CNY) must be a number"]}


def test_an_applications_rule_names_the_field_by_its_label_in_the_callers_language(app, factory, zone):
    """The plan's deadline rule is checked outside the form (hazard_subject), which knows the field's id only: the
    error still names the field as the form does, in English as in Chinese."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hazard_id, PLAN, T0)
    complete(factory, zone.department, hazard_id, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    task_id = open_task(factory, hazard_id).task_id
    client, headers = app.test_client(), _token(factory, zone.principal)
    etag = client.get(f"/api/v1/tasks/{task_id}", headers=headers).headers["ETag"]
    earlier = {"rectify_action": "extend", "requested_deadline": "2026-11-10", "extension_reason": "备件需进口"}
    answers = {language: client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": earlier},
                                     headers={**headers, "If-Match": etag, "Accept-Language": language}).json
               for language in ("en", "zh-CN")}
    assert answers["en"]["errors"] == {"requested_deadline": ["Extend to must be later than the current deadline"]}
    assert answers["zh-CN"]["errors"] == {"requested_deadline": ["申请的时限须晚于现在的整改时限（2026-11-20）"]}
    assert open_task(factory, hazard_id).task_id == task_id  # nothing changed


def test_a_rule_with_no_english_template_speaks_english_from_the_catalog(app):
    """A listing rule's own message (code `not_future`, no template by code) is translated as a whole."""
    error = FieldError("listing_deadline", "not_future", "督办整改时限须晚于今天")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert field_message(error) == "The supervision deadline must be after today"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert field_message(error) == "督办整改时限须晚于今天"
