"""Working days beyond the chinese_calendar package's years (issue #19): the holiday table, its import, the flags.

The rule, from the State Council's yearly notice on holiday arrangements (国务院办公厅关于部分
节假日安排的通知): its days off (放假) are not working days, its adjusted working days
(调休上班, a Saturday or Sunday) are. The plan: the notice is imported into an editable table;
a year without data counts Monday to Friday and says so (pages, /healthz, a December notice).

The 2027 schedule below is shaped like a notice (Spring Festival 2027 falls on Saturday
6 February) but is the tests' own, not the official 2027 arrangement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import T0, Zone
from helpers import PLAN, complete, open_task, report
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, sign_in, upload

from workflow_app.cli import main
from workflow_app.engine.calendar import SHANGHAI, shift_working_days
from workflow_app.scheduling import holiday_reminder_job
from workflow_app.services import holidays
from workflow_app.services.errors import InvalidInputError, PermissionDeniedError
from workflow_app.services.holiday_csv import read_rows
from workflow_app.store.database import transaction
from workflow_app.store.downgrade import DataLossRefused, downgrade
from workflow_app.store.models import AuditEntry, CalendarDay, CalendarYear, Hazard, Notice, TimerRow

HEADER = "日期,类型,名称\n"
SPRING_2027 = HEADER + "".join(f"2027-02-{d:02d},放假,春节\n" for d in range(6, 15)) + "2027-02-20,调休上班,春节\n"
"""Days off Saturday 6 – Sunday 14 February 2027, and Saturday 20 February worked instead."""
DEADLINE = date(2027, 2, 17)  # a Wednesday, just after the break
FLAG = "节假日数据缺失（2027），按周一至周五计算"


def _import(factory: sessionmaker[Session], actor, text: str, now: datetime = T0) -> holidays.ImportSummary:
    with transaction(factory) as s:
        return holidays.import_rows(s, actor, read_rows(text.encode("utf-8"), "2027.csv"), now)


def _rectifying(factory: sessionmaker[Session], zone: Zone, deadline: date) -> int:
    """A hazard whose plan (deadline `deadline`) the department approved: its reminder and escalation wait."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, {**PLAN, "rectification_deadline": deadline.isoformat()}, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    return hid


def _timer_days(factory: sessionmaker[Session], hid: int) -> dict[str, date]:
    with transaction(factory) as s:
        instance_id = s.scalar(select(Hazard.instance_id).where(Hazard.id == hid))
        rows = s.execute(select(TimerRow.bpmn_id, TimerRow.fire_at).where(TimerRow.instance_id == instance_id))
        return {bpmn_id: fire_at.astimezone(SHANGHAI).date() for bpmn_id, fire_at in rows}


def _table(factory: sessionmaker[Session]) -> tuple[list[tuple], list[tuple], int]:
    """Everything an import may change: the days, the years, the audit log's length."""
    with transaction(factory) as s:
        days = [tuple(r) for r in s.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name,
                                                   CalendarDay.source).order_by(CalendarDay.day))]
        years = [tuple(r) for r in s.execute(select(CalendarYear.year, CalendarYear.token)
                                             .order_by(CalendarYear.year))]
        return days, years, s.scalar(select(func.count(AuditEntry.id))) or 0


def test_spring_festival_2027_is_counted_from_the_imported_notice_and_monday_to_friday_without_it(factory, zone):
    """Reminder 3 working days before the deadline: across the imported break it lands before the break."""
    missing = _timer_days(factory, _rectifying(factory, zone, DEADLINE))
    assert missing["Timer_Reminder"] == date(2027, 2, 12)  # Feb 16, 15, 12: the break counted as working days
    _import(factory, zone.office, SPRING_2027)
    known = _timer_days(factory, _rectifying(factory, zone, DEADLINE))  # the next transaction sees the import
    assert known["Timer_Reminder"] == date(2027, 2, 5)  # Feb 16, 15, then back over 14 … 6 to Friday Feb 5
    with transaction(factory) as s:
        s.scalar(select(1))  # a transaction of the app (its calendar is checked on its first working-day count)
        assert shift_working_days(date(2027, 2, 5), 1) == date(2027, 2, 15)


def test_a_weekend_day_worked_in_exchange_counts_as_a_working_day(factory, zone):
    """调休上班: escalation 5 working days after the deadline counts Saturday 20 February 2027 (imported) —
    and Saturday 10 October 2026, seeded from the chinese_calendar package."""
    without = _timer_days(factory, _rectifying(factory, zone, DEADLINE))
    assert without["Timer_Escalation"] == date(2027, 2, 24)  # Feb 18, 19, 22, 23, 24
    _import(factory, zone.office, SPRING_2027)
    assert _timer_days(factory, _rectifying(factory, zone, DEADLINE))["Timer_Escalation"] == date(2027, 2, 23)
    with transaction(factory) as s:
        assert [d.kind for d in holidays.days_of(s, 2026) if d.day == date(2026, 10, 10)] == ["workday"]
        assert s.get(CalendarYear, 2026).source == "library" and s.get(CalendarYear, 2027).source == "import"
        assert shift_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)


