"""The daily digest (issue #23): at 08:30 Shanghai on working days, one message per person with open work,
in the app and by e-mail, listing what is overdue, due today and awaiting their review with links, the
notices the daily cap held back, and for overseers their units' counts; once per person and day."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Zone
from helpers import report
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from web_support import make_app, sign_in

from workflow_app.config import SmtpSettings
from workflow_app.services.channels import EmailChannel
from workflow_app.services.digest import LIST_LENGTH, digest_day, send_digests
from workflow_app.services.dispatch import dispatch
from workflow_app.store.database import transaction
from workflow_app.store.models import Hazard, InboxTask, Notice, User

pytest_plugins = ["notice_support"]  # the mailbox fixture: an SMTP server on loopback
AT_0830 = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)  # Thursday 2026-12-03 08:30 in Shanghai
DAY = date(2026, 12, 3)
BASE = "https://yh.example.gov.cn"


def _hazard(factory: sessionmaker[Session], zone: Zone, due: str | None, title: str = "配电箱未接地") -> int:
    """A hazard of E1 whose open enterprise task falls due on `due`."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, AT_0830, hazard_level="general", title=title)
    with transaction(factory) as s:
        s.execute(update(InboxTask).where(InboxTask.hazard_id == hazard_id, InboxTask.completed_at.is_(None))
                  .values(due_on=date.fromisoformat(due) if due else None))
    return hazard_id


def _review(s: Session, zone: Zone, number: int, due: str | None, of: User | None = None) -> None:
    """An open review task (治理方案审核) of the department D1 (or of `of`'s organisation and role)."""
    of = of or zone.department
    instance_id = s.scalar(select(Hazard.instance_id).limit(1))
    s.add(InboxTask(task_id=f"00000000-0000-4000-8000-{number:012d}", instance_id=instance_id,
                    bpmn_id="Task_ReviewPlan", name="审核治理方案", lane="监管部门", role=of.role,
                    organisation_id=of.organisation_id, created_at=AT_0830,
                    due_on=date.fromisoformat(due) if due else None, enterprise_id=zone.enterprise_id))


def _digests(factory: sessionmaker[Session], channel: str = "in_app") -> dict[str, Notice]:
    with transaction(factory) as s:
        rows = s.execute(select(Notice, User.username).join(User, User.id == Notice.recipient_user_id)
                         .where(Notice.kind == "digest", Notice.channel == channel)).all()
        for notice, _ in rows:
            s.expunge(notice)
        return {username: notice for notice, username in rows}


def _set_email(factory: sessionmaker[Session], user: User, address: str | None) -> None:
    with transaction(factory) as s:
        s.execute(update(User).where(User.id == user.id).values(email=address))


def test_the_digest_lists_overdue_due_today_and_reviews_with_links_in_the_app_and_by_email(
        factory: sessionmaker[Session], zone: Zone, mailbox) -> None:
    """The principal's tasks overdue and due today (a task due tomorrow is not listed), each with its link
    under the base URL; the department's reviews; in-app to that person, e-mail to their address. Someone
    with nothing (the other enterprise) gets nothing; a disabled account gets nothing."""
    late = _hazard(factory, zone, "2026-12-01", "货架<b>超载</b>\n- 伪造一行")
    today = _hazard(factory, zone, "2026-12-03")
    _hazard(factory, zone, "2026-12-04")
    with transaction(factory) as s:
        _review(s, zone, 901, "2026-12-10")
        s.execute(update(User).where(User.id == zone.town.id).values(active=False))
    _set_email(factory, zone.principal, "boss@e1.example")
    run = send_digests(factory, AT_0830, BASE)
    digests = _digests(factory)
    assert set(digests) == {"boss", "safety", "dept"} and run.sent == 3
    boss = digests["boss"]
    assert boss.subject == "每日待办摘要 2026-12-03：逾期 1 · 今日到期 1 · 待审核 0"
    assert boss.recipient_org_id == zone.enterprise_id and boss.status == "sent"
    with transaction(factory) as s:
        tasks = {t.hazard_id: t.task_id for t in s.scalars(select(InboxTask).where(
            InboxTask.hazard_id.in_([late, today]), InboxTask.completed_at.is_(None)))}
    lines = boss.body.splitlines()
    assert lines[lines.index("已逾期（1）") + 2] == f"  {BASE}/tasks/{tasks[late]}"
    assert lines[lines.index("今日到期（1）") + 2] == f"  {BASE}/tasks/{tasks[today]}"
    assert "- 伪造一行" not in lines  # a typed line break cannot forge a line of the digest
    assert "2026-12-04" not in boss.body
    assert "待我审核（1）" in digests["dept"].body and "/tasks/00000000-0000-4000-8000-000000000901" in \
        digests["dept"].body
    box, port = mailbox
    email = {"email": EmailChannel(SmtpSettings(host="127.0.0.1", port=port, security="none",
                                                sender="yh@zone.example"))}
    assert set(_digests(factory, "email")) == {"boss"}  # the others have no address
    dispatch(factory, email, AT_0830)
    [message] = box.messages
    assert message["To"] == "boss@e1.example" and message["Subject"] == boss.subject
    assert f"{BASE}/tasks/{tasks[late]}" in message.get_content()


