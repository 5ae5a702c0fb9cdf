"""Judgement standards (issue #10, first part): the library, import/export, judging a hazard against an item."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from conftest import T0, Zone
from helpers import PLAN, REPORT, complete, hazard, open_task, report, start_campaign_2026
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in

from workflow_app.engine import FormValidationError
from workflow_app.reports.csv_file import csv_bytes
from workflow_app.reports.dashboard import most_violated_items
from workflow_app.reports.exports import ExportRequest, export
from workflow_app.services import audit, hazards, ledger, standards
from workflow_app.services.errors import InvalidInputError, PermissionDeniedError
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, Standard, StandardItem

HEADER = ",".join(standards.COLUMNS)
GM_2027 = ("GM-2027,standard,工贸企业重大事故隐患判定标准（新版）,应急管理部,应急管理部令第99号,2027-01-01,industry,"
           "GM-2023,是")


def _import(factory: sessionmaker[Session], actor, text: str):
    rows = standards.read_table(text.encode("utf-8"), "list.csv")
    with transaction(factory) as s:
        return standards.import_rows(s, actor, rows, T0)


def _count(factory, model) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _judged(factory, hazard_id: int) -> list[int]:
    """The ids of the items a hazard is judged against now."""
    with transaction(factory) as s:
        return [i.id for i in s.get(Hazard, hazard_id).judged_items]


def _items(factory, sector: str, on=T0) -> dict[str, int]:
    with transaction(factory) as s:
        return {f"{i.standard.code} {i.number}": i.id for i in standards.applicable_items(s, sector, on.date())}


def test_the_shipped_standards_are_seeded_incomplete_and_the_office_completes_one(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        seeded = {st.code: st.complete for st in s.scalars(select(Standard))}
    assert seeded and not any(seeded.values()) and "GM-2023" in seeded
    result = _import(factory, zone.office, f"{HEADER}\n"
                     "GM-2023,standard,工贸企业重大事故隐患判定标准,应急管理部,应急管理部令第10号,2023-05-15,industry,,是,"
                     "第三条(二),管理类,未按照规定设置安全生产管理机构或者配备安全生产管理人员的；\n")
    assert (result.standards, result.items) == (["GM-2023"], 1)
    assert "GM-2023 第三条(二)" in _items(factory, "industry")
    with transaction(factory) as s:  # exported in the import format, and read back the same
        exported = csv_bytes(standards.export_rows(s))
    rows = standards.read_table(exported, "back.csv")
    assert len(rows) == _count(factory, StandardItem) and rows[0]["standard_code"]


def test_a_broken_list_names_every_wrong_row_and_imports_nothing(factory, zone: Zone) -> None:
    before = (_count(factory, Standard), _count(factory, StandardItem))
    with pytest.raises(InvalidInputError) as refused:
        _import(factory, zone.office, f"{HEADER}\n"
                "XX-1,standard,某标准,某机关,某号,2026-01-01,industry,,是,一,,第一条\n"
                "XX-1,standard,某标准,某机关,某号,2026-13-01,industry,,是,二,,第二条\n"
                "XX-1,standard,某标准,某机关,某号,2026-01-01,industry,,是,一,,重复条款号\n"
                "XX-2,standard,另一标准,某机关,某号,2026-01-01,Industry!,NOPE,是,一,,\n")
    message = str(refused.value)
    assert "第 3 行" in message and "第 4 行" in message and "第 5 行" in message and "第 2 行" not in message
    assert "NOPE" in message and "text 不能为空" in message
    assert (_count(factory, Standard), _count(factory, StandardItem)) == before
    with pytest.raises(InvalidInputError):
        standards.read_table(b"a,b\n1,2\n", "wrong.csv")
    with pytest.raises(PermissionDeniedError):
        _import(factory, zone.principal, f"{HEADER}\n")


def test_a_hazard_judged_against_an_item_is_major_and_keeps_it_after_a_new_edition(factory, zone: Zone) -> None:
    items = _items(factory, "industry")
    old_item = items["GM-2023 第十一条(三)"]
    assert not any(key.startswith("HG-") for key in _items(factory, "industry"))  # other sectors' lists not offered
    with pytest.raises(InvalidInputError), transaction(factory) as s:  # another sector's item is refused
        hazards.report_hazard(s, zone.principal, zone.enterprise_id, {**REPORT, "hazard_level": "general"}, T0,
                              judged_item_ids=[_items(factory, "transport")["JT-2023 第三条(二)"]])
    with transaction(factory) as s:
        hid = hazards.report_hazard(s, zone.principal, zone.enterprise_id, {**REPORT, "hazard_level": "general"},
                                    T0, judged_item_ids=[old_item]).hazard_id
    assert (hazard(factory, hid).level, _judged(factory, hid)) == ("major", [old_item])
    _import(factory, zone.office, f"{HEADER}\n{GM_2027},第十一条(三),粉尘爆炸,干式除尘系统未采取任何爆炸防控措施的；\n")
    later = T0.replace(year=2027)
    assert set(_items(factory, "industry", later)) == {"GM-2027 第十一条(三)"}  # the new edition replaces the old
    assert "GM-2023 第十一条(三)" in _items(factory, "industry")  # (not yet in force on T0)
    assert _judged(factory, hid) == [old_item]


def test_a_supervisor_rejudges_with_a_reason_audited_and_the_loop_follows(factory, zone: Zone) -> None:
    with transaction(factory) as s:
        hid = hazards.report_hazard(s, zone.principal, zone.enterprise_id, {**REPORT, "hazard_level": "general"},
                                    T0).hazard_id
    item = _items(factory, "industry")["GM-2023 第三条(一)"]
    for actor, error in ((zone.principal, PermissionDeniedError), (zone.department, InvalidInputError)):
        with pytest.raises(error), transaction(factory) as s:
            hazards.rejudge(s, actor, hid, "major", [item], "" if actor is zone.department else "x", T0)
    with transaction(factory) as s:
        hazards.rejudge(s, zone.department, hid, "major", [item], "对照第三条(一)判定为重大", T0 + timedelta(hours=1))
    assert (hazard(factory, hid).level, _judged(factory, hid)) == ("major", [item])
    with transaction(factory) as s:
        entry = next(e for e in audit.history(s, "hazard", hid) if e.action == "rejudge_hazard")
    assert entry.detail["from"] == {"level": "general", "items": []} and entry.actor_name == "dept姓名"
    assert entry.detail["to"] == {"level": "major", "items": [item]}
    # the running loop took the new level: a major hazard gets a plan the department reviews
    with pytest.raises(FormValidationError, match="重大事故隐患须制定治理方案"):
        complete(factory, zone.principal, hid, {"rectification_mode": "immediate"}, T0)
    assert open_task(factory, hid).bpmn_id == "Task_ChooseRectification"
    complete(factory, zone.principal, hid, {"rectification_mode": "planned"}, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    assert open_task(factory, hid).bpmn_id == "Task_ReviewPlan"


def test_through_the_web_pick_an_item_see_it_rejudge_and_import(factory, zone: Zone, tmp_path) -> None:
    app = make_app(factory, tmp_path, T0)
    boss, dept = app.test_client(), app.test_client()
    sign_in(boss, "boss")
    sign_in(dept, "dept")
    industry = _items(factory, "industry")
    item, dust = industry["GM-2023 第十一条(一)"], industry["GM-2023 第十一条(三)"]
    page = boss.get("/hazards/new").get_data(as_text=True)
    assert "第十一条(一)" in page and "交通运输部" not in page  # only its own sector's standard is offered
    form = {**REPORT, "hazard_level": "general", "enterprise_id": zone.enterprise_id, "judged_item_id": [item, dust],
            "csrf_token": csrf(boss, "/hazards/new")}
    shown = boss.post("/hazards/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "重大事故隐患" in shown and "粉尘爆炸危险场所设置在非框架结构" in shown and "干式除尘系统" in shown
    hid = int(re.search(r"/hazards/(\d+)/diagram", shown).group(1))
    assert _judged(factory, hid) == sorted([item, dust])  # both items kept
    assert len(re.findall(r'name="judged_item_id" value="\d+" checked', dept.get(f"/hazards/{hid}").get_data(
        as_text=True))) == 2  # the re-judge form starts from them
    assert dept.post(f"/hazards/{hid}/rejudge", data={"level": "general", "judged_item_id": "", "reason": "复核不符",
                                                     "csrf_token": csrf(dept, f"/hazards/{hid}")}).status_code == 302
    assert hazard(factory, hid).level == "general" and _judged(factory, hid) == []
    token = csrf(dept, "/standards")
    bad = dept.post("/standards", data={"list": (io.BytesIO(f"{HEADER}\nK-1,key_items,重点事项,开发区应急管理分局,"
                                                            f"D1-2026-1,2026-01-01,industry,,是,1,,\n".encode()),
                                                 "k.csv"), "csrf_token": token}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "第 2 行" in bad.get_data(as_text=True)
    exported = dept.get("/standards/export.xlsx")
    assert exported.status_code == 200 and len(standards.read_table(exported.data, "s.xlsx")) == _count(factory,
                                                                                                       StandardItem)


def test_the_ledger_table3_and_dashboard_follow_the_items_hazards_were_judged_against(factory, zone: Zone,
                                                                                   tmp_path) -> None:
    items = _items(factory, "industry")
    dust, storage = items["GM-2023 第十一条(三)"], items["GM-2023 第三条(一)"]
    judged: dict[int, list[int]] = {}
    for chosen, count in (([dust], 2), ([storage], 1), ([dust, storage], 1)):
        for n in range(count):
            with transaction(factory) as s:
                hid = hazards.report_hazard(s, zone.safety_officer, zone.enterprise_id,
                                            {**REPORT, "title": f"对标 {n}"}, T0, judged_item_ids=chosen).hazard_id
            for item in chosen:
                judged.setdefault(item, []).append(hid)
    unjudged = report(factory, zone.principal, zone.enterprise_id, T0)
    start_campaign_2026(factory)
    with transaction(factory) as s:
        gm = s.scalar(select(Standard.id).where(Standard.code == "GM-2023"))

        def listed(**wanted) -> set[int]:
            return {h.id for h in ledger.ledger_records(s, zone.office, ledger.LedgerQuery(**wanted), T0.date(),
                                                         (Hazard.id,))}

        assert listed(standard_id=gm) == set(judged[dust] + judged[storage])
        assert listed(item_id=dust) == set(judged[dust]) and unjudged not in listed(standard_id=gm)
        out = io.BytesIO()
        assert export(s, zone.department, ExportRequest("table3"), out, T0.date()) == 5
        board = most_violated_items(s, T0.date() - timedelta(days=30))
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[2]]
    basis = [sheet.cell(row=r, column=header.index("判定依据") + 1).value or "" for r in range(3, 8)]
    storage_basis, dust_basis = "应急管理部令第10号 第三条(一)", "应急管理部令第10号 第十一条(三)"
    assert sorted(basis) == sorted(["", storage_basis, f"{storage_basis}；{dust_basis}", dust_basis, dust_basis])
    assert [(i.number, i.hazards) for i in board["工贸"]] == [("第十一条(三)", 3), ("第三条(一)", 2)]
    app = make_app(factory, tmp_path, T0)
    office = app.test_client()
    sign_in(office, "office")
    page = office.get(f"/ledger?standard={gm}&item={dust}").get_data(as_text=True)
    assert "共 3 项" in page and "对标 1" in page and "储罐区报警器失效" not in page
    assert "干式除尘系统" in office.get("/dashboard").get_data(as_text=True)
