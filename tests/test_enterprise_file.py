"""一企一档: the list of enterprises (search, filters, counts), one enterprise's file as each role may see
it, and its edits (contacts by the enterprise, the rest by the office or the lead department), each
checked, audited before/after, refused on a stale version and changing nothing when refused."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from helpers import REPORT, complete, report
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.services import enforcement
from workflow_app.services.credit_code import check_character
from workflow_app.services.enterprise_file import EnterpriseQuery, list_enterprises
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    AuditEntry,
    EnterpriseSector,
    Organisation,
    RiskColourChange,
    Sector,
    Supervision,
    User,
)


def _code(first_seventeen: str) -> str:
    return first_seventeen + check_character(first_seventeen)


CODE_E1 = _code("91320500MA1XYW123")
CODE_E2 = _code("91320500MA1XYW456")
ROW = re.compile(r'<tr data-id="(\d+)"')
ACCEPT = {"triage_decision": "accept", "hazard_level": "general", "triage_opinion": "属实"}


@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ids(factory: sessionmaker[Session], zone: Zone) -> dict[str, int]:
    """Three enterprises told apart by every filter.

    E1 瑞丰化工 (town T1, industry + gas, led by D1 and also supervised by D2, red, 重大危险源),
    E2 安达运输 (town T1, transport — a high-risk sector —, led by D2, blue),
    E3 宏达机械 (town T2, industry, led by D1, flagged high-risk, not graded, closed).
    """
    with transaction(factory) as s:
        d1, d2 = (s.get(User, u.id).organisation_id for u in (zone.department, zone.other_department))  # type: ignore[union-attr]
        s.get(Sector, "transport").high_risk = True  # type: ignore[union-attr]
        s.add(Sector(code="gas", name="燃气", department_id=d2))
        town2 = Organisation(code="T2", name="T2镇", kind="town")
        s.add(town2)
        s.flush()
        e1, e2 = s.get(Organisation, zone.enterprise_id), s.get(Organisation, zone.other_enterprise_id)
        assert e1 is not None and e2 is not None
        e1.name, e1.credit_code, e1.risk_colour, e1.major_hazard_source = "瑞丰化工有限公司", CODE_E1, "red", True
        e2.name, e2.credit_code, e2.risk_colour = "安达运输有限公司", CODE_E2, "blue"
        e3 = Organisation(code="E3", name="宏达机械厂", kind="enterprise", sector_code="industry", town_id=town2.id,
                          high_risk=True, status="closed")
        s.add(e3)
        s.flush()
        s.add_all([EnterpriseSector(enterprise_id=e1.id, sector_code="gas"),
                   Supervision(enterprise_id=e1.id, department_id=d2, is_lead=False),
                   EnterpriseSector(enterprise_id=e3.id, sector_code="industry"),
                   Supervision(enterprise_id=e3.id, department_id=d1, is_lead=True)])
        return {"E1": e1.id, "E2": e2.id, "E3": e3.id, "T1": e1.town_id or 0, "T2": town2.id, "D1": d1, "D2": d2}


def _listed(client: FlaskClient, query: str = "") -> set[int]:
    page = client.get(f"/enterprises?{query}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return {int(i) for i in ROW.findall(page.get_data(as_text=True))}


def _org(factory: sessionmaker[Session], enterprise_id: int) -> Organisation:
    with transaction(factory) as s:
        found = s.get(Organisation, enterprise_id)
        assert found is not None
        return found


def _audits(factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with transaction(factory) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _contacts(client: FlaskClient, enterprise_id: int, version: int, **typed: str):  # type: ignore[no-untyped-def]
    data = {"principal_name": "", "principal_phone": "", "safety_officer_name": "", "safety_officer_phone": "",
            **typed, "version": str(version), "csrf_token": csrf(client, "/password")}
    return client.post(f"/enterprises/{enterprise_id}/contacts", data=data)


def _profile_form(factory: sessionmaker[Session], enterprise_id: int, ids: dict[str, int]) -> dict[str, object]:
    """E1's profile as the edit form would post it unchanged."""
    e = _org(factory, enterprise_id)
    return {"name": e.name, "credit_code": e.credit_code or "", "address": "", "town_id": str(e.town_id),
            "sector_codes": ["industry", "gas"], "main_sector": "industry",
            "department_ids": [str(ids["D1"]), str(ids["D2"])], "lead_department_id": str(ids["D1"]),
            "major_hazard_source": "1", "risk_colour": e.risk_colour or "", "colour_reason": "",
            "latitude": "", "longitude": "", "status": "active", "merged_into": "", "version": str(e.version)}


