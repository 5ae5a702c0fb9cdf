"""Notices leave through real channels: an SMTP server on loopback and a local webhook
receiver; delivered once, retried with backoff when a channel fails, then parked."""

from __future__ import annotations

from datetime import timedelta

from conftest import T0
from helpers import PLAN, complete, report
from sqlalchemy import select

from workflow_app.config import SmtpSettings
from workflow_app.services.channels import EmailChannel, WebhookChannel
from workflow_app.services.dispatch import MAX_ATTEMPTS, dispatch, retry_delay, retry_parked
from workflow_app.services.sweep import sweep
from workflow_app.store.database import transaction
from workflow_app.store.models import Notice, Organisation

pytest_plugins = ["notice_support"]  # the mailbox and receiver fixtures
OVERDUE = T0.replace(month=11, day=20, hour=16)  # midnight after the PLAN deadline, Shanghai


def _channels(smtp_port: int) -> dict:
    return {"email": EmailChannel(SmtpSettings(host="127.0.0.1", port=smtp_port, security="none",
                                               sender="yh@zone.example")),
            "webhook": WebhookChannel(timeout=5)}


def _overdue_hazard(factory, zone, email: str | None, webhook: str | None) -> int:
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).email = email
        s.get(Organisation, zone.department.organisation_id).webhook_url = webhook
    hid = report(factory, zone.principal, zone.enterprise_id, T0)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    sweep(factory, OVERDUE)
    return hid


def _statuses(factory) -> dict[str, str]:
    with transaction(factory) as s:
        return {n.channel: n.status for n in s.scalars(select(Notice).where(Notice.kind == "overdue"))}


def test_overdue_notice_goes_by_email_and_webhook_exactly_once(factory, zone, mailbox, receiver):
    box, port = mailbox
    url = f"http://127.0.0.1:{receiver.server_port}/robot"
    _overdue_hazard(factory, zone, "safety@e1.example", url)
    assert _statuses(factory) == {"in_app": "sent", "email": "pending", "webhook": "pending"}
    report_ = dispatch(factory, _channels(port), OVERDUE)
    assert len(report_.sent) == 3 and not report_.retrying
    assert _statuses(factory) == {"in_app": "sent", "email": "sent", "webhook": "sent"}
    subjects = sorted(str(m["Subject"]) for m in box.messages)  # the reminder and the overdue notice
    assert len(subjects) == 2 and "隐患整改已逾期" in subjects[1] and "即将到期" in subjects[0]
    assert all(m["To"] == "safety@e1.example" and m["X-Idempotency-Key"].endswith(":email") for m in box.messages)
    [robot] = receiver.bodies
    assert robot["msgtype"] == "markdown" and "隐患整改已逾期" in robot["markdown"]["content"]
    assert robot["markdown"]["text"] == robot["markdown"]["content"] and robot["_header_key"].endswith(":webhook")
    again = dispatch(factory, _channels(port), OVERDUE + timedelta(hours=1))
    assert again.sent == [] and len(box.messages) == 2 and len(receiver.bodies) == 1


def test_a_title_cannot_plant_markdown_in_the_robot_message(factory, zone, mailbox, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/robot"
    with transaction(factory) as s:
        s.get(Organisation, zone.department.organisation_id).webhook_url = url
    hostile = '[领奖](http://evil.example) <font color="warning">紧急</font> **粗体** # 标题'
    hid = report(factory, zone.principal, zone.enterprise_id, T0, title=hostile)
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    sweep(factory, OVERDUE)
    dispatch(factory, _channels(mailbox[1]), OVERDUE)
    [robot] = receiver.bodies
    content = robot["markdown"]["content"]
    assert "领奖" in content and "evil.example" in content and content.startswith("### ")
    assert not any(mark in content for mark in ("](", "[", "<font", "**", "# 标题"))


def test_a_title_with_line_breaks_cannot_add_mail_headers(factory, zone, mailbox):
    box, port = mailbox
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).email = "safety@e1.example"
    hid = report(factory, zone.principal, zone.enterprise_id, T0, title="报警器失效\r\nBcc: spy@evil.example")
    complete(factory, zone.principal, hid, PLAN, T0)
    complete(factory, zone.department, hid, {"review_decision": "approve", "review_opinion": "同意"}, T0)
    sweep(factory, OVERDUE)
    sent = dispatch(factory, _channels(port), OVERDUE)
    assert not sent.retrying and len(box.messages) == 2
    for message in box.messages:
        assert message["Bcc"] is None and message["To"] == "safety@e1.example"
        assert "报警器失效 Bcc: spy@evil.example" in str(message["Subject"])


def test_a_failing_channel_is_retried_with_backoff_then_parked_then_retried_by_hand(factory, zone, mailbox,
                                                                                   receiver):
    _, port = mailbox
    receiver.status = 500
    _overdue_hazard(factory, zone, None, f"http://127.0.0.1:{receiver.server_port}/robot")
    moment = OVERDUE
    for attempt in range(1, MAX_ATTEMPTS):
        assert len(dispatch(factory, _channels(port), moment).retrying) == 1
        assert dispatch(factory, _channels(port), moment).retrying == []  # not before its next attempt
        moment += retry_delay(attempt) + timedelta(seconds=5)  # counted from the failure, just after `moment`
    assert len(dispatch(factory, _channels(port), moment).parked) == 1
    assert _statuses(factory)["webhook"] == "parked"
    assert len(receiver.bodies) == MAX_ATTEMPTS
    with transaction(factory) as s:
        parked = s.scalars(select(Notice).where(Notice.status == "parked")).one()
        assert "500" in (parked.last_error or "")
        assert retry_parked(s) == 1
    receiver.status = 200
    assert len(dispatch(factory, _channels(port), moment).sent) == 1
    assert _statuses(factory)["webhook"] == "sent"


def test_email_without_smtp_settings_is_retried_not_lost(factory, zone):
    _overdue_hazard(factory, zone, "safety@e1.example", None)
    channels = {"email": EmailChannel(SmtpSettings(host="")), "webhook": WebhookChannel()}
    result = dispatch(factory, channels, OVERDUE)
    assert len(result.retrying) == 2  # the reminder and the overdue notice to the enterprise
    with transaction(factory) as s:
        for notice in s.scalars(select(Notice).where(Notice.channel == "email")):
            assert notice.status == "pending" and "not configured" in (notice.last_error or "")