def test_without_a_base_url_the_links_are_paths_and_long_lists_are_cut(factory: sessionmaker[Session],
                                                                       zone: Zone) -> None:
    with transaction(factory) as s:
        _hazard(factory, zone, None)
        for n in range(LIST_LENGTH + 5):
            _review(s, zone, 700 + n, None)
    send_digests(factory, AT_0830, None)
    body = _digests(factory)["dept"].body
    assert f"待我审核（{LIST_LENGTH + 5}）" in body and body.count("  /tasks/") == LIST_LENGTH
    assert "- 另有 5 项，见待办\n  /inbox?review=1" in body


@pytest.mark.parametrize(("moment", "due"), [
    (datetime(2026, 12, 3, 0, 29, tzinfo=UTC), None),  # 08:29: not yet
    (datetime(2026, 12, 3, 0, 30, tzinfo=UTC), date(2026, 12, 3)),
    (datetime(2026, 12, 3, 15, 59, tzinfo=UTC), date(2026, 12, 3)),  # 23:59 the same day: the catch-up
    (datetime(2026, 12, 5, 3, 0, tzinfo=UTC), None),  # Saturday
    (datetime(2026, 10, 10, 3, 0, tzinfo=UTC), date(2026, 10, 10)),  # Saturday worked (调休)
    (datetime(2026, 10, 1, 3, 0, tzinfo=UTC), None),  # National Day, a Thursday
])
def test_the_digest_is_due_from_0830_on_working_days_of_the_holiday_table(
        factory: sessionmaker[Session], zone: Zone, moment: datetime, due: date | None) -> None:
    _hazard(factory, zone, "2026-09-01")
    run = send_digests(factory, moment, None)
    assert run.day == due and (run.sent > 0) is (due is not None)
    with transaction(factory):  # the holiday table is read in a transaction
        assert digest_day(moment) == due