def _profile(client: FlaskClient, enterprise_id: int, form: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(f"/enterprises/{enterprise_id}/profile",
                       data={**form, "csrf_token": csrf(client, "/password")})


# --- the list ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["瑞丰", "rfhg", "RFHGYX", CODE_E1.lower(), f" {CODE_E1[:6]} {CODE_E1[6:]} "])
def test_the_list_finds_an_enterprise_by_name_credit_code_or_pinyin_initials(client, zone: Zone, ids, typed) -> None:
    sign_in(client, "office")
    assert _listed(client, f"q={typed}") == {ids["E1"]}


def test_a_search_with_like_wildcards_matches_them_literally(client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    assert _listed(client, "q=%25") == set() and _listed(client, "q=_") == set()


@pytest.mark.parametrize(("query", "expected"), [
    ("town={T2}", {"E3"}),
    ("sector=gas", {"E1"}),  # a sector beside the main one
    ("department={D2}", {"E1", "E2"}),  # supervising, lead or not
    ("colour=red", {"E1"}),
    ("colour=none", {"E3"}),
    ("high_risk=1", {"E2", "E3"}),  # E2 by its sector, E3 by its flag
    ("high_risk=0", {"E1"}),
    ("major=1", {"E1"}),
    ("status=closed", {"E3"}),
    ("status=active&town={T1}&colour=blue", {"E2"}),
])
def test_each_filter_of_the_list(client, zone: Zone, ids, query: str, expected: set[str]) -> None:
    sign_in(client, "office")
    assert _listed(client, query.format(**ids)) == {ids[name] for name in expected}


def test_the_counts_cover_the_matching_set_per_colour(factory, zone: Zone, ids) -> None:
    with transaction(factory) as s:
        office = s.get(User, zone.office.id)
        everything = list_enterprises(s, office, EnterpriseQuery())  # type: ignore[arg-type]
        reds = list_enterprises(s, office, EnterpriseQuery(colour="red"))  # type: ignore[arg-type]
        in_t1 = list_enterprises(s, office, EnterpriseQuery(town_id=ids["T1"]))  # type: ignore[arg-type]
    assert everything.total == 3 and everything.colour_counts == {"red": 1, "blue": 1, "none": 1}
    assert reds.total == 1 and [r.enterprise.id for r in reds.rows] == [ids["E1"]]
    assert reds.colour_counts == everything.colour_counts  # the colour filter is left out of the per-colour counts
    assert in_t1.total == 2 and in_t1.colour_counts == {"red": 1, "blue": 1}


def test_the_list_page_shows_the_counts(client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    text = client.get(f"/enterprises?town={ids['T1']}").get_data(as_text=True)
    assert "共 2 家" in text
    assert re.search(r'data-colour="red"><span[^>]*>[^<]*</span> 1</a>', text)
    client.post("/lang/en", data={"csrf_token": csrf(client, "/password")})
    text = client.get(f"/enterprises?town={ids['T1']}").get_data(as_text=True)
    assert "2 enterprises" in text and "Major risk (red)" in text


def test_the_list_is_paged_fifty_at_a_time(factory, client, zone: Zone, ids) -> None:
    with transaction(factory) as s:
        s.add_all(Organisation(code=f"X{n:03}", name=f"批量企业{n:03}", kind="enterprise", town_id=ids["T2"])
                  for n in range(60))
    sign_in(client, "office")
    assert len(_listed(client, "q=plqy")) == 50
    assert len(_listed(client, "q=plqy&page=2")) == 10


# --- who sees which file ----------------------------------------------------------------------------------------

def test_each_role_sees_only_the_enterprises_it_may_and_the_rest_are_not_found(client, zone: Zone, ids) -> None:
    sign_in(client, "town")
    assert _listed(client) == {ids["E1"], ids["E2"]}
    assert client.get(f"/enterprises/{ids['E3']}").status_code == 404
    assert client.get(f"/enterprises/{ids['T1']}").status_code == 404  # a town is no enterprise
    client.post("/logout", data={"csrf_token": csrf(client, "/password")})
    sign_in(client, "dept")  # D1 supervises E1 and E3, not E2
    assert _listed(client) == {ids["E1"], ids["E3"]}
    assert client.get(f"/enterprises/{ids['E2']}").status_code == 404
    assert client.get(f"/enterprises/{ids['E1']}").status_code == 200


def test_an_enterprise_is_led_to_its_own_file_and_never_finds_another(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "safety")
    listed = client.get("/enterprises")
    assert listed.status_code == 302 and listed.headers["Location"].endswith(f"/enterprises/{ids['E1']}")
    assert client.get(f"/enterprises/{ids['E1']}").status_code == 200
    for other in (ids["E2"], ids["E3"], 999999):
        assert client.get(f"/enterprises/{other}").status_code == 404
        assert client.get(f"/enterprises/{other}/edit").status_code == 404
        assert _contacts(client, other, 1, principal_name="冒名").status_code == 404
    assert _org(factory, ids["E2"]).principal_name is None


def test_the_file_shows_the_record_and_an_enterprise_never_sees_a_public_report(factory, client, zone: Zone,
                                                                                  ids) -> None:
    own = report(factory, zone.principal, ids["E1"], T0, title="配电箱未接地")
    pending = report(factory, None, ids["E1"], T0, source="public_report", title="举报：夜间违规动火")
    accepted = report(factory, None, ids["E1"], T0, source="whistleblower", title="吹哨：安全阀被拆除")
    complete(factory, zone.office, accepted, ACCEPT, T0)
    with transaction(factory) as s:
        found = {k: v for k, v in REPORT.items() if k != "source"} | {"title": "消防通道堵塞"}
        enforcement.record_inspection(s, s.get(User, zone.department.id), ids["E1"], "第一包联组",  # type: ignore[arg-type]
                                      date(2026, 11, 1), "现场检查发现问题一项", [found], [], T0)

    sign_in(client, "office")
    text = client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)
    assert "第一包联组" in text and "消防通道堵塞" in text and "一案双罚" in text
    public = text.split('id="public-reports"')[1].split("</section>")[0]
    assert "吹哨：安全阀被拆除" in public and "举报：夜间违规动火" not in public  # confirmed only
    assert "共 4 项" in text

    client.post("/logout", data={"csrf_token": csrf(client, "/password")})
    sign_in(client, "boss")
    text = client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)
    assert 'id="public-reports"' not in text
    assert "配电箱未接地" in text and "吹哨：安全阀被拆除" in text  # the accepted report, as an inspection finding
    for hidden in ("举报：夜间违规动火", "群众举报", "内部吹哨人", "举报"):
        assert hidden not in text.split('id="hazards"')[1], hidden
    assert "共 3 项" in text  # the pending report is not counted either
    assert own and pending


# --- edits ------------------------------------------------------------------------------------------------------

def test_the_enterprise_edits_its_contacts_audited_but_not_the_rest(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "safety")  # not the principal: any account of the enterprise keeps its contacts
    saved = _contacts(client, ids["E1"], 1, principal_name="王主任", principal_phone="13800000001",
                      safety_officer_name="李安全", safety_officer_phone="0512-6666 8888")
    assert saved.status_code == 302
    e1 = _org(factory, ids["E1"])
    assert (e1.principal_name, e1.safety_officer_phone, e1.version) == ("王主任", "0512-6666 8888", 2)
    [entry] = _audits(factory, "edit_enterprise_contacts")
    assert entry.actor_id == zone.safety_officer.id and entry.object_id == str(ids["E1"])
    assert entry.detail["before"] == {"principal_name": None, "principal_phone": None, "safety_officer_name": None,
                                      "safety_officer_phone": None}
    assert entry.detail["after"]["principal_name"] == "王主任"
    assert "王主任" in client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)

    form = _profile_form(factory, ids["E1"], ids)
    refused = _profile(client, ids["E1"], {**form, "name": "改名", "risk_colour": "blue", "colour_reason": "自评"})
    assert refused.status_code == 403
    after = _org(factory, ids["E1"])
    assert (after.name, after.risk_colour, after.version) == ("瑞丰化工有限公司", "red", 2)
    assert 'id="profile-form"' not in client.get(f"/enterprises/{ids['E1']}/edit").get_data(as_text=True)


