"""附表3 (重大事故隐患问题清单) and the titles of the plan's tables (issue #19).

The plan (campaign-plan-2023.zh.txt, 四(三) 突出重大隐患) asks for the major hazards found by this
campaign (此次专项行动排查出的重大事故隐患(附表3)) in a ledger sorted by kind and supervised; its list of
附表 gives each table's title word for word, with the zone's name.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import BPMN_DIR, T0, Zone
from helpers import PLAN, REPORT, complete, report, start_campaign_2026
from openpyxl import load_workbook
from sqlalchemy import event, insert, select
from web_support import make_app, sign_in

from workflow_app.reports.exports import ExportRequest, export
from workflow_app.services import hazards
from workflow_app.services.campaigns import CampaignConfig
from workflow_app.services.errors import InvalidInputError, NotFoundError
from workflow_app.store.database import transaction
from workflow_app.store.models import Campaign, Hazard, Organisation, Sector, SupervisionListing

TODAY = date(2026, 11, 30)
CAMPAIGNS = BPMN_DIR.parent / "campaigns"


def _table3(factory, user, campaign: str | None = None) -> tuple[int, list[list[object]], str]:
    """附表3 as `user` exports it: its row count, its data rows (by header) and its title."""
    out = io.BytesIO()
    with transaction(factory) as s:
        count = export(s, user, ExportRequest("table3", campaign), out, TODAY)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    rows = [list(row) for row in sheet.iter_rows(min_row=3, values_only=True)]
    return count, rows, sheet["A1"].value


def _column(rows: list[list[object]], header: str) -> list[object]:
    from workflow_app.reports.tables import TABLE3_COLUMNS

    index = [name for name, _ in TABLE3_COLUMNS].index(header)
    return [row[index] for row in rows]


def _public_report(factory, zone: Zone, source: str, title: str) -> int:
    with transaction(factory) as s:
        return hazards.report_hazard(s, None, zone.enterprise_id, {**REPORT, "source": source, "title": title,
                                                                   "description": title}, T0,
                                     reporter=("李吹哨", "13912345678")).hazard_id


def test_table3_lists_the_confirmed_major_hazards_of_the_campaigns_period_only(factory, zone: Zone):
    """No general hazard, no report triage has not accepted or rejected, nothing reported before the campaign
    started or after its summary phase ended (plan 四(三): the major hazards found by this campaign)."""
    start_campaign_2026(factory)
    wanted = report(factory, zone.principal, zone.enterprise_id, T0, description="自查重大")
    complete(factory, zone.principal, wanted, PLAN, T0)
    report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general", description="一般隐患")
    report(factory, zone.principal, zone.enterprise_id, datetime(2026, 5, 1, tzinfo=UTC), description="行动前")
    report(factory, zone.principal, zone.enterprise_id, datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
           description="总结阶段之后")  # 2027-01-01 00:00 in Shanghai
    report(factory, zone.principal, zone.enterprise_id, datetime(2026, 12, 31, 15, 59, tzinfo=UTC),
           description="总结阶段最后一天")
    _public_report(factory, zone, "public_report", "待研判举报")
    rejected = _public_report(factory, zone, "whistleblower", "不予受理举报")
    complete(factory, zone.office, rejected, {"triage_decision": "duplicate", "hazard_level": "major",
                                              "triage_opinion": "重复"}, T0)
    accepted = _public_report(factory, zone, "public_report", "受理举报")
    complete(factory, zone.office, accepted, {"triage_decision": "accept", "hazard_level": "major",
                                              "triage_opinion": "属实"}, T0)
    with transaction(factory) as s:
        assert s.get(Hazard, rejected).status == "rejected"

    count, rows, _ = _table3(factory, zone.office)
    assert count == 3 and _column(rows, "序号") == [1, 2, 3]
    assert sorted(_column(rows, "隐患描述")) == sorted(["自查重大", "受理举报", "总结阶段最后一天"])
    assert set(_column(rows, "隐患等级")) == {"重大事故隐患"}
    # the office is told the true source; the enterprise sees the accepted report as found by its supervisor
    sources = dict(zip(_column(rows, "隐患描述"), _column(rows, "隐患来源"), strict=True))
    assert sources["受理举报"] == "群众举报"
    count, rows, _ = _table3(factory, zone.principal)
    told = dict(zip(_column(rows, "隐患描述"), _column(rows, "隐患来源"), strict=True))
    assert count == 3 and told["受理举报"] == "执法检查"
    assert not [cell for row in rows for cell in row if cell in ("群众举报", "内部吹哨人", "李吹哨", "13912345678")]


def test_table3_names_town_sector_lead_department_and_the_listing_decision(factory, zone: Zone):
    """挂牌督办 is the office's decision (supervision_listings): 已挂牌 with its deadline, 已摘牌 once delisted
    (the latest decision counts); a proposal or a refusal is no listing."""
    start_campaign_2026(factory)
    ids = {}
    for name in ("listed", "delisted", "relisted", "proposed", "refused", "none"):
        ids[name] = report(factory, zone.principal, zone.enterprise_id, T0, description=name)
    decisions = [("listed", "listed", date(2026, 12, 20)), ("delisted", "listed", date(2026, 12, 1)),
                 ("delisted", "delisted", date(2026, 12, 1)), ("relisted", "delisted", date(2026, 11, 25)),
                 ("relisted", "listed", date(2027, 1, 15)), ("proposed", "proposed", None),
                 ("refused", "refused", None)]
    with transaction(factory) as s:
        s.execute(insert(SupervisionListing), [
            {"hazard_id": ids[name], "status": status, "deadline": deadline,
             "proposing_department_id": zone.department.organisation_id, "proposed_by_id": zone.department.id,
             "proposed_at": T0, "proposal_reason": "重大事故隐患", "updated_at": T0}
            for name, status, deadline in decisions])
    _, rows, _ = _table3(factory, zone.office)
    listing = dict(zip(_column(rows, "隐患描述"), _column(rows, "挂牌督办"), strict=True))
    assert listing == {"listed": "已挂牌（督办期限 2026-12-20）", "delisted": "已摘牌",
                       "relisted": "已挂牌（督办期限 2027-01-15）", "proposed": None, "refused": None, "none": None}
    assert {(r[2], r[3], r[4]) for r in rows} == {("T1单位", "工贸", "D1单位")}  # 所属镇街, 行业领域, 监管部门


def test_table3_reads_its_columns_in_a_fixed_number_of_queries_whatever_its_length(factory, zone: Zone):
    """The listings and departments are read once per export, not once per hazard (issue #19: speed stays)."""
    start_campaign_2026(factory)
    engine = factory.kw["bind"]

    def statements() -> int:
        seen: list[str] = []

        def listener(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", listener)
        try:
            _table3(factory, zone.office)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    first = report(factory, zone.principal, zone.enterprise_id, T0)
    with transaction(factory) as s:
        s.add(SupervisionListing(hazard_id=first, status="listed", deadline=date(2026, 12, 20), updated_at=T0,
                                 proposing_department_id=zone.department.organisation_id, proposed_at=T0,
                                 proposed_by_id=zone.department.id, proposal_reason="重大"))
    one = statements()
    for n in range(6):
        hid = report(factory, zone.principal, zone.enterprise_id, T0 + timedelta(minutes=n))
        with transaction(factory) as s:
            s.add(SupervisionListing(hazard_id=hid, status="delisted", updated_at=T0, proposed_at=T0,
                                     proposing_department_id=zone.department.organisation_id,
                                     proposed_by_id=zone.department.id, proposal_reason="重大"))
    assert statements() == one, one


def test_the_tables_titles_are_the_plans_words_with_the_zone_from_the_campaign_file(factory, zone: Zone):
    """The plan's list of 附表, word for word: 1.通辽经济技术开发区重大事故隐患专项排查整治行动进展情况调度表
    2.…有关部门…调度表 3.…重大事故隐患问题清单 4.…联系人回执; 附表1/2 add the week they are for."""
    config = CampaignConfig.load(CAMPAIGNS / "2023.toml")
    assert config.zone == "通辽经济技术开发区"
    titles = {
        "table1": "通辽经济技术开发区重大事故隐患专项排查整治行动进展情况调度表",
        "table2": "通辽经济技术开发区有关部门重大事故隐患专项排查整治行动进展情况调度表",
        "table3": "通辽经济技术开发区重大事故隐患问题清单",
        "table4": "通辽经济技术开发区重大事故隐患专项排查整治行动联系人回执",
    }
    start_campaign_2026(factory, code="2023", zone=config.zone, dates=config.dates,
                        started=datetime(2023, 5, 10, 1, tzinfo=UTC))
    with transaction(factory) as s:
        assert s.scalars(select(Campaign)).one().params["zone"] == "通辽经济技术开发区"
    for name, title in titles.items():
        out = io.BytesIO()
        with transaction(factory) as s:
            export(s, zone.office, ExportRequest(name, "2023", "2023-W21"), out, TODAY)
        sheet = load_workbook(io.BytesIO(out.getvalue())).active
        if name in ("table1", "table2"):  # and the week's period
            assert sheet["A1"].value.startswith(f"{title}（2023-W21，W")
        else:
            assert sheet["A1"].value == title
        assert sheet.title == f"附表{name[-1]}"


def test_a_campaign_started_before_the_zone_was_asked_for_is_titled_for_this_jurisdiction(factory, zone: Zone):
    """A campaign whose parameters predate `zone` keeps exporting: its tables say 本辖区 for the zone."""
    campaign_id = start_campaign_2026(factory)
    with transaction(factory) as s:
        campaign = s.get(Campaign, campaign_id)
        campaign.params = {k: v for k, v in campaign.params.items() if k != "zone"}
    _, _, title = _table3(factory, zone.office, "2026")
    assert title == "本辖区重大事故隐患问题清单"


def test_a_campaign_file_without_a_zone_is_refused_with_the_missing_key(tmp_path):
    text = (CAMPAIGNS / "2024.toml").read_text(encoding="utf-8")
    (tmp_path / "no-zone.toml").write_text(text.replace('zone = "通辽经济技术开发区"\n', ""), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="zone"):
        CampaignConfig.load(tmp_path / "no-zone.toml")
    (tmp_path / "blank.toml").write_text(text.replace('zone = "通辽经济技术开发区"', 'zone = "  "'), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="zone must be"):
        CampaignConfig.load(tmp_path / "blank.toml")


def test_table3_needs_a_campaign_and_downloads_from_the_campaign_page(factory, zone: Zone, tmp_path):
    with pytest.raises(NotFoundError, match="no campaign"), transaction(factory) as s:
        export(s, zone.office, ExportRequest("table3"), io.BytesIO(), TODAY)
    complete(factory, zone.principal, report(factory, zone.principal, zone.enterprise_id, T0), PLAN, T0)
    start_campaign_2026(factory)
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    response = office.get("/exports/table3?campaign=2026")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "测试开发区重大事故隐患问题清单" and sheet.max_row == 3
    assert office.get("/exports/table3?campaign=1999").status_code == 404


def test_names_typed_into_the_roster_stay_inert_text_in_table3s_new_columns(factory, zone: Zone):
    """A town, sector or department named like a formula is text in 附表3 (reports/cells.py, OWASP)."""
    with transaction(factory) as s:
        s.get(Organisation, zone.town.organisation_id).name = "=HYPERLINK(\"http://x\",\"镇\")"
        s.get(Organisation, zone.department.organisation_id).name = "@SUM(1)"
        s.get(Sector, "industry").name = "-1+2"
    start_campaign_2026(factory)
    report(factory, zone.principal, zone.enterprise_id, T0)
    _, rows, _ = _table3(factory, zone.office)
    assert rows[0][2:5] == ["'=HYPERLINK(\"http://x\",\"镇\")", "'-1+2", "'@SUM(1)"]
