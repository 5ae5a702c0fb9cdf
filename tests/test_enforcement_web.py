"""Enforcement on the web and the API (issue #19): a supervising department records an inspection with the
hazards it found and its penalties, draws its yearly plan; every role sees what it may, nothing more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import T0
from helpers import REPORT
from sqlalchemy import func, select
from web_support import csrf, make_app, sign_in

from workflow_app.services.tokens import create_token
from workflow_app.store.database import transaction
from workflow_app.store.models import AuditEntry, Hazard, Inspection, LiaisonAssignment, Penalty

ON = T0.date().isoformat()
FORM = {"team": "应急一组", "inspected_on": ON, "inspectors": "李四、王五",
        "findings": "<script>alert(1)</script>检查储罐区",
        "hazard-1-title": "储罐区未设置泄漏报警", "hazard-1-hazard_level": "major", "hazard-1-category": "equipment",
        "hazard-1-location": "储罐区", "hazard-1-description": "可燃气体泄漏无报警"}
PENALTY = {"case_number": "应急罚〔2026〕7号", "legal_basis": "《安全生产法》第一百零一条",
           "decided_by": "应急管理分局", "decided_on": ON, "unit_kind": "fine", "unit_amount": "30000",
           "principal_kind": "fine", "principal_amount": "5000", "principal_name": "张三"}


@pytest.fixture
def app(factory, tmp_path: Path):
    return make_app(factory, tmp_path, T0)


def _client(app, username: str):
    client = app.test_client()
    sign_in(client, username)
    return client


def _counts(factory) -> tuple[int, ...]:
    with transaction(factory) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Inspection, Hazard, Penalty, AuditEntry))


def _record(app, factory, zone) -> tuple[object, int]:
    """The department records an inspection of E1 through the form; its client and the inspection's id."""
    client = _client(app, "dept")
    found = client.get("/inspections/new?q=e1dw").get_data(as_text=True)  # E1单位 by its pinyin initials
    assert f"enterprise_id={zone.enterprise_id}" in found
    form_path = f"/inspections/new?enterprise_id={zone.enterprise_id}"
    response = client.post("/inspections/new", data={**FORM, "enterprise_id": zone.enterprise_id,
                                                      "csrf_token": csrf(client, form_path)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_department_records_an_inspection_and_a_double_penalty_on_the_web(app, factory, zone):
    """Plan 三(三) and 二(三): the hazard found enters the loop from enforcement; 一案双罚 shows on the inspection
    and on the hazard's page; an invalid penalty is refused on the page and changes nothing."""
    client, inspection_id = _record(app, factory, zone)
    page = client.get(f"/inspections/{inspection_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;检查储罐区" in page and "<script>alert" not in page
    assert "应急一组" in page and "李四、王五" in page
    with transaction(factory) as s:
        hazard = s.scalars(select(Hazard).where(Hazard.inspection_id == inspection_id)).one()
        hazard_id = hazard.id
        assert (hazard.source, hazard.level, hazard.penalty) == ("enforcement", "major", "double_penalty")
    assert f'href="/hazards/{hazard_id}"' in page

    path = f"/inspections/{inspection_id}"
    before = _counts(factory)
    refused = client.post(f"{path}/penalties", data={**PENALTY, "unit_amount": "", "csrf_token": csrf(client, path)})
    assert refused.status_code == 422 and "罚款须填写金额" in refused.get_data(as_text=True)
    assert _counts(factory) == before
    done = client.post(f"{path}/penalties", data={**PENALTY, "hazard_id": hazard_id, "csrf_token": csrf(client, path)})
    assert done.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert page.count("data-penalty=") == 2 and "一案双罚" in page and "张三" in page
    hazard_page = client.get(f"/hazards/{hazard_id}").get_data(as_text=True)
    assert 'id="penalties"' in hazard_page and "30000.00" in hazard_page and "5000.00" in hazard_page

    issue = f"/documents/rectification_order/{inspection_id}/issue"  # the order to rectify, from the inspection page
    assert f'action="{issue}"' in page
    assert client.post(issue, data={"csrf_token": csrf(client, path)}).status_code == 302
    issued = client.get(path).get_data(as_text=True)
    assert f'href="/documents/rectification_order/{inspection_id}.pdf"' in issued and "责改〔2026〕1号" in issued


def test_another_team_of_the_same_department_is_refused_with_a_clear_message(app, factory, zone):
    """Plan 三(三): one liaison team per department, enterprise and year."""
    client, _ = _record(app, factory, zone)
    before = _counts(factory)
    form_path = f"/inspections/new?enterprise_id={zone.enterprise_id}"
    refused = client.post("/inspections/new", data={**FORM, "team": "应急二组", "enterprise_id": zone.enterprise_id,
                                                    "csrf_token": csrf(client, form_path)})
    assert refused.status_code == 422 and "应急一组" in refused.get_data(as_text=True)
    assert _counts(factory) == before


def test_an_incomplete_hazard_row_refuses_the_whole_inspection(app, factory, zone):
    """One transaction: a hazard found without its location records neither the hazard nor the inspection."""
    client = _client(app, "dept")
    form_path = f"/inspections/new?enterprise_id={zone.enterprise_id}"
    before = _counts(factory)
    refused = client.post("/inspections/new", data={**FORM, "hazard-1-location": "",
                                                    "enterprise_id": zone.enterprise_id,
                                                    "csrf_token": csrf(client, form_path)})
    assert refused.status_code == 422 and "隐患部位为必填项" in refused.get_data(as_text=True)
    assert _counts(factory) == before
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(LiaisonAssignment)) == 0  # no team assigned either


def test_each_role_sees_only_the_inspections_it_may(app, factory, zone):
    """A department its own, the office and the town all of their scope, an enterprise only its own; nobody but a
    department opens the form, and no one but the inspecting department sees the penalty form."""
    _, inspection_id = _record(app, factory, zone)
    for username in ("office", "town", "boss"):
        client = _client(app, username)
        assert f"/inspections/{inspection_id}" in client.get("/inspections").get_data(as_text=True)
        page = client.get(f"/inspections/{inspection_id}")
        assert page.status_code == 200 and 'id="penalty-form"' not in page.get_data(as_text=True)
        assert client.get("/inspections/new").status_code == 403
    for username in ("outsider", "dept2"):
        client = _client(app, username)
        assert f"/inspections/{inspection_id}" not in client.get("/inspections").get_data(as_text=True)
        assert client.get(f"/inspections/{inspection_id}").status_code == 404
    stranger = _client(app, "dept2")  # D2 does not supervise E1: not offered, and refused if posted anyway
    assert f"enterprise_id={zone.enterprise_id}" not in stranger.get("/inspections/new").get_data(as_text=True)
    before = _counts(factory)
    response = stranger.post("/inspections/new", data={**FORM, "enterprise_id": zone.enterprise_id,
                                                       "csrf_token": csrf(stranger, "/inspections/new")})
    assert response.status_code == 403 and _counts(factory) == before


def test_a_department_draws_its_yearly_plan_and_the_office_reads_it(app, factory, zone):
    """Plan 三(三) 双随机一公开: the draw and its seed are shown, with whether redrawing gives the same."""
    client = _client(app, "dept")
    drawn = client.post("/inspection-plans", data={"year": "2026", "size": "5", "per_enterprise": "1", "seed": "42",
                                                   "csrf_token": csrf(client, "/inspection-plans")})
    assert drawn.status_code == 302
    page = client.get(drawn.headers["Location"]).get_data(as_text=True)
    assert "随机种子 42" in page and 'id="reproducible">可复现' in page and "E1单位" in page and "未检查" in page
    again = client.post("/inspection-plans", data={"year": "2026", "size": "1", "per_enterprise": "1",
                                                   "csrf_token": csrf(client, "/inspection-plans")})
    assert again.status_code == 422 and "已抽取" in again.get_data(as_text=True)
    assert "E1单位" in _client(app, "office").get(drawn.headers["Location"]).get_data(as_text=True)
    assert _client(app, "town").get(drawn.headers["Location"]).status_code == 403
    assert _client(app, "dept2").get(drawn.headers["Location"]).status_code == 404


def _token(factory, user) -> dict[str, str]:
    with transaction(factory) as s:
        plain, _ = create_token(s, user, "执法系统", ["read", "write"], 30, T0)
    return {"Authorization": f"Bearer {plain}"}


def test_the_api_records_an_inspection_and_a_double_penalty_idempotently(app, factory, zone):
    """The same calls as the web: one Idempotency-Key records once; 一案双罚 returns two linked records."""
    client, headers = app.test_client(), {**_token(factory, zone.department), "Idempotency-Key": "insp-1"}
    body = {"enterprise_id": zone.enterprise_id, "team": "应急一组", "inspected_on": ON, "findings": "检查储罐区",
            "found": [{**REPORT, "found_on": ON}]}
    first = client.post("/api/v1/inspections", json=body, headers=headers)
    assert first.status_code == 201, first.get_data(as_text=True)
    replay = client.post("/api/v1/inspections", json=body, headers=headers)
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    inspection_id, [hazard_id] = first.json["id"], first.json["found"]
    assert first.json["double_penalty"] == [hazard_id]
    listed = client.get("/api/v1/inspections", headers=headers).json
    assert [(i["id"], i["hazards"]) for i in listed] == [(inspection_id, 1)]

    decision = {"case_number": "应急罚〔2026〕8号", "legal_basis": "《安全生产法》第一百零一条",
                "decided_by": "应急管理分局", "decided_on": ON, "hazard_id": hazard_id,
                "unit": {"kind": "fine", "amount": "20000"}, "principal": {"kind": "fine", "amount": "4000.50"},
                "principal_name": "张三"}
    recorded = client.post(f"/api/v1/inspections/{inspection_id}/penalties", json=decision,
                           headers=_token(factory, zone.department))
    assert recorded.status_code == 201, recorded.get_data(as_text=True)
    unit, principal = recorded.json["items"]
    assert (unit["linked_penalty_id"], principal["linked_penalty_id"]) == (principal["id"], unit["id"])
    assert (unit["amount"], principal["amount"]) == ("20000.00", "4000.50")
    detail = client.get(f"/api/v1/inspections/{inspection_id}", headers=_token(factory, zone.principal)).json
    assert [p["target"] for p in detail["penalties"]] == ["unit", "principal"] and detail["found"][0]["id"] == hazard_id


def test_the_api_refuses_what_the_web_refuses_as_problem_details(app, factory, zone):
    """An enterprise cannot record an inspection (403); a fine without an amount is refused (nothing written);
    a town cannot read plans."""
    client = app.test_client()
    body = {"enterprise_id": zone.enterprise_id, "team": "组", "inspected_on": ON, "findings": "检查"}
    before = _counts(factory)
    refused = client.post("/api/v1/inspections", json=body, headers=_token(factory, zone.principal))
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert _counts(factory) == before
    inspection_id = client.post("/api/v1/inspections", json=body, headers=_token(factory, zone.department)).json["id"]
    before = _counts(factory)
    invalid = client.post(f"/api/v1/inspections/{inspection_id}/penalties", headers=_token(factory, zone.department),
                          json={"case_number": "1", "legal_basis": "x", "decided_by": "y", "decided_on": ON,
                                "unit": {"kind": "fine"}})
    assert invalid.status_code == 400 and re.search("金额", invalid.json["detail"])
    assert _counts(factory) == before
    plans = client.get("/api/v1/inspection-plans", headers=_token(factory, zone.town))
    assert plans.status_code == 403 and plans.mimetype == "application/problem+json"