def test_a_town_reads_the_file_but_edits_nothing(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "town")
    assert client.get(f"/enterprises/{ids['E1']}/edit").status_code == 403
    assert _contacts(client, ids["E1"], 1, principal_name="某人").status_code == 403
    assert _org(factory, ids["E1"]).principal_name is None


def test_the_office_changes_the_colour_with_a_reason_kept_in_the_history(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    form = _profile_form(factory, ids["E1"], ids)
    no_reason = _profile(client, ids["E1"], {**form, "risk_colour": "orange"})
    assert no_reason.status_code == 422 and "调整风险等级须填写理由" in no_reason.get_data(as_text=True)
    assert _org(factory, ids["E1"]).risk_colour == "red"

    saved = _profile(client, ids["E1"], {**form, "risk_colour": "orange", "colour_reason": "整改完成，复评降级"})
    assert saved.status_code == 302
    with transaction(factory) as s:
        [change] = s.scalars(select(RiskColourChange).where(RiskColourChange.enterprise_id == ids["E1"])).all()
        assert (change.colour, change.reason, change.set_by_id) == ("orange", "整改完成，复评降级", zone.office.id)
    [entry] = _audits(factory, "edit_enterprise_profile")
    assert entry.detail == {"before": {"risk_colour": "red"}, "after": {"risk_colour": "orange"},
                            "reason": "整改完成，复评降级"}
    text = client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)
    assert "整改完成，复评降级" in text.split('id="colour-history"')[1]