def test_every_wrong_row_is_named_and_nothing_is_written(factory, zone):
    """An import is checked whole: a bad date, an unknown type, a duplicate, a weekday 调休上班, a missing name."""
    _import(factory, zone.office, SPRING_2027)
    before = _table(factory)
    bad = (HEADER + "2027-02-06,放假,春节\n"  # line 2: fine
           "2027-02-30,放假,春节\n"  # 3: no such date
           "2027-02-07,休息,春节\n"  # 4: unknown type
           "2027-02-06,放假,春节\n"  # 5: duplicate of line 2
           "2027-02-17,调休上班,春节\n"  # 6: a Wednesday cannot be worked "in exchange"
           "2027-02-08,放假,\n")  # 7: no name
    with pytest.raises(InvalidInputError) as refused:
        _import(factory, zone.office, bad)
    message = str(refused.value)
    assert message.startswith("未导入任何内容")
    for line, why in ((3, "日期应为"), (4, "类型应为 放假 或 调休上班"), (5, "日期 2027-02-06 重复（已见于第 2 行）"),
                      (6, "2027-02-17 是工作日，调休上班应在周六或周日"), (7, "名称不能为空")):
        assert f"第 {line} 行：{why}" in message
    assert "第 2 行" not in message.replace("已见于第 2 行", "")
    with pytest.raises(InvalidInputError, match="第一行应为列名"):
        _import(factory, zone.office, "date,kind,name\n2027-02-06,放假,春节\n")
    with pytest.raises(InvalidInputError, match="2027 年：没有放假的日子"):
        _import(factory, zone.office, HEADER + "2027-02-20,调休上班,春节\n")
    assert _table(factory) == before


def test_an_import_replaces_the_years_in_its_file_whole_and_is_audited(factory, zone):
    """The notice for a year replaces that year (also one seeded from the package); other years stay."""
    _import(factory, zone.office, SPRING_2027)
    with transaction(factory) as s:
        days_2025 = [(d.day, d.kind) for d in holidays.days_of(s, 2025)]
    corrected = HEADER + "# a comment line\n2027-01-01,放假,元旦\n2026-10-01,放假,国庆节\n"
    summary = _import(factory, zone.office, corrected, T0 + timedelta(hours=1))
    assert (summary.years, summary.holidays, summary.workdays) == ([2026, 2027], 2, 0)
    with transaction(factory) as s:
        assert [(d.day, d.name, d.source) for d in holidays.days_of(s, 2027)] == [(date(2027, 1, 1), "元旦", "import")]
        assert [d.day for d in holidays.days_of(s, 2026)] == [date(2026, 10, 1)]
        assert [(d.day, d.kind) for d in holidays.days_of(s, 2025)] == days_2025
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "import_holidays")
                          .order_by(AuditEntry.id.desc())).first()
        assert (entry.object_id, entry.detail["holidays"], entry.detail["replaced_days"]) == (
            "2026,2027", 2, 10 + _library_days_2026())
        assert entry.actor_id == zone.office.id


def _library_days_2026() -> int:
    """The days of 2026 seeded from the package (weekday holidays and working weekend days)."""
    from workflow_app.engine.calendar import library_calendar

    library = library_calendar()
    return sum(d.year == 2026 for d in library.holidays | library.workdays)


def test_only_the_office_keeps_the_holiday_table(factory, zone, tmp_path, engine: Engine, monkeypatch):
    """Others get 403 on the page and its upload, the service refuses them, and so does the command line."""
    before = _table(factory)
    with pytest.raises(PermissionDeniedError):
        _import(factory, zone.department, SPRING_2027)
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "dept")
    assert client.get("/holidays").status_code == 403
    token = csrf(client, "/notices")
    posted = client.post("/holidays", data={"csrf_token": token, "calendar": upload(SPRING_2027.encode(), "a.csv")},
                         content_type="multipart/form-data")
    assert posted.status_code == 403
    path = tmp_path / "2027.csv"
    path.write_text(SPRING_2027, encoding="utf-8")
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    refused = CliRunner().invoke(main, ["holidays", "import", str(path), "--user", "dept"])
    assert refused.exit_code != 0 and "安委办" in refused.output
    assert _table(factory) == before


def test_the_shipped_example_reads_but_is_marked_as_not_official():
    """calendar/holidays-example.csv is a template: it parses, and says its dates must come from the notice."""
    example = Path(__file__).resolve().parents[1] / "calendar" / "holidays-example.csv"
    text = example.read_text(encoding="utf-8")
    assert "NOT the official schedule" in text and "示例模板，并非官方安排" in text
    rows = read_rows(example.read_bytes(), example.name)
    assert {row.kind for row in rows} == {"holiday", "workday"}