def test_once_per_person_and_day_across_two_schedulers_and_a_restart(factory: sessionmaker[Session],
                                                                     zone: Zone) -> None:
    """Two schedulers at 08:30 at once, then a restart's catch-up at 10:00: one digest each; the next
    working day a new one; never one for a past day."""
    _hazard(factory, zone, "2026-12-01")
    _set_email(factory, zone.principal, "boss@e1.example")
    runs: list = []
    threads = [threading.Thread(target=lambda: runs.append(send_digests(factory, AT_0830, None))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(run.sent for run in runs) == 2  # boss and safety
    again = send_digests(factory, datetime(2026, 12, 3, 2, 0, tzinfo=UTC), None)
    assert (again.sent, again.already) == (0, 2)
    with transaction(factory) as s:
        counts = dict(s.execute(select(Notice.channel, func.count()).where(Notice.kind == "digest")
                                .group_by(Notice.channel)).all())
    assert counts == {"in_app": 2, "email": 1}
    assert send_digests(factory, datetime(2026, 12, 4, 0, 30, tzinfo=UTC), None).sent == 2
    with transaction(factory) as s:
        keys = set(s.scalars(select(Notice.idempotency_key).where(Notice.recipient_user_id == zone.principal.id)))
    assert keys == {f"digest:2026-12-0{d}:u{zone.principal.id}:{c}" for d in (3, 4) for c in ("in_app", "email")}


def test_held_notices_are_rolled_into_the_digest_and_marked_digested(factory: sessionmaker[Session],
                                                                     zone: Zone) -> None:
    """The daily cap's held notices (one event held on two channels is listed once) make a digest even
    without open work; they become "digested"; a disabled person's held notice stays held."""
    hazard_id = _hazard(factory, zone, "2026-12-20")
    with transaction(factory) as s:
        s.execute(update(User).where(User.id == zone.town.id).values(active=False))
        s.add_all([Notice(idempotency_key=f"cap:{n}:{c}", channel=c, kind="overdue",
                          recipient_org_id=zone.enterprise_id,
                          recipient_user_id=zone.safety_officer.id if n < 2 else zone.town.id,
                          hazard_id=hazard_id, subject=f"隐患整改已逾期：第 {n} 条", body="…", created_at=AT_0830,
                          status="held") for n in range(3) for c in ("email", "sms")])
    send_digests(factory, AT_0830, BASE)
    body = _digests(factory)["safety"].body
    assert "今日暂存的通知（4）" in body and body.count("- 隐患整改已逾期：第 0 条") == 1
    assert f"  {BASE}/hazards/{hazard_id}" in body
    with transaction(factory) as s:
        statuses = dict(s.execute(select(Notice.idempotency_key, Notice.status).where(
            Notice.idempotency_key.like("cap:%"))).all())
    assert {k: v for k, v in statuses.items() if v == "digested"}.keys() == {"cap:0:email", "cap:0:sms",
                                                                            "cap:1:email", "cap:1:sms"}
    assert statuses["cap:2:sms"] == "held" and set(_digests(factory)) == {"safety"}


def test_overseers_get_their_units_counts(factory: sessionmaker[Session], zone: Zone) -> None:
    """The department sees E1 (its sector), the other department E2: open, due today, overdue, escalated."""
    first, second, _ = (_hazard(factory, zone, None) for _ in range(3))
    with transaction(factory) as s:
        s.execute(update(Hazard).where(Hazard.id == first).values(rectification_deadline=date(2026, 12, 1),
                                                                  escalated_at=AT_0830))
        s.execute(update(Hazard).where(Hazard.id == second).values(rectification_deadline=DAY))
    send_digests(factory, AT_0830, None)
    digests = _digests(factory)
    assert ("未闭环 3 · 今日到期 1 · 已逾期 1 · 已升级督办 1\n  /ledger?overdue=1\n"
            "- E1单位：未闭环 3 · 已逾期 1 · 已升级 1") in digests["dept"].body
    assert "dept2" not in digests  # E2 has nothing pressing


def test_my_digest_is_on_my_notices_page_and_not_on_my_colleagues(factory: sessionmaker[Session], zone: Zone,
                                                                    tmp_path: Path) -> None:
    _hazard(factory, zone, "2026-12-01", "楼梯<script>x</script>")
    with transaction(factory) as s:  # a name that looks like a link line stays text
        s.execute(update(User).where(User.id == zone.principal.id).values(display_name="  https://evil.example"))
    send_digests(factory, AT_0830, None)
    app = make_app(factory, tmp_path, AT_0830)
    boss, safety = app.test_client(), app.test_client()
    sign_in(boss, "boss")
    sign_in(safety, "safety")
    with transaction(factory) as s:  # the safety officer's digest is taken away: only the principal's is left
        s.execute(update(Notice).where(Notice.recipient_user_id == zone.safety_officer.id).values(
            recipient_user_id=zone.principal.id, idempotency_key="moved"))
    page = boss.get("/notices").get_data(as_text=True)
    assert page.count("每日待办摘要 2026-12-03") == 2 and "<script>x" not in page
    assert '<a href="/tasks/' in page and 'href="https://evil' not in page
    assert "每日待办摘要" not in safety.get("/notices").get_data(as_text=True)


def test_the_cli_sends_todays_digest_with_progress(factory: sessionmaker[Session], zone: Zone,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow_app import cli

    _hazard(factory, zone, "2026-12-01")
    monkeypatch.setattr(cli.Context, "factory", factory)
    runner = CliRunner()
    done = runner.invoke(cli.main, ["digest", "--now", "2026-12-03T10:00:00+08:00"])
    assert done.exit_code == 0, done.output
    assert "digest 2026-12-03: 2 sent now" in done.output and "people" in done.output
    early = runner.invoke(cli.main, ["digest", "--now", "2026-12-05"])
    assert early.exit_code != 0 and "08:30" in early.output


def test_the_digest_counts_my_tasks_as_the_home_page_and_inbox_do(factory: sessionmaker[Session],
                                                                   zone: Zone) -> None:
    """Claimed by a colleague: not mine; claimed by me or by a colleague I stand in for today: mine; a
    completed task is nobody's. The digest's overdue and due-today figures match the home page's tiles."""
    from workflow_app.services.home import task_counts
    from workflow_app.store.models import Delegation

    _hazard(factory, zone, None)
    with transaction(factory) as s:
        colleague, absent = (User(username=name, display_name=name, role="department", password_hash="x",
                                  organisation_id=zone.department.organisation_id) for name in ("c1", "c2"))
        s.add_all([colleague, absent])
        s.flush()
        s.add(Delegation(user_id=absent.id, substitute_id=zone.department.id, starts_on=DAY, ends_on=DAY,
                         reason="出差", created_at=AT_0830))
        for number, (due, extra) in enumerate([("2026-12-01", {}), ("2026-12-01", {"assignee_id": colleague.id}),
                                                ("2026-12-02", {"assignee_id": zone.department.id}),
                                                ("2026-12-03", {"assignee_id": absent.id}),
                                                ("2026-12-03", {"completed_at": AT_0830})]):
            _review(s, zone, 800 + number, due)
            if extra:
                s.flush()
                s.execute(update(InboxTask).where(
                    InboxTask.task_id == f"00000000-0000-4000-8000-{800 + number:012d}").values(**extra))
    send_digests(factory, AT_0830, None)
    with transaction(factory) as s:
        department = s.get(User, zone.department.id)
        counts = task_counts(s, department, DAY)
    assert counts.overdue == 2
    assert _digests(factory)["dept"].subject == "每日待办摘要 2026-12-03：逾期 2 · 今日到期 1 · 待审核 0"


def test_the_scheduler_sends_at_0830_shanghai_and_catches_up_at_start(factory: sessionmaker[Session], zone: Zone,
                                                                      tmp_path: Path) -> None:
    """The cron job's next run is 08:30 Shanghai; the start-up job is due at once; both run the digest job,
    which the second time finds everyone served."""
    from workflow_app.config import Settings
    from workflow_app.scheduling import Shutdown, build_scheduler, digest_job

    settings = Settings(database_url="unused://", secret_key="s", bpmn_dir=tmp_path, instance_dir=tmp_path,
                        secure_cookies=False, base_url=BASE)
    scheduler = build_scheduler(settings, factory, blocking=False, shutdown=Shutdown())
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"digest", "digest_catch_up"} <= set(jobs)
    assert str(jobs["digest"].trigger) == "cron[hour='8', minute='30']"
    assert str(jobs["digest"].trigger.timezone) == "Asia/Shanghai"
    _hazard(factory, zone, "2026-12-01")
    work = digest_job(factory, BASE)
    assert work(datetime(2026, 12, 3, 3, 0, tzinfo=UTC)) == 2  # 11:00: the catch-up
    assert work(datetime(2026, 12, 3, 3, 1, tzinfo=UTC)) == 0
    assert BASE in _digests(factory)["boss"].body