def test_the_lead_department_changes_sectors_and_hands_the_lead_on(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "dept")  # D1 leads E1
    form = {**_profile_form(factory, ids["E1"], ids), "sector_codes": ["industry"],
            "lead_department_id": str(ids["D2"]), "latitude": "31.3", "longitude": "120.6"}
    assert _profile(client, ids["E1"], form).status_code == 302
    with transaction(factory) as s:
        e1 = s.get(Organisation, ids["E1"])
        assert e1 is not None and f"{e1.latitude:.6f}" == "31.300000"
        assert s.scalars(select(EnterpriseSector.sector_code).where(EnterpriseSector.enterprise_id == e1.id)).all() \
            == ["industry"]
        assert s.scalar(select(Supervision.department_id).where(Supervision.enterprise_id == e1.id,
                                                                Supervision.is_lead.is_(True))) == ids["D2"]
    [entry] = _audits(factory, "edit_enterprise_profile")
    assert entry.detail["before"]["lead_department_id"] == ids["D1"]
    assert entry.detail["after"] == {"lead_department_id": ids["D2"], "latitude": "31.300000",
                                     "longitude": "120.600000", "sectors": ["industry"]}
    # still supervising, no longer the lead: D1 reads the file and may not edit the profile any more
    assert client.get(f"/enterprises/{ids['E1']}").status_code == 200
    again = _profile(client, ids["E1"], {**form, "version": str(_org(factory, ids["E1"]).version)})
    assert again.status_code == 403


