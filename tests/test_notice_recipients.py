"""A hazard's notices reach the people who can act, by name, once each: the claimant, the named 整改责任人,
the principal and safety officer for overdue and escalation, the escalated department's staff; through
their chosen channels, SMS kept out of the night, a daily cap holding the rest; who got what on the history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0
from helpers import PLAN, complete, open_task, report
from sqlalchemy import select
from web_support import csrf, make_app, sign_in
from werkzeug.security import generate_password_hash

from workflow_app.config import SmtpSettings
from workflow_app.services import inbox, notice_centre
from workflow_app.services.channels import EmailChannel
from workflow_app.services.dispatch import dispatch
from workflow_app.services.duties import open_due_duties
from workflow_app.services.notice_recipients import account_named
from workflow_app.services.personal_notices import NoticePolicy, sms_not_before
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import HELD, AuditEntry, Notice, NoticePreference, Organisation, User

pytest_plugins = ["notice_support"]  # the mailbox fixture
OVERDUE = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # midnight after PLAN's deadline, Shanghai
ESCALATION = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # five working days later, 09:00 Shanghai
SMS = NoticePolicy(sms_configured=True)


def _person(factory, username: str, display_name: str, org_id: int, role: str = "enterprise", **extra) -> int:
    with transaction(factory) as s:
        user = User(username=username, display_name=display_name, role=role, organisation_id=org_id,
                    password_hash=generate_password_hash("pw"), **extra)
        s.add(user)
        s.flush()
        return user.id


def _rectifying(factory, zone) -> int:
    """A major hazard whose plan names 王五 and whose rectification waits for the enterprise."""
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    return hid


def _personal(factory, kind: str) -> dict[tuple[int, str], Notice]:
    with transaction(factory) as s:
        return {(n.recipient_user_id, n.channel): n for n in s.scalars(select(Notice).where(
            Notice.kind == kind, Notice.recipient_user_id.is_not(None)))}


def _contacts(factory, zone, **profile) -> None:
    with transaction(factory) as s:
        enterprise = s.get(Organisation, zone.enterprise_id)
        for name, value in profile.items():
            setattr(enterprise, name, value)
        s.get(User, zone.principal.id).email = "boss@e1.example"


def test_overdue_reaches_each_named_person_once_and_their_own_mailbox(factory, zone, mailbox):
    box, port = mailbox
    _contacts(factory, zone, safety_officer_name="safety", email="office@e1.example")
    wang = _person(factory, "wang5", "王五", zone.enterprise_id, email="wang5@e1.example", phone="13800000001")
    _person(factory, "wang5-e2", "王五", zone.other_enterprise_id, email="namesake@e2.example")  # never crossed to
    hid = _rectifying(factory, zone)
    task_id = open_task(factory, hid).task_id
    with transaction(factory) as s:  # the principal claims the rectification: claimant and principal, one person
        inbox.claim(s, s.get(User, zone.principal.id), task_id, T0)

    sweep(factory, OVERDUE, policy=SMS)

    notices = _personal(factory, "overdue")
    boss, safety = zone.principal.id, zone.safety_officer.id
    assert sorted(notices) == sorted([(boss, "in_app"), (boss, "email"), (safety, "in_app"),
                                      (wang, "in_app"), (wang, "email"), (wang, "sms")])
    assert notices[(wang, "sms")].idempotency_key.endswith(f":u{wang}:sms")
    assert notices[(wang, "sms")].next_attempt_at == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # quiet till 07:00
    sent = dispatch(factory, {"email": EmailChannel(SmtpSettings(host="127.0.0.1", port=port, security="none",
                                                                 sender="yh@zone.example"))}, OVERDUE)
    assert len(sent.sent) == 3 * 2  # the reminder and the overdue notice: to the enterprise, boss and 王五
    overdue_to = sorted(str(m["To"]) for m in box.messages if "已逾期" in str(m["Subject"]))
    assert overdue_to == ["boss@e1.example", "office@e1.example", "wang5@e1.example"]
    assert sweep(factory, OVERDUE, policy=SMS) == [] and len(_personal(factory, "overdue")) == 6


def test_sms_waits_for_seven_unless_it_escalates():
    night = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # 23:00 Shanghai
    assert sms_not_before(night, "overdue") == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 07:00 next morning
    assert sms_not_before(night + timedelta(hours=3), "overdue") == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert sms_not_before(night, "escalation") is None
    assert sms_not_before(datetime(2026, 11, 20, 23, 0, tzinfo=UTC), "overdue") is None  # 07:00 itself
    assert sms_not_before(datetime(2026, 11, 20, 13, 59, tzinfo=UTC), "overdue") is None  # 21:59


def test_escalation_reaches_the_department_staff_at_once_by_sms(factory, zone):
    dept = zone.department.organisation_id
    colleague = _person(factory, "dept-b", "部门乙", dept, role="department", phone="13900000002")
    _person(factory, "dept-gone", "已离职", dept, role="department", phone="13900000003", active=False)
    _rectifying(factory, zone)
    sweep(factory, OVERDUE)
    night = ESCALATION + timedelta(hours=14)  # 23:00 Shanghai
    sweep(factory, night, policy=replace(SMS, daily_cap=0))
    notices = _personal(factory, "escalation")
    people = {user for user, _ in notices}
    # the department's staff, and the principal of the enterprise whose own step is late (the office: nobody)
    assert people == {zone.department.id, colleague, zone.principal.id}
    assert notices[(colleague, "sms")].next_attempt_at is None  # an escalation goes at once, night or not,
    assert notices[(colleague, "sms")].status == "pending"  # and is never held by the daily cap
    assert (zone.other_department.id, "in_app") not in notices


def test_beyond_the_daily_cap_a_personal_email_is_held_not_sent(factory, zone, mailbox):
    box, port = mailbox
    _contacts(factory, zone)
    _rectifying(factory, zone)
    sweep(factory, OVERDUE, policy=NoticePolicy(daily_cap=0))
    notices = _personal(factory, "overdue")
    assert notices[(zone.principal.id, "email")].status == HELD
    assert notices[(zone.principal.id, "in_app")].status == "sent"  # in-app is never capped
    dispatch(factory, {"email": EmailChannel(SmtpSettings(host="127.0.0.1", port=port, security="none"))}, OVERDUE)
    assert box.messages == [] and _personal(factory, "overdue")[(zone.principal.id, "email")].status == HELD


def test_a_name_matches_one_account_of_that_enterprise_or_none(factory, zone):
    twin_a = _person(factory, "li-a", "李四", zone.enterprise_id)
    _person(factory, "li-b", "李四", zone.enterprise_id)
    with transaction(factory) as s:
        assert account_named(s, zone.enterprise_id, "李四") is None  # two namesakes: neither is guessed
        assert account_named(s, zone.enterprise_id, "li-a").id == twin_a
        assert account_named(s, zone.other_enterprise_id, "li-a") is None  # never across organisations
        assert account_named(s, zone.enterprise_id, " ") is None


def test_who_got_what_is_on_the_history_escaped(factory, zone, tmp_path: Path):
    _contacts(factory, zone, name="<b>某企业</b>")
    hid = _rectifying(factory, zone)
    sweep(factory, OVERDUE)
    with transaction(factory) as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "notices_sent",
                                                     AuditEntry.detail["kind"].as_string() == "overdue"))
        assert {"name": "boss姓名", "channels": ["in_app", "email"], "held": []} in entry.detail["recipients"]
    client = make_app(factory, tmp_path, OVERDUE).test_client()
    sign_in(client, "boss")
    page = client.get(f"/hazards/{hid}").get_data(as_text=True)
    assert "boss姓名（站内、邮件）" in page and "&lt;b&gt;某企业&lt;/b&gt;（站内）" in page
    assert "<b>某企业</b>" not in page


def test_a_person_sees_their_own_and_their_organisations_notices_never_a_colleagues(factory, zone):
    _rectifying(factory, zone)
    sweep(factory, OVERDUE)
    with transaction(factory) as s:
        boss, safety = s.get(User, zone.principal.id), s.get(User, zone.safety_officer.id)
        mine = notice_centre.inbox_notices(s, boss)
        assert [n.kind for n in mine].count("overdue") == 1 and mine[0].recipient_user_id == boss.id
        assert all(n.recipient_user_id in (None, boss.id) for n in mine)
        assert all(n.recipient_user_id is None for n in notice_centre.inbox_notices(s, safety))
        unread = notice_centre.unread_count(s, boss)
        assert unread == len(mine) and notice_centre.mark_all_read(s, boss, OVERDUE) == unread
        assert notice_centre.unread_count(s, safety) == 1  # the organisation's overdue notice: boss read his own


def _preferences(factory, user_id: int) -> dict[tuple[str, str], bool]:
    with transaction(factory) as s:
        return {(p.kind, p.channel): p.enabled for p in s.scalars(select(NoticePreference).where(
            NoticePreference.user_id == user_id))}


@pytest.fixture
def sms_client(factory, tmp_path: Path):
    app = make_app(factory, tmp_path, OVERDUE)
    app.extensions["workflow_app"].sms_configured = True
    return app.test_client()


def test_a_person_turns_email_off_for_overdue_and_is_then_not_mailed(factory, zone, sms_client):
    _contacts(factory, zone)
    sign_in(sms_client, "boss")
    page = sms_client.get("/notices/settings").get_data(as_text=True)
    assert 'name="overdue:email" value="1" checked' in page  # the default: e-mail on, having an address
    assert 'name="overdue:sms" value="1" checked' in page  # SMS configured: on for overdue and escalation kinds
    assert 'name="reminder:sms" value="1">' in page and 'name="reminder:email" value="1" checked' in page
    assert "/notices/settings" in sms_client.get("/").get_data(as_text=True)  # on the menu
    ticked = {"csrf_token": csrf(sms_client, "/notices/settings"), "reminder:email": "1", "escalation:sms": "1"}
    assert sms_client.post("/notices/settings", data=ticked).status_code == 302
    chosen = _preferences(factory, zone.principal.id)
    assert chosen[("overdue", "email")] is False and chosen[("reminder", "email")] is True
    assert chosen[("escalation", "sms")] is True and len(chosen) == 2 * 18
    _rectifying(factory, zone)
    sweep(factory, OVERDUE, policy=SMS)
    assert sorted(channel for _, channel in _personal(factory, "overdue")) == ["in_app"]


@pytest.mark.parametrize("forged", [{"overdue:in_app": "1"}, {"nonsense:email": "1"}, {"overdue:fax": "1"},
                                    {"user_id": "1", "overdue:email": "1"}, {"overdue:sms<script>": "1"}])
def test_a_forged_settings_form_is_refused_and_changes_nothing(factory, zone, sms_client, forged):
    sign_in(sms_client, "boss")
    sms_client.post("/notices/settings", data={"csrf_token": csrf(sms_client, "/notices/settings"),
                                               "reminder:email": "1"})
    before = _preferences(factory, zone.principal.id)
    answer = sms_client.post("/notices/settings", data={"csrf_token": csrf(sms_client, "/notices/settings"),
                                                        **forged})
    assert answer.status_code == 400 and "设置未保存" in answer.get_data(as_text=True)
    assert "<script>" not in answer.get_data(as_text=True)
    assert _preferences(factory, zone.principal.id) == before


def test_settings_need_a_csrf_token_and_touch_only_ones_own(factory, zone, sms_client):
    sign_in(sms_client, "safety")
    assert sms_client.post("/notices/settings", data={"reminder:email": "1"}).status_code == 400
    assert sms_client.post("/notices/settings", data={"csrf_token": csrf(sms_client, "/notices/settings")}
                           ).status_code == 302
    assert _preferences(factory, zone.principal.id) == {}  # boss's choices: untouched, still the defaults
    assert len(_preferences(factory, zone.safety_officer.id)) == 36


def test_without_sms_configured_sms_is_neither_offered_nor_accepted(factory, zone, tmp_path: Path):
    client = make_app(factory, tmp_path, OVERDUE).test_client()
    sign_in(client, "boss")
    assert ":sms" not in client.get("/notices/settings").get_data(as_text=True)
    answer = client.post("/notices/settings", data={"csrf_token": csrf(client, "/notices/settings"),
                                                    "overdue:sms": "1"})
    assert answer.status_code == 400 and _preferences(factory, zone.principal.id) == {}


def test_the_settings_page_speaks_english(factory, zone, tmp_path: Path):
    client = make_app(factory, tmp_path, OVERDUE).test_client()
    sign_in(client, "boss")
    client.post("/lang/en", data={"csrf_token": csrf(client, "/notices/settings")})
    page = client.get("/notices/settings").get_data(as_text=True)
    assert "Notification settings" in page and "Rectification overdue" in page


def test_a_public_report_awaiting_triage_names_nobody_of_the_reported_enterprise(factory, zone):
    _contacts(factory, zone, safety_officer_name="safety")
    hid = report(factory, None, zone.enterprise_id, T0, source="public_report")
    task_id = open_task(factory, hid).task_id
    with transaction(factory) as s:  # the office's triage is claimed: its claimant is named
        inbox.claim(s, s.get(User, zone.office.id), task_id, T0)
    fired = sweep(factory, T0 + timedelta(days=30), policy=SMS)
    assert "triage_overdue" in [f.notice for f in fired]
    with transaction(factory) as s:
        named = set(s.scalars(select(Notice.recipient_user_id).where(Notice.recipient_user_id.is_not(None))))
        assert named == {zone.office.id}


def test_a_missed_duty_reaches_the_principal_and_safety_officer_and_its_escalation_the_department_staff(
        factory, zone):
    """Duties name people as hazards do: the enterprise's principal and safety officer when its duty is overdue,
    and, once escalated, the notified department's staff too; nobody of another enterprise."""
    _contacts(factory, zone, safety_officer_name="safety")
    day = date(2023, 7, 1)
    while day <= date(2023, 10, 31):  # the third quarter's 主要负责人带队检查, never done
        now = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        with transaction(factory) as s:
            open_due_duties(s, now)
        sweep(factory, now)
        day += timedelta(days=1)
    overdue, escalation = _personal(factory, "overdue"), _personal(factory, "escalation")
    of_e1 = {kind: {user for (user, _), n in notices.items() if "E1单位" in n.subject}
             for kind, notices in (("overdue", overdue), ("escalation", escalation))}
    assert of_e1["overdue"] == {zone.principal.id, zone.safety_officer.id}
    assert of_e1["escalation"] == {zone.principal.id, zone.safety_officer.id, zone.department.id}
    # E2's missed duties reach its own department's staff (dept2); E2 has no principal or safety officer named
    assert {user for (user, _), n in escalation.items() if "E2单位" in n.subject} == {zone.other_department.id}
    assert zone.outsider.id not in {user for user, _ in [*overdue, *escalation]}
    with transaction(factory) as s:
        boss = s.get(User, zone.principal.id)
        lines = [n for n in notice_centre.inbox_notices(s, boss) if "主要负责人带队检查" in n.subject]
        # one line per event: his own overdue and escalation notices instead of the enterprise's copies
        assert sorted((n.kind, n.recipient_user_id) for n in lines if n.kind != "reminder") == [
            ("escalation", boss.id), ("overdue", boss.id)]
        # who got what is on the duty's history, as on a hazard's
        sent = {entry.detail["kind"]: {r["name"] for r in entry.detail["recipients"]}
                for entry in s.scalars(select(AuditEntry).where(AuditEntry.action == "notices_sent",
                                                                AuditEntry.object_type == "duty"))
                if entry.detail["kind"] != "reminder" and "boss姓名" in {r["name"] for r in entry.detail["recipients"]}}
        assert sent == {"overdue": {"boss姓名", "safety姓名", "E1单位", "D1单位"},
                        "escalation": {"boss姓名", "safety姓名", "dept姓名", "OFFICE单位", "D1单位"}}
