"""The roster (组织名册): import checked whole and previewed, re-import by credit code, export round trip,
the office's page (upload → preview → confirm), and hostile cells kept inert."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import T0, Zone
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.reports.csv_file import csv_bytes
from workflow_app.reports.xlsx import workbook_bytes
from workflow_app.services import audit, roster
from workflow_app.services.credit_code import check_character
from workflow_app.services.errors import ConflictError, InvalidInputError, PermissionDeniedError
from workflow_app.services.roster_format import ENTERPRISES, SECTORS
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

HOSTILE = "=cmd|' /C calc'!A0"


def code(n: int) -> str:
    body = f"91990100MA{n:07d}"
    return body + check_character(body)


def enterprise(n: int, **cells: str) -> list[str]:
    row = {"统一社会信用代码": code(n), "企业名称": f"测试{n}有限公司", "镇街": "T1", "行业领域": "industry"} | cells
    return [row.get(column, "") for column in ENTERPRISES.columns]


def files() -> list[tuple[str, bytes]]:
    """A new town and department, a new sector, and two enterprises (one in two sectors with another department)."""
    return [("towns.csv", csv_bytes([["镇街编号", "镇街名称"], ["T9", "北湖街道"]])),
            ("departments.csv", csv_bytes([["部门编号", "部门名称"], ["D9", "开发区市场监管分局"]])),
            ("sectors.csv", csv_bytes([list(SECTORS.columns), ["gas", "燃气", "是", "开发区市场监管分局"]])),
            ("enterprises.csv", csv_bytes([list(ENTERPRISES.columns),
                                           enterprise(1, 编号="E101", 镇街="北湖街道", 行业领域="gas、industry",
                                                      其他监管部门="D2", 风险等级="红", 经度="120.5", 纬度="30.25"),
                                           enterprise(2, 行业领域="工贸")]))]


def imported(factory: sessionmaker[Session], zone: Zone, given: list[tuple[str, bytes]]) -> roster.Preview:
    with transaction(factory) as s:
        return roster.import_roster(s, s.get(User, zone.office.id), given, T0)


def test_an_import_creates_units_sectors_and_enterprises_with_supervisions_colours_and_audit(factory, zone: Zone):
    shown = imported(factory, zone, files())
    assert (shown.count(True), shown.count(False)) == (5, 0)
    with transaction(factory) as s:
        first = s.scalar(select(Organisation).where(Organisation.code == "E101"))
        assert first is not None and first.credit_code == code(1) and first.sector_code == "gas"
        town = s.get(Organisation, first.town_id)
        assert town is not None and town.name == "北湖街道" and first.name_initials == "cs1yxgs"
        assert s.get(Sector, "gas").high_risk  # type: ignore[union-attr]
        assert sorted(s.scalars(select(EnterpriseSector.sector_code).where(
            EnterpriseSector.enterprise_id == first.id))) == ["gas", "industry"]
        led = {(s.get(Organisation, v.department_id).code, v.is_lead)  # type: ignore[union-attr]
               for v in s.scalars(select(Supervision).where(Supervision.enterprise_id == first.id))}
        assert led == {("D9", True), ("D2", False)}
        second = s.scalar(select(Organisation).where(Organisation.credit_code == code(2)))
        assert second is not None and second.code == code(2)  # 编号 defaults to the credit code
        assert s.scalar(select(Supervision.department_id).where(Supervision.enterprise_id == second.id)) == \
            s.get(Sector, "industry").department_id  # type: ignore[union-attr]
        colours = s.scalars(select(RiskColourChange).where(RiskColourChange.enterprise_id == first.id)).all()
        assert [(c.colour, c.set_by_id) for c in colours] == [("red", zone.office.id)]
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions.count("add_organisation") == 4 and actions.count("add_sector") == 1
        assert actions[-1] == "import_roster" and audit.verify_chain(s) == []


def test_a_roster_with_problems_names_each_one_and_writes_nothing(factory, zone: Zone) -> None:
    bad = csv_bytes([list(ENTERPRISES.columns),
                     enterprise(1, 统一社会信用代码="91990100MA0000001X"),
                     enterprise(2, 镇街="月球镇", 行业领域="industry、mining"),
                     enterprise(3, 编号="T1"), enterprise(4), enterprise(4, 风险等级="紫", 经度="200", 高危企业="也许"),
                     enterprise(5, 企业名称="")])
    with transaction(factory) as s:
        shown = roster.preview(s, s.get(User, zone.office.id), [("enterprises.csv", bad)])
    found = {(p.row, p.column) for p in shown.problems}
    assert found == {(2, "统一社会信用代码"), (3, "镇街"), (3, "行业领域"), (4, "编号"), (6, "统一社会信用代码"),
                     (6, "风险等级"), (6, "经度"), (6, "高危企业"), (7, "企业名称")}
    assert any("校验位" in str(p) and "第 2 行" in str(p) for p in shown.problems)
    with transaction(factory) as s, pytest.raises(InvalidInputError, match="月球镇"):
        roster.import_roster(s, s.get(User, zone.office.id), [("enterprises.csv", bad)], T0)
    with transaction(factory) as s:
        assert s.scalar(select(Organisation).where(Organisation.credit_code.is_not(None))) is None
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "import_roster")) is None


def test_unknown_and_missing_headers_are_named(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        shown = roster.preview(s, s.get(User, zone.office.id), [
            ("e.csv", csv_bytes([["统一社会信用代码", "企业名称", "镇街", "备注"], [code(1), "x", "T1", ""]]))])
    assert {(p.column, p.message[:4]) for p in shown.problems} == {("备注", "未知的列"), ("行业领域", "缺少此列")}


def test_a_reimport_previews_before_and_after_and_applies_exactly_that(factory, zone: Zone) -> None:
    adopted = csv_bytes([list(ENTERPRISES.columns), enterprise(3, 编号="E1"),
                         enterprise(4, 编号="E2", 行业领域="transport")])
    shown = imported(factory, zone, [*files(), ("legacy.csv", adopted)])
    assert shown.count(False) == 2  # E1 and E2 had no credit code: found by 编号, given one
    with transaction(factory) as s:
        sheets = roster.export_sheets(s, s.get(User, zone.office.id))
        assert s.scalar(select(Organisation.credit_code).where(Organisation.id == zone.enterprise_id)) == code(3)
    book = workbook_bytes(sheets)
    with transaction(factory) as s:
        same = roster.preview(s, s.get(User, zone.office.id), [("roster.xlsx", book)])
    assert same.problems == [] and same.changes == [] and same.unchanged == 12  # export → import is a no-op
    changed = csv_bytes([list(ENTERPRISES.columns), enterprise(1, 编号="E101", 镇街="T9", 行业领域="gas",
                                                              风险等级="蓝", 状态="停业关闭")])
    with transaction(factory) as s:
        shown = roster.preview(s, s.get(User, zone.office.id), [("e.csv", changed)])
    assert [(c.key, c.new) for c in shown.changes] == [(code(1), False)]
    assert dict((f, (b, a)) for f, b, a in shown.changes[0].fields) == {
        "行业领域": ("gas、industry", "gas"), "其他监管部门": ("D2", ""), "风险等级": ("红", "蓝"),
        "状态": ("在营", "停业关闭"), "经度": ("120.500000", ""), "纬度": ("30.250000", "")}
    imported(factory, zone, [("e.csv", changed)])
    with transaction(factory) as s:
        first = s.scalar(select(Organisation).where(Organisation.code == "E101"))
        assert first is not None and (first.status, first.risk_colour, first.version) == ("closed", "blue", 2)
        assert first.longitude is None and first.name == "测试1有限公司"
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update_organisation",
                                                   AuditEntry.object_id == str(first.id))).one()
        assert entry.detail["before"]["风险等级"] == "红" and entry.detail["after"]["状态"] == "停业关闭"
        assert len(s.scalars(select(RiskColourChange).where(RiskColourChange.enterprise_id == first.id)).all()) == 2


def test_an_import_is_refused_when_what_it_would_apply_differs_from_the_preview(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        shown = roster.preview(s, s.get(User, zone.office.id), files())
    with transaction(factory) as s:
        s.add(Organisation(code="T9", name="抢先街道", kind="town"))
    with transaction(factory) as s, pytest.raises(ConflictError):
        roster.import_roster(s, s.get(User, zone.office.id), files(), T0, shown.digest)


def test_only_the_office_imports_and_exports(factory, zone: Zone) -> None:
    with transaction(factory) as s, pytest.raises(PermissionDeniedError):
        roster.preview(s, s.get(User, zone.department.id), files())
    with transaction(factory) as s, pytest.raises(PermissionDeniedError):
        roster.export_sheets(s, s.get(User, zone.principal.id))


# --- the page ---------------------------------------------------------------------------------------------------

@pytest.fixture
def app(factory: sessionmaker[Session], tmp_path: Path) -> Flask:
    return make_app(factory, tmp_path, T0)


def _upload(client: FlaskClient, name: str, content: bytes):  # type: ignore[no-untyped-def]
    return client.post("/organisations/roster", content_type="multipart/form-data",
                       data={"csrf_token": csrf(client, "/password"), "roster": (io.BytesIO(content), name)})


def _confirm(client: FlaskClient, page: str):  # type: ignore[no-untyped-def]
    import re
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    digest = re.search(r'name="digest" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client.post("/organisations/roster/apply", data={"csrf_token": csrf(client, "/password"),
                                                            "token": token, "digest": digest})


def test_the_office_uploads_previews_and_confirms_on_the_page(app: Flask, factory, zone: Zone) -> None:
    client = app.test_client()
    sign_in(client, "office")
    hostile = csv_bytes([list(ENTERPRISES.columns), enterprise(1, 企业名称=HOSTILE),
                         enterprise(2, 企业名称="<script>alert(1)</script>"), enterprise(3, 编号="E1"),
                         enterprise(4, 编号="E2", 行业领域="transport")])
    preview = _upload(client, "enterprises.csv", hostile)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "&lt;script&gt;alert(1)" in page and "<script>alert" not in page
    with transaction(factory) as s:
        assert s.scalar(select(Organisation).where(Organisation.credit_code == code(1))) is None  # preview only
    assert _confirm(client, page).status_code == 302
    with transaction(factory) as s:
        assert s.scalar(select(Organisation.name).where(Organisation.credit_code == code(1))) == HOSTILE
    exported = client.get("/organisations/roster/export.csv").get_data().decode("utf-8-sig")
    assert "'" + HOSTILE in exported.replace('"', "").replace("''", "'")
    again = _upload(client, "roster.csv", client.get("/organisations/roster/export.csv").get_data())
    assert 'id="no-changes"' in again.get_data(as_text=True)  # export → re-import: 0 changes
    assert client.get("/organisations/roster/template.xlsx").status_code == 200


def test_a_stale_preview_is_refused_and_shown_again(app: Flask, factory, zone: Zone) -> None:
    client = app.test_client()
    sign_in(client, "office")
    page = _upload(client, "enterprises.csv", csv_bytes([list(ENTERPRISES.columns), enterprise(1)]))
    imported(factory, zone, [("e.csv", csv_bytes([list(ENTERPRISES.columns), enterprise(1, 地址="先到")]))])
    refused = _confirm(client, page.get_data(as_text=True))
    assert refused.status_code == 409 and "重新预览" in refused.get_data(as_text=True)
    with transaction(factory) as s:
        assert s.scalar(select(Organisation.address).where(Organisation.credit_code == code(1))) == "先到"


@pytest.mark.parametrize("username", ["dept", "boss"])
def test_others_than_the_office_are_refused(app: Flask, zone: Zone, username: str) -> None:
    client = app.test_client()
    sign_in(client, username)
    assert client.get("/organisations/roster").status_code == 403
    assert _upload(client, "e.csv", csv_bytes([list(ENTERPRISES.columns), enterprise(1)])).status_code == 403
    assert client.get("/organisations/roster/export.xlsx").status_code == 403