def test_a_stale_version_is_refused_and_changes_nothing(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    read_at = _profile_form(factory, ids["E1"], ids)
    assert _contacts(client, ids["E1"], 1, principal_name="先改的人").status_code == 302  # someone else first
    late = _profile(client, ids["E1"], {**read_at, "name": "后改的名字"})
    assert late.status_code == 409 and "已被他人修改" in late.get_data(as_text=True)
    e1 = _org(factory, ids["E1"])
    assert (e1.name, e1.principal_name, e1.version) == ("瑞丰化工有限公司", "先改的人", 2)
    assert _contacts(client, ids["E1"], 1, principal_name="又一人").status_code == 409
    assert len(_audits(factory, "edit_enterprise_profile") + _audits(factory, "edit_enterprise_contacts")) == 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"credit_code": CODE_E1[:17] + ("0" if CODE_E1[17] != "0" else "1")}, "credit_code", "校验位不符"),
    ({"credit_code": "91320500MA1XYO12"}, "credit_code", "应为 18 位"),
    ({"credit_code": CODE_E2}, "credit_code", "已被其他单位使用"),
    ({"sector_codes": []}, "sector_codes", "请至少选择一个行业"),
    ({"main_sector": "transport"}, "main_sector", "主行业须是所选行业之一"),
    ({"department_ids": ["{D2}"]}, "lead_department_id", "牵头监管部门须是所选监管部门之一"),
    ({"latitude": "91", "longitude": "120"}, "latitude", "纬度应为 -90 到 90 之间的数"),
    ({"latitude": "31", "longitude": "abc"}, "longitude", "经度应为 -180 到 180 之间的数"),
    ({"latitude": "31"}, "longitude", "经纬度须同时填写或同时留空"),
    ({"name": " "}, "name", "请填写企业名称"),
    ({"town_id": "{D1}"}, "town_id", "请选择所属镇街"),
    ({"status": "merged"}, "merged_into", "并入企业"),
])
def test_a_wrong_field_is_named_and_nothing_is_stored(factory, client, zone: Zone, ids, changes, field,
                                                      message) -> None:
    sign_in(client, "office")
    filled = {k: [x.format(**ids) for x in v] if isinstance(v, list) else v.format(**ids) for k, v in changes.items()}
    refused = _profile(client, ids["E1"], {**_profile_form(factory, ids["E1"], ids), "address": "新地址", **filled})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(rf'id="error-{field}">[^<]*{re.escape(message)}', text), text
    e1 = _org(factory, ids["E1"])
    assert (e1.address, e1.version, e1.credit_code) == (None, 1, CODE_E1)
    assert _audits(factory, "edit_enterprise_profile") == []


def test_a_bad_phone_is_named_and_nothing_is_stored(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "boss")
    refused = _contacts(client, ids["E1"], 1, principal_name="王主任", principal_phone="call me")
    assert refused.status_code == 422
    assert re.search(r'id="error-principal_phone">主要负责人电话号码格式不正确', refused.get_data(as_text=True))
    assert 'value="call me"' in refused.get_data(as_text=True)  # what was typed stays in the form
    assert _org(factory, ids["E1"]).principal_name is None


def test_a_credit_code_is_stored_normalised_and_a_merge_names_its_target(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    form = _profile_form(factory, ids["E1"], ids)
    typed = "９１" + CODE_E1[2:].lower()  # full-width digits, lower case
    assert _profile(client, ids["E1"], {**form, "credit_code": typed, "status": "merged",
                                        "merged_into": CODE_E2}).status_code == 302
    e1 = _org(factory, ids["E1"])
    assert (e1.credit_code, e1.status, e1.merged_into_id) == (CODE_E1, "merged", ids["E2"])
    assert "安达运输有限公司" in client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)


def test_a_hostile_name_is_shown_as_text(factory, client, zone: Zone, ids) -> None:
    sign_in(client, "office")
    hostile = "<script>alert(1)</script>"
    assert _profile(client, ids["E1"], {**_profile_form(factory, ids["E1"], ids), "name": hostile}).status_code == 302
    hid = report(factory, zone.principal, ids["E1"], T0)
    for path in ("/enterprises", f"/enterprises/{ids['E1']}", f"/enterprises/{ids['E1']}/edit", f"/hazards/{hid}"):
        text = client.get(path).get_data(as_text=True)
        assert hostile not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path


def test_the_hazard_page_links_to_the_enterprise_file(factory, client, zone: Zone, ids) -> None:
    hid = report(factory, zone.principal, ids["E1"], T0)
    sign_in(client, "boss")
    assert f'href="/enterprises/{ids["E1"]}" id="enterprise-link"' in client.get(f"/hazards/{hid}").get_data(
        as_text=True)
    assert "本企业档案" in client.get(f"/enterprises/{ids['E1']}").get_data(as_text=True)