def test_the_office_imports_on_the_page_and_on_the_command_line(factory, zone, tmp_path, engine: Engine,
                                                                 monkeypatch):
    """The page lists a year's days and the missing years; a bad upload is refused naming its row; the CLI lists."""
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "office")
    page = client.get("/holidays").get_data(as_text=True)
    assert "缺少 2027 年的节假日安排" in page and "2026-10-01" in page
    assert client.get("/holidays?year=0000").status_code == 200  # a year no date has: the default year instead
    token = csrf(client, "/holidays")
    bad = client.post("/holidays", data={"csrf_token": token, "calendar": upload(b"\xef\xbb\xbf" + (
        HEADER + "2027-13-01,放假,春节\n").encode(), "bad.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "第 2 行：日期应为" in bad.get_data(as_text=True)
    done = client.post("/holidays", data={"csrf_token": token, "calendar": upload(SPRING_2027.encode(), "ok.csv")},
                       content_type="multipart/form-data", follow_redirects=True)
    shown = done.get_data(as_text=True)
    assert done.status_code == 200 and "2027-02-20" in shown and "缺少 2027" not in shown
    monkeypatch.setenv("WORKFLOW_APP_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    listed = CliRunner().invoke(main, ["holidays", "list", "--year", "2027"])
    assert listed.exit_code == 0 and "2027-02-20  调休上班  春节  (import)" in listed.output


def test_a_deadline_in_a_year_without_data_is_flagged_on_the_hazard_and_task_pages(factory, zone, tmp_path):
    """The plan: a deadline computed Monday to Friday says so where it is shown, until the year is imported."""
    hid = _rectifying(factory, zone, DEADLINE)
    task_id = open_task(factory, hid).task_id
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "boss")
    assert FLAG in client.get(f"/hazards/{hid}").get_data(as_text=True)
    assert FLAG in client.get(f"/tasks/{task_id}").get_data(as_text=True)
    near = _rectifying(factory, zone, date(2026, 11, 30))
    assert "节假日数据缺失" not in client.get(f"/hazards/{near}").get_data(as_text=True)
    _import(factory, zone.office, SPRING_2027)
    assert "节假日数据缺失" not in client.get(f"/hazards/{hid}").get_data(as_text=True)


def test_healthz_names_a_missing_year_without_failing(factory, zone, tmp_path):
    """From 1 December next year's schedule should be in; this year's always. Reported, not a 503."""
    def holiday_check(moment: datetime) -> tuple[int, dict]:
        answer = make_app(factory, tmp_path, moment).test_client().get("/healthz")
        return answer.status_code, answer.get_json()["checks"]["holiday_calendar"]

    assert holiday_check(T0) == (200, {"state": "ok"})
    december = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December 00:00 in Shanghai
    assert holiday_check(december) == (200, {"state": "warn", "missing": "holiday calendar for 2027 missing"})
    later = holiday_check(datetime(2027, 3, 1, tzinfo=UTC))[1]
    assert later == {"state": "warn", "missing": "holiday calendar for 2027 missing"}  # the year itself
    _import(factory, zone.office, SPRING_2027)
    assert holiday_check(december) == (200, {"state": "ok"})


def test_in_december_the_office_is_asked_once_to_import_next_years_schedule(factory, zone):
    """The scheduled job queues one notice per year (idempotency key per year), only in December."""
    remind = holiday_reminder_job(factory)
    assert remind(datetime(2026, 11, 30, 1, 0, tzinfo=UTC)) == 0  # 30 November in Shanghai
    assert remind(datetime(2026, 12, 1, 1, 0, tzinfo=UTC)) == 1
    assert remind(datetime(2026, 12, 2, 1, 0, tzinfo=UTC)) == 0
    with transaction(factory) as s:
        sent = s.scalars(select(Notice).where(Notice.kind == "holiday_calendar")).all()
    assert [(n.recipient_org_id, n.subject, n.status) for n in sent] == [
        (zone.office.organisation_id, "请导入 2027 年节假日安排", "sent")]
    _import(factory, zone.office, SPRING_2027)
    assert remind(datetime(2027, 12, 1, 1, 0, tzinfo=UTC)) == 1  # next December: 2028's


def test_downgrading_past_the_holiday_table_names_the_imported_days(factory, zone, engine: Engine):
    """LOST_ON_DOWNGRADE: the imported days would be destroyed (the package's seed comes back with init-db): a
    downgrade past revision 0023 is refused, naming them, and nothing is undone."""
    _import(factory, zone.office, SPRING_2027)
    with pytest.raises(DataLossRefused) as refused:
        downgrade(engine, "0022")
    assert [line for line in refused.value.losses if "holiday" in line] == ["10 imported holiday days (revision 0023)"]
