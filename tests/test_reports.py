"""Exports opened and read back, the bulletin's text, and role limits on the ledger and exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import BPMN_DIR, T0, _org, _user
from helpers import PLAN, complete, report, start_campaign_2026
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select
from web_support import make_app, sign_in

from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.reports.dashboard import weekly_totals
from workflow_app.reports.exports import ExportRequest, export
from workflow_app.reports.statistics import period_statistics
from workflow_app.services import tasks
from workflow_app.services.campaigns import CampaignConfig, start_campaign
from workflow_app.services.errors import PermissionDeniedError
from workflow_app.services.ledger import LedgerQuery, ledger_page
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Campaign, CampaignSubmission, Hazard, InboxTask, Organisation

TODAY = date(2026, 11, 30)


@pytest.fixture
def hazards(factory, zone) -> dict[str, int]:
    """A major hazard with its plan, a general one, one closed, and one of another enterprise."""
    major = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, major, PLAN, T0)
    general = report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general", title="灭火器过期")
    other = report(factory, zone.outsider, zone.other_enterprise_id, T0, hazard_level="general", title="叉车无证")
    return {"major": major, "general": general, "other": other}


def _xlsx(factory, user, request: ExportRequest):
    out = io.BytesIO()
    with transaction(factory) as s:
        count = export(s, user, request, out, TODAY)
    out.seek(0)
    return count, load_workbook(out).active


def test_ledger_xlsx_has_title_headers_frozen_header_and_every_visible_hazard(factory, zone, hazards):
    count, sheet = _xlsx(factory, zone.office, ExportRequest("ledger.xlsx"))
    with transaction(factory) as s:
        assert count == s.scalar(select(func.count(Hazard.id))) == 3
    assert sheet["A1"].value == "隐患排查治理台账"
    assert sheet["A2"].value == "隐患编号" and sheet["L2"].value == "销号日期"
    assert sheet.freeze_panes == "A3" and sheet.max_row == 2 + count
    titles = {sheet.cell(row=r, column=5).value for r in range(3, 3 + count)}
    assert titles == {"储罐区报警器失效", "灭火器过期", "叉车无证"}


def test_table3_lists_each_major_hazard_with_its_five_in_place_plan(factory, zone, hazards):
    start_campaign_2026(factory)
    count, sheet = _xlsx(factory, zone.department, ExportRequest("table3"))
    assert count == 1 and sheet["A1"].value == "测试开发区重大事故隐患问题清单" and sheet.title == "附表3"
    row = [c.value for c in sheet[3]]
    assert row[:7] == [1, "E1单位", "T1单位", "工贸", "D1单位", "储罐区", "可燃气体报警器不报警"]
    assert row[10:15] == ["王五", "更换报警器", 2.5, "2026-11-20", "设置警戒区"]
    assert row[15:17] == ["方案审核中", None]


def test_an_enterprise_exports_only_its_own_and_no_campaign_tables(factory, zone, hazards):
    out = io.BytesIO()
    with transaction(factory) as s:
        assert export(s, zone.outsider, ExportRequest("ledger.csv"), out, TODAY) == 1
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert rows[0][0] == "隐患编号" and [r[4] for r in rows[1:]] == ["叉车无证"]
    with transaction(factory) as s:
        page = ledger_page(s, zone.principal, LedgerQuery(level="major"), TODAY)
        assert [h.id for h in page.hazards] == [hazards["major"]] and page.total == 1
    with pytest.raises(PermissionDeniedError), transaction(factory) as s:
        export(s, zone.principal, ExportRequest("table4"), io.BytesIO(), TODAY)


def test_weekly_and_contact_tables_come_from_what_units_filed(factory, zone):
    with transaction(factory) as s:
        _user(s, "town2", "town", _org(s, "T2", "town"))
    with transaction(factory) as s:
        config = CampaignConfig.load(BPMN_DIR.parent / "campaigns" / "2023.toml")
        start_campaign(s, None, config, datetime(2023, 5, 10, 1, tzinfo=UTC))
    sweep(factory, datetime(2023, 5, 26, 2, tzinfo=UTC))
    with transaction(factory) as s:
        weekly = s.scalars(select(InboxTask).where(InboxTask.bpmn_id == "Task_TownWeekly",
                                                   InboxTask.organisation_id == zone.town.organisation_id)).one()
        plan = s.scalars(select(InboxTask).where(InboxTask.bpmn_id == "Task_TownPlan",
                                                 InboxTask.organisation_id == zone.town.organisation_id)).one()
    figures = {"enterprises_covered_week": "2", "enterprises_covered_total": "2", "hazards_found_week": "5",
               "hazards_found_total": "6", "major_found_week": "1", "major_found_total": "1", "rectified_week": "3",
               "rectified_total": "3", "overdue_week": "0", "overdue_total": "0", "inspections_week": "4",
               "inspections_total": "4", "penalties_week": "1", "penalties_total": "1", "trained_week": "30",
               "trained_total": "30", "override_reason": "执法记录尚未录入系统"}
    with transaction(factory) as s:
        tasks.complete_task(s, zone.town, weekly.task_id, figures, datetime(2023, 5, 26, 3, tzinfo=UTC))
    with transaction(factory) as s:
        tasks.complete_task(s, zone.town, plan.task_id, {"plan_summary": "专班", "contact_name": "张三",
                                                         "contact_position": "科长", "contact_phone": "123"},
                            datetime(2023, 5, 26, 3, tzinfo=UTC))
    count, sheet = _xlsx(factory, zone.office, ExportRequest("table1", "2023", "2023-W21"))
    rows = {sheet.cell(row=r, column=1).value: [c.value for c in sheet[r]] for r in range(3, 3 + count)}
    assert count == 2 and sheet.title == "附表1"
    assert sheet["A1"].value == "通辽经济技术开发区重大事故隐患专项排查整治行动进展情况调度表（2023-W21，W01）"
    assert rows["T1单位"][1:17] == [2, 2, 5, 6, 1, 1, 3, 3, 0, 0, 4, 4, 1, 1, 30, 30]
    assert rows["T1单位"][17] == "2023-05-26 11:00" and "原因：执法记录尚未录入系统" in rows["T1单位"][18]
    assert rows["T2单位"][1] == "未报送"
    count, sheet = _xlsx(factory, zone.office, ExportRequest("table4", "2023"))
    assert sheet["A1"].value == "通辽经济技术开发区重大事故隐患专项排查整治行动联系人回执"
    contacts = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=2).value for r in range(3, 3 + count)}
    assert contacts["T1单位"] == "张三" and contacts["T2单位"] == "未报送"

    with transaction(factory) as s:  # a table filed before the upgrade: one figure each, counted since the start
        town2 = s.scalars(select(Organisation).where(Organisation.code == "T2")).one()
        campaign_id = s.scalars(select(Campaign.id)).one()
        s.add(CampaignSubmission(campaign_id=campaign_id, organisation_id=town2.id, kind="weekly", period="W01",
                                 data={"hazards_found": 7, "trained": 12},
                                 submitted_at=datetime(2023, 5, 26, 4, tzinfo=UTC)))
    count, sheet = _xlsx(factory, zone.office, ExportRequest("table1", "2023", "2023-W21"))
    row = next(r for r in range(3, 3 + count) if sheet.cell(row=r, column=1).value == "T2单位")
    old = [c.value for c in sheet[row]]
    assert old[3:5] == [None, 7] and old[15:17] == [None, 12]  # 累计 as filed; 本周 left empty, not guessed


def test_the_bulletin_pdf_says_the_month_in_chinese(factory, zone, hazards):
    out = io.BytesIO()
    with transaction(factory) as s:
        stats = monthly_bulletin(s, "2026-11", out)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)
    assert stats.total["found"] == 3 and stats.total["major"] == 1
    assert "2026年11月" in text and "本月排查隐患 3 项，其中重大事故隐患 1 项" in text
    assert "T1单位" in text and "D1单位" in text


def test_ledger_and_downloads_on_the_web_respect_roles(factory, zone, hazards, tmp_path):
    app = make_app(factory, tmp_path, datetime(2026, 12, 2, 2, tzinfo=UTC))
    enterprise = app.test_client()
    sign_in(enterprise, "outsider")
    page = enterprise.get("/ledger").get_data(as_text=True)
    assert "叉车无证" in page and "储罐区报警器失效" not in page
    exported = enterprise.get("/exports/ledger.csv").data.decode("utf-8-sig")
    assert "叉车无证" in exported and "灭火器过期" not in exported
    assert enterprise.get("/bulletin.pdf").status_code == 404
    assert enterprise.get("/exports/table4").status_code == 403
    office = app.test_client()
    sign_in(office, "office")
    pdf = office.get("/bulletin.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "本月排查隐患 3 项" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    filtered = office.get("/ledger?level=general&sort=code").get_data(as_text=True)
    assert "灭火器过期" in filtered and "储罐区报警器失效" not in filtered


def test_weekly_statistics_and_dashboard_charts(factory, zone, hazards, tmp_path):
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).risk_colour = "red"
        s.get(Organisation, zone.other_enterprise_id).risk_colour = "blue"
    app = make_app(factory, tmp_path, datetime(2026, 11, 4, 2, tzinfo=UTC))
    office = app.test_client()
    sign_in(office, "office")
    week = office.get("/statistics?week=2026-W45").get_data(as_text=True)  # T0 (2026-11-02) is in that week
    assert "本周排查隐患 3 项，其中重大事故隐患 1 项" in week and "2026-W44" in week and "+2" in week  # T1: 2 vs 0
    board = office.get("/dashboard").get_data(as_text=True)
    charts = board.split("<main", 1)[1].split("</main>", 1)[0]  # the header has icons of its own
    assert charts.count("<svg") == 5 and "各镇街企业风险四色分布" in charts
    assert "<title>T1单位 · 重大风险（红）: 1 家</title>" in board
    enterprise = app.test_client()
    sign_in(enterprise, "boss")
    assert enterprise.get("/dashboard").status_code == 404 and enterprise.get("/statistics").status_code == 404


def test_the_dashboards_weekly_totals_are_the_weekly_statistics(factory, zone, hazards):
    """The chart's one-pass totals count found, closed and overdue exactly as each week's statistics do."""
    with transaction(factory) as s:
        closed = s.scalars(select(Hazard).limit(1)).one()
        closed.status, closed.closed_at = "closed", datetime(2026, 11, 10, 3, tzinfo=UTC)
        overdue = s.scalars(select(Hazard).where(Hazard.id != closed.id).limit(1)).one()
        overdue.rectification_deadline = date(2026, 11, 12)
    starts = [date(2026, 10, 26) + timedelta(weeks=n) for n in range(6)]
    with transaction(factory) as s:
        totals = weekly_totals(s, starts)
        expected = [period_statistics(s, start, start + timedelta(days=7)).total for start in starts]
    assert [dict(t) for t in totals] == [{k: e[k] for k in ("found", "closed", "overdue")} for e in expected]
    assert sum(t["found"] for t in totals) == 3 and sum(t["closed"] for t in totals) == 1
    assert [t["overdue"] for t in totals][-3:] == [1, 1, 1]  # from the week its deadline passed
